"""What every benchmark of `bench/` needs before it measures: a database migrated to head."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from toit_emploi_api.core import embedded, migrations  # noqa: E402


def prepare_database(name: str) -> str:
    """`DATABASE_URL` when set, else database `name` recreated on the embedded server under `.data/bench-pg`;
    migrated to head. Alembic runs its own event loop: call this before `asyncio.run`."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        server = embedded.start(ROOT / ".data" / "bench-pg")
        url = embedded.ensure_database(server, name, recreate=True)
    migrations.upgrade(url)
    return url
