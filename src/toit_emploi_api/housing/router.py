"""HTTP endpoints of the housing domain (to be filled in by its issue)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
