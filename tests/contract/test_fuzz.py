"""Schemathesis over every operation of the committed contract, against the ASGI app and a real PostgreSQL.

Every check Schemathesis has runs (server errors, response schema and headers conformance, status code
conformance, negative data rejection, positive data acceptance, ignored auth, …), as an admin and as a partner
worker, `TOIT_FUZZ_EXAMPLES` examples per operation (25 here; `make fuzz`: 200 and the coverage phase, which also
sends every undeclared method and checks `Allow`). `schemathesis.toml` holds the one setting: which statuses a
schema-valid request may get (422 included, for the rules JSON Schema cannot state)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from schemathesis import Case
from schemathesis.config import SchemathesisConfig

from tests.factories import Factory
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.main import create_app
from toit_emploi_api.vocab.roles import Role

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("TOIT_FUZZ_EXAMPLES", "25"))
BASE_URL = "http://testserver"
ROLES = (Role.ADMIN, Role.PARTNER_WORKER)


@pytest.fixture(scope="module")
def fuzz_app(settings: Settings) -> FastAPI:
    """An app of its own: schemathesis drives it from its own event loop thread (its engine's pool lives there)."""
    return create_app(settings)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fuzz_tokens(sessionmaker: Any, settings: Settings) -> dict[Role, str]:
    factory = Factory(sessionmaker, settings)
    return {role: (await factory.user(role)).token for role in ROLES}


# The committed document (tests/foundation checks it is what the app serves): what integrators generate from.
schema = schemathesis.openapi.from_path(
    ROOT / "openapi" / "openapi.json", config=SchemathesisConfig.from_path(ROOT / "schemathesis.toml")
)
# The coverage phase (boundary values, every undeclared method of every path, missing headers…) is thorough and
# slow: `make fuzz` runs it (TOIT_FUZZ_COVERAGE=1) with more examples; `make test` runs the bounded generation.
schema.config.phases.coverage.enabled = os.environ.get("TOIT_FUZZ_COVERAGE") == "1"


FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
    derandomize=True,
    database=None,
)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@FUZZ_SETTINGS
def test_as_admin(case: Case[Any], fuzz_app: FastAPI, fuzz_tokens: dict[Role, str]) -> None:
    case.call_and_validate(app=fuzz_app, base_url=BASE_URL, headers=_auth(fuzz_tokens[Role.ADMIN]))


@schema.parametrize()
@FUZZ_SETTINGS
def test_as_partner_worker(case: Case[Any], fuzz_app: FastAPI, fuzz_tokens: dict[Role, str]) -> None:
    case.call_and_validate(app=fuzz_app, base_url=BASE_URL, headers=_auth(fuzz_tokens[Role.PARTNER_WORKER]))
