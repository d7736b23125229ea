"""Alembic, driven from code (the CLI, the launcher and the tests use the same entry points)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory


def migrations_dir() -> Path:
    """`migrations/` next to pyproject.toml (the repo, or /app in the Docker image)."""
    env = os.environ.get("TOIT_EMPLOI_MIGRATIONS_DIR")
    if env:
        return Path(env)
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        candidate = base / "migrations"
        if (candidate / "env.py").exists():
            return candidate
    raise RuntimeError("Cannot find the migrations/ folder; set TOIT_EMPLOI_MIGRATIONS_DIR")


def alembic_config(database_url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migration found")
    return head


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Raise when the models and the migrations differ (alembic check)."""
    command.check(alembic_config(database_url))
