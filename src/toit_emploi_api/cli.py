"""The `toit-emploi` command: serve, worker, migrate, create-organisation, create-user, create-client, list-users,
reset-password, unlock-account, deactivate-user, openapi, retention run."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from toit_emploi_api.core.settings import Settings

T = TypeVar("T")
EMBEDDED_DATABASE = "toit_emploi"


def _database_url(settings: Settings) -> str:
    """DATABASE_URL when set; otherwise the embedded server under the data dir (started on demand)."""
    if settings.database_url:
        return settings.database_url
    from toit_emploi_api.core import embedded

    server = embedded.start(Path(settings.data_dir) / "pg")
    url = embedded.ensure_database(server, EMBEDDED_DATABASE)
    os.environ["DATABASE_URL"] = url  # uvicorn workers and Alembic read the same
    print(f"Embedded PostgreSQL running, data in {Path(settings.data_dir).resolve() / 'pg'}", file=sys.stderr)
    return url


def _settings_with_db() -> Settings:
    from toit_emploi_api.accounts import passwords

    settings = Settings()
    passwords.configure(settings)
    url = _database_url(settings)
    return settings.model_copy(update={"database_url": url})


def _run_db(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from toit_emploi_api.core.database import make_engine, make_sessionmaker

    async def main() -> T:
        engine = make_engine(settings)
        try:
            async with make_sessionmaker(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(main())


def cmd_migrate(args: argparse.Namespace) -> int:
    from toit_emploi_api.accounts.bootstrap import ensure_first_admin
    from toit_emploi_api.core import migrations

    settings = _settings_with_db()
    assert settings.database_url
    migrations.upgrade(settings.database_url)
    print("Database migrated to head.")
    if args.bootstrap_admin:
        if not settings.bootstrap_admin_password:
            print("No first admin created: set TOIT_EMPLOI_BOOTSTRAP_ADMIN_PASSWORD (and _EMAIL).", file=sys.stderr)
            return 0
        created = _run_db(settings, lambda s: ensure_first_admin(s, settings))
        if created is not None:
            print(f"First admin created: {created[0]}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from toit_emploi_api.accounts.bootstrap import ensure_first_admin
    from toit_emploi_api.core import migrations

    settings = _settings_with_db()
    assert settings.database_url
    migrations.upgrade(settings.database_url)
    created = _run_db(settings, lambda s: ensure_first_admin(s, settings))
    if created is not None:
        email, password = created
        print("\n  First admin created:", email, file=sys.stderr)
        if password:
            print("  Generated password (shown once, store it now):", password, "\n", file=sys.stderr)
    print(
        f"\n  API on http://{args.host}:{args.port}  -  docs at http://{args.host}:{args.port}/docs\n",
        file=sys.stderr,
    )
    # uvicorn runs as a child process: Ctrl-C reaches both; the child shuts down gracefully, then this process
    # exits and the embedded server is stopped by its exit hook.
    from toit_emploi_api.core.logging import uvicorn_log_config

    # uvicorn's own lines (the supervisor's too) in our format: a dictConfig file it reads at start.
    log_config = Path(settings.data_dir) / "uvicorn-logging.json"
    log_config.parent.mkdir(parents=True, exist_ok=True)
    log_config.write_text(json.dumps(uvicorn_log_config(settings)), encoding="utf-8")
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "toit_emploi_api.main:create_app",
        "--host", args.host, "--port", str(args.port), "--workers", str(args.workers),
        "--proxy-headers", "--no-access-log", "--log-level", settings.log_level.lower(),
        "--log-config", str(log_config),
    ]  # fmt: skip
    child = subprocess.Popen(command)  # noqa: S603 - fixed command, our own interpreter
    stopping = False

    def stop_child(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        # SIGTERM is graceful for uvicorn, and harmless if a terminal's Ctrl-C already reached it.
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_child)
    signal.signal(signal.SIGINT, stop_child)
    return serve_exit_code(child.wait(), stopping)


def serve_exit_code(child_status: int, stop_requested: bool) -> int:
    """0 when uvicorn ended because we were asked to stop: uvicorn re-raises the signal it caught, so its status is
    -SIGINT or -SIGTERM; anything else is the child's own failure, passed on."""
    if stop_requested and child_status in (0, -signal.SIGINT, -signal.SIGTERM):
        return 0
    return child_status if child_status >= 0 else 128 - child_status


