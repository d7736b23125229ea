"""HTTP endpoints of the employers domain (to be filled in by its issue)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
