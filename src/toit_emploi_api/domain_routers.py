"""The domain routers mounted by the app, in documentation order. Each domain package owns its router."""

from fastapi import APIRouter

DOMAIN_ROUTERS: list[APIRouter] = []