def cmd_worker(args: argparse.Namespace) -> int:
    """Only the background loops (webhook deliveries, …), until SIGTERM or Ctrl-C; as many as you like."""
    from toit_emploi_api import worker
    from toit_emploi_api.core.logging import configure_logging

    settings = _settings_with_db()
    configure_logging(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await worker.run(settings, stop)

    print("Worker running (Ctrl-C to stop).", file=sys.stderr)
    asyncio.run(main())
    return 0


def cmd_create_organisation(args: argparse.Namespace) -> int:
    from toit_emploi_api.accounts import service
    from toit_emploi_api.accounts.schemas import OrganisationCreate
    from toit_emploi_api.vocab.roles import OrganisationKind

    settings = _settings_with_db()
    data = OrganisationCreate(name=args.name, kind=OrganisationKind(args.kind))
    org = _run_db(settings, lambda s: service.create_organisation(s, data))
    print(json.dumps({"id": str(org.id), "name": org.name, "kind": org.kind.value}))
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from toit_emploi_api.accounts import service
    from toit_emploi_api.accounts.schemas import UserCreate
    from toit_emploi_api.vocab.roles import Role

    settings = _settings_with_db()
    password = args.password or os.environ.get("TOIT_EMPLOI_NEW_USER_PASSWORD") or getpass.getpass("Password: ")
    data = UserCreate(
        email=args.email,
        full_name=args.full_name,
        role=Role(args.role),
        organisation_id=args.organisation_id,
        password=password,
    )
    user = _run_db(settings, lambda s: service.create_user(s, data))
    print(json.dumps({"id": str(user.id), "email": user.email, "role": user.role.value}))
    return 0


def cmd_create_client(args: argparse.Namespace) -> int:
    from toit_emploi_api.accounts import service
    from toit_emploi_api.accounts.schemas import ApiClientCreate
    from toit_emploi_api.vocab.roles import Role

    settings = _settings_with_db()
    data = ApiClientCreate(name=args.name, role=Role(args.role), organisation_id=args.organisation_id)
    client, secret = _run_db(settings, lambda s: service.create_api_client(s, data))
    print(json.dumps({"id": str(client.id), "client_id": client.client_id, "client_secret": secret}))
    return 0


def _new_password(args: argparse.Namespace) -> str:
    return args.password or os.environ.get("TOIT_EMPLOI_NEW_USER_PASSWORD") or getpass.getpass("New password: ")


def cmd_list_users(args: argparse.Namespace) -> int:
    from toit_emploi_api.accounts import service

    settings = _settings_with_db()
    rows = _run_db(settings, service.users_with_organisations)
    users = [
        {
            "id": str(user.id),
            "email": user.email,
            "full_name": user.full_name,
            "role": user.role.value,
            "organisation": org.name,
            "active": user.active,
            "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
        }
        for user, org in rows
    ]
    if args.json:
        print(json.dumps(users, ensure_ascii=False, indent=2))
        return 0
    columns = ("email", "role", "organisation", "active", "last_login_at")
    widths = {c: max([len(c), *(len(str(u[c])) for u in users)]) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for u in users:
        print("  ".join(str(u[c] if u[c] is not None else "-").ljust(widths[c]) for c in columns))
    print(f"{len(users)} user(s)", file=sys.stderr)
    return 0


def cmd_reset_password(args: argparse.Namespace) -> int:
    from sqlalchemy.ext.asyncio import AsyncSession

    from toit_emploi_api.accounts import service
    from toit_emploi_api.accounts.schemas import UserUpdate

    settings = _settings_with_db()
    data = UserUpdate(password=_new_password(args))  # the API's rules: 12 to 128 characters

    async def work(session: AsyncSession) -> str:
        user = await service.user_for_command_line(session, args.email)
        await service.update_user(session, user, data, acting_user_id=service.COMMAND_LINE)
        return user.email

    email = _run_db(settings, work)
    print(f"Password changed for {email}; its refresh tokens are revoked (it signs in again).")
    return 0


def cmd_unlock_account(args: argparse.Namespace) -> int:
    from sqlalchemy.ext.asyncio import AsyncSession

    from toit_emploi_api.auth import throttle

    settings = _settings_with_db()
    identifier = throttle.user_identifier(args.email) if args.email else throttle.client_identifier(args.client_id)

    async def work(session: AsyncSession) -> int:
        return await throttle.unlock(session, identifier)

    cleared = _run_db(settings, work)
    print(f"Unlocked: {cleared} failed sign-in counter(s) cleared, from every address.")
    return 0


def cmd_deactivate_user(args: argparse.Namespace) -> int:
    from sqlalchemy.ext.asyncio import AsyncSession

    from toit_emploi_api.accounts import service
    from toit_emploi_api.accounts.schemas import UserUpdate

    settings = _settings_with_db()

    async def work(session: AsyncSession) -> str:
        user = await service.user_for_command_line(session, args.email)
        await service.update_user(session, user, UserUpdate(active=False), acting_user_id=service.COMMAND_LINE)
        return user.email

    email = _run_db(settings, work)
    print(f"Deactivated {email}: its tokens stop working now and its refresh tokens are revoked.")
    return 0


def cmd_retention_run(args: argparse.Namespace) -> int:
    """Anonymise the files due (or, with --dry-run, list them, optionally as of another date); prints JSON."""
    from datetime import date

    from toit_emploi_api.core.database import make_engine, make_sessionmaker
    from toit_emploi_api.privacy import retention

    if args.as_of and not args.dry_run:
        print("error: --as-of is only accepted with --dry-run", file=sys.stderr)
        return 2
    settings = _settings_with_db()
    as_of = date.fromisoformat(args.as_of) if args.as_of else None

    async def main() -> int:
        engine = make_engine(settings)
        try:
            result = await retention.run(make_sessionmaker(engine), settings, as_of=as_of, dry_run=args.dry_run)
        finally:
            await engine.dispose()
        print(result.model_dump_json(indent=2))
        return 3 if result.skipped else 0

    return asyncio.run(main())


def cmd_openapi(args: argparse.Namespace) -> int:
    from toit_emploi_api.openapi_document import render_openapi

    settings = Settings(environment="test", DATABASE_URL="postgresql://unused@localhost/unused")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_openapi(settings), encoding="utf-8")
    print(f"Wrote {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toit-emploi", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="migrate, create the first admin if none, and serve the API")
    p.add_argument("--host", default=os.environ.get("TOIT_EMPLOI_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("TOIT_EMPLOI_PORT", "8000")))
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run the background worker alone (webhook deliveries); several may run")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("migrate", help="apply database migrations (alembic upgrade head)")
    p.add_argument(
        "--bootstrap-admin",
        action="store_true",
        help="then create the first admin if there is none (needs TOIT_EMPLOI_BOOTSTRAP_ADMIN_PASSWORD)",
    )
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("create-organisation", help="create an organisation")
    p.add_argument("--name", required=True)
    p.add_argument("--kind", required=True, choices=["operator", "referral_partner", "landlord", "funder"])
    p.set_defaults(func=cmd_create_organisation)

    roles = ["admin", "service_manager", "paris_referent", "partner_worker", "landlord", "funder"]
    p = sub.add_parser("create-user", help="create a user (password prompted unless --password)")
    p.add_argument("--email", required=True)
    p.add_argument("--full-name", required=True)
    p.add_argument("--role", required=True, choices=roles)
    p.add_argument("--organisation-id", required=True)
    p.add_argument("--password")
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("create-client", help="create an API client; prints its secret once")
    p.add_argument("--name", required=True)
    p.add_argument("--role", required=True, choices=roles)
    p.add_argument("--organisation-id", required=True)
    p.set_defaults(func=cmd_create_client)

    p = sub.add_parser("list-users", help="list every user (email, role, organisation, active, last sign-in)")
    p.add_argument("--json", action="store_true", help="a JSON array, with ids and full names")
    p.set_defaults(func=cmd_list_users)

    p = sub.add_parser(
        "reset-password", help="set a user's password (prompted unless --password); revokes its sign-ins"
    )
    p.add_argument("--email", required=True)
    p.add_argument("--password")
    p.set_defaults(func=cmd_reset_password)

    p = sub.add_parser("unlock-account", help="clear the failed sign-in lock of a user or an API client")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--email")
    who.add_argument("--client-id")
    p.set_defaults(func=cmd_unlock_account)

    p = sub.add_parser("deactivate-user", help="deactivate a user: access ends now, refresh tokens revoked")
    p.add_argument("--email", required=True)
    p.set_defaults(func=cmd_deactivate_user)

    p = sub.add_parser("retention", help="privacy: the retention job (docs/privacy.md)")
    retention_sub = p.add_subparsers(dest="retention_command", required=True)
    p = retention_sub.add_parser("run", help="anonymise the completed/withdrawn files past their retention period")
    p.add_argument("--dry-run", action="store_true", help="change nothing: list what would be anonymised")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="with --dry-run: as if today were this date")
    p.set_defaults(func=cmd_retention_run)

    p = sub.add_parser("openapi", help="write the OpenAPI document")
    p.add_argument("--output", default="openapi/openapi.json")
    p.set_defaults(func=cmd_openapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the CLI reports problems in one line, e.g. a validation error
        from pydantic import ValidationError

        from toit_emploi_api.core.errors import ProblemError

        if isinstance(exc, ProblemError | ValidationError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    raise SystemExit(main())
