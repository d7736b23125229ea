"""The domain routers mounted by the app, in documentation order. Each domain package owns its router."""

from fastapi import APIRouter

from toit_emploi_api.employers.router import router as employers_router
from toit_emploi_api.households.router import router as households_router
from toit_emploi_api.housing.router import router as housing_router
from toit_emploi_api.pipeline.router import router as pipeline_router
from toit_emploi_api.reference.router import router as reference_router

DOMAIN_ROUTERS: list[APIRouter] = [
    households_router,
    employers_router,
    reference_router,
    housing_router,
    pipeline_router,
]
