"""Schemathesis over every operation of the committed contract, against the ASGI app and a real PostgreSQL.

Every check Schemathesis has runs (server errors, response schema and headers conformance, status code
conformance, negative data rejection, positive data acceptance, ignored auth, …), as an admin and as a partner
worker (each generated case is sent as both), `TOIT_FUZZ_EXAMPLES` generated examples per operation beside the
document's own (15 here: the fuzz is a third of `make test`'s time, and 25 kept the suite well over its 120 s on
the 2-core machine, 20 at its edge; `make fuzz`: 200 and the coverage phase, which also sends every undeclared
method and checks `Allow`). `schemathesis.toml` holds the one setting: which statuses a schema-valid request may
get (422 included, for the rules JSON Schema cannot state)."""

from __future__ import annotations

import json
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
MAX_EXAMPLES = int(os.environ.get("TOIT_FUZZ_EXAMPLES", "15"))
BASE_URL = "http://testserver"
ROLES = (Role.ADMIN, Role.PARTNER_WORKER)


@pytest.fixture(scope="module")
def fuzz_app(settings: Settings) -> FastAPI:
    """An app of its own: schemathesis drives it from its own event loop thread (its engine's pool lives there),
    and runs its lifespan: without the webhook worker's loops, which would poll the database beside every case
    (the worker has tests of its own, tests/integration)."""
    return create_app(settings.model_copy(update={"worker_in_serve": False, "retention_scheduler": False}))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fuzz_tokens(sessionmaker: Any, settings: Settings) -> dict[Role, str]:
    factory = Factory(sessionmaker, settings)
    return {role: (await factory.user(role)).token for role in ROLES}


@schemathesis.serializer("text/csv", "application/x-ndjson", "application/jsonl")
def _text_body(ctx: Any, value: Any) -> bytes:
    """Bodies declared as a text document (the CSV and JSON-lines imports): the generated string as is; anything
    else negative testing generates, as its JSON text (which the import must refuse with a 4xx, never a 500)."""
    if isinstance(value, bytes):
        return value
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


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


# One test per operation: each generated case is sent as an admin, then as a partner worker. Generating a case
# costs more than sending it (Hypothesis and the schema's strategies run in this process), so both roles share it:
# each role still gets MAX_EXAMPLES requests per operation and every check, from half the generation.
@schema.parametrize()
@FUZZ_SETTINGS
def test_every_role(case: Case[Any], fuzz_app: FastAPI, fuzz_tokens: dict[Role, str]) -> None:
    for role in ROLES:
        case.call_and_validate(app=fuzz_app, base_url=BASE_URL, headers=_auth(fuzz_tokens[role]))
