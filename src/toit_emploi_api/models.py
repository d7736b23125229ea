"""Imports every domain's tables so that Alembic and the tests see the whole schema."""

from toit_emploi_api.accounts import models as accounts_models
from toit_emploi_api.core.models import Base

__all__ = ["Base", "accounts_models"]
