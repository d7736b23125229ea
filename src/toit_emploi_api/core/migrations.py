"""Alembic, driven from code (the CLI, the launcher and the tests use the same entry points)."""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported by the functions that run migrations, not at import: the API server needs only the head's
# name (for /readyz), and importing Alembic (with Mako and its dialect modules) costs each worker about 10 MB.


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
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


def _assigned(path: Path, names: tuple[str, ...]) -> dict[str, object]:
    """The module-level literals assigned to `names` in a migration file (read, not imported)."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target: ast.expr
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            found[target.id] = ast.literal_eval(value)
    return found


def head_revision() -> str:
    """The one head of the migration chain, read from the files' `revision` / `down_revision` (what Alembic's
    `ScriptDirectory.get_current_head()` answers; a test holds them equal)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((migrations_dir() / "versions").glob("*.py")):
        values = _assigned(path, ("revision", "down_revision"))
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str):
            continue
        revisions.add(revision)
        parents.update([down] if isinstance(down, str) else list(down) if isinstance(down, tuple | list) else [])
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"expected one migration head, found {sorted(heads) or 'none'}")
    return heads.pop()


def upgrade(database_url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Raise when the models and the migrations differ (alembic check)."""
    from alembic import command

    command.check(alembic_config(database_url))
