"""Imports every domain's tables so that Alembic and the tests see the whole schema."""

from toit_emploi_api.accounts import models as accounts_models
from toit_emploi_api.core import audit as audit_models
from toit_emploi_api.core import (
    idempotency_models,  # noqa: F401 - registers the idempotency_keys table
    imports_models,  # noqa: F401 - registers the imports table
)
from toit_emploi_api.core import outbox as outbox_models
from toit_emploi_api.core.models import Base
from toit_emploi_api.employers import models as employers_models
from toit_emploi_api.households import models as households_models
from toit_emploi_api.housing import models as housing_models
from toit_emploi_api.integration.webhooks import models as webhooks_models
from toit_emploi_api.matching import models as matching_models
from toit_emploi_api.pipeline import models as pipeline_models
from toit_emploi_api.reference import models as reference_models
from toit_emploi_api.reports import models as reports_models

__all__ = [
    "Base",
    "accounts_models",
    "audit_models",
    "employers_models",
    "households_models",
    "housing_models",
    "matching_models",
    "outbox_models",
    "pipeline_models",
    "reference_models",
    "reports_models",
    "webhooks_models",
]
