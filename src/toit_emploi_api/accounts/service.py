"""Rules for organisations, users and API clients. Flushes only; the request session commits."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.accounts import repository
from toit_emploi_api.accounts.models import ApiClient, Organisation, User
from toit_emploi_api.accounts.passwords import generate_secret, hash_secret_async
from toit_emploi_api.accounts.schemas import (
    ApiClientCreate,
    ApiClientUpdate,
    OrganisationCreate,
    OrganisationUpdate,
    UserCreate,
    UserUpdate,
)
from toit_emploi_api.core import audit
from toit_emploi_api.core.errors import FieldError, ProblemError, ValidationProblemError
from toit_emploi_api.core.resources import PageParams, Slice, found
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.problems import EMAIL_TAKEN, LAST_ADMIN, ORGANISATION_NAME_TAKEN, SELF_LOCKOUT
from toit_emploi_api.vocab.roles import ROLE_ORGANISATION_KIND, Role


async def _audit(
    session: AsyncSession,
    actor: audit.Actor | None,
    action: AuditAction,
    entity_type: str,
    entity_id: uuid.UUID,
    fields: list[str],
    *,
    deactivated: bool = False,
) -> None:
    """Record an account change: the names of the fields sent, never a password, a secret or its hash. A
    deactivation also revokes every token of the account (they stop working at once): recorded as such."""
    await audit.record(session, actor, action, entity_type, entity_id, details={"fields": sorted(fields)})
    if deactivated:
        await audit.record(
            session, actor, AuditAction.AUTH_TOKEN_REVOKED, entity_type, entity_id, details={"cause": "deactivated"}
        )


async def record_user_read(session: AsyncSession, actor: audit.Actor, users: Sequence[User], *, listed: bool) -> None:
    """Staff names and emails went out: the read is recorded with the users shown."""
    action = AuditAction.USER_LIST if listed else AuditAction.USER_READ
    entity_id = None if listed else users[0].id
    await audit.record(session, actor, action, "user", entity_id, details={"ids": [str(u.id) for u in users]})


async def _organisation(session: AsyncSession, organisation_id: uuid.UUID, field: str) -> Organisation:
    org = await repository.get(session, Organisation, organisation_id)
    if org is None:
        raise ValidationProblemError(
            "The organisation does not exist.",
            errors=[FieldError(field=field, message="unknown organisation")],
        )
    return org


def _check_role_fits(role: Role, org: Organisation) -> None:
    expected = ROLE_ORGANISATION_KIND[role]
    if org.kind != expected:
        raise ValidationProblemError(
            f"Role {role.value} belongs to an organisation of kind {expected.value}, not {org.kind.value}.",
            errors=[FieldError(field="role", message=f"requires an organisation of kind {expected.value}")],
        )


async def create_organisation(
    session: AsyncSession, data: OrganisationCreate, *, actor: audit.Actor | None = None
) -> Organisation:
    if await repository.organisation_name_taken(session, data.name):
        raise ProblemError(ORGANISATION_NAME_TAKEN, "An organisation with this name already exists.")
    org = Organisation(name=data.name, kind=data.kind, active=True)
    session.add(org)
    await session.flush()
    await _audit(session, actor, AuditAction.ORGANISATION_CREATE, "organisation", org.id, ["kind", "name"])
    return org


async def update_organisation(
    session: AsyncSession, org: Organisation, data: OrganisationUpdate, *, actor: audit.Actor | None = None
) -> Organisation:
    deactivated = data.active is False and org.active
    if data.active is False and org.active:
        await repository.lock_admins(session)
        if await repository.count_admins(session, excluding_organisation=org.id) == 0:
            raise ProblemError(
                LAST_ADMIN,
                "This organisation holds the last active admins; deactivating it would lock everyone out.",
            )
    if data.name is not None and await repository.organisation_name_taken(session, data.name, exclude=org.id):
        raise ProblemError(ORGANISATION_NAME_TAKEN, "An organisation with this name already exists.")
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(org, key, value)
    await session.flush()
    fields = list(data.model_dump(exclude_unset=True))
    await _audit(
        session, actor, AuditAction.ORGANISATION_UPDATE, "organisation", org.id, fields, deactivated=deactivated
    )
    return org


async def create_user(session: AsyncSession, data: UserCreate, *, actor: audit.Actor | None = None) -> User:
    org = await _organisation(session, data.organisation_id, "organisation_id")
    _check_role_fits(data.role, org)
    if await repository.user_by_email(session, data.email) is not None:
        raise ProblemError(EMAIL_TAKEN, "A user with this email already exists.")
    user = User(
        email=data.email.lower(),
        full_name=data.full_name,
        role=data.role,
        organisation_id=org.id,
        password_hash=await hash_secret_async(data.password),
        active=True,
    )
    session.add(user)
    await session.flush()
    await _audit(session, actor, AuditAction.USER_CREATE, "user", user.id, ["email", "full_name", "password", "role"])
    return user


async def update_user(
    session: AsyncSession,
    user: User,
    data: UserUpdate,
    *,
    acting_user_id: uuid.UUID,
    actor: audit.Actor | None = None,
) -> User:
    changes = data.model_dump(exclude_unset=True)
    fields, deactivated = list(changes), changes.get("active") is False and user.active
    if changes.get("role") is not None:
        org = await _organisation(session, user.organisation_id, "organisation_id")
        _check_role_fits(changes["role"], org)
    new_role = changes.get("role") or Role.ADMIN
    if user.id == acting_user_id and (changes.get("active") is False or new_role != Role.ADMIN):
        raise ProblemError(SELF_LOCKOUT, "You cannot deactivate yourself or remove your own admin role.")
    if user.role == Role.ADMIN and (changes.get("active") is False or new_role != Role.ADMIN):
        await repository.lock_admins(session)  # two admins demoting each other cannot both succeed
        if await repository.count_admins(session, excluding_user=user.id) == 0:
            raise ProblemError(LAST_ADMIN, "This is the last active admin.")
    if changes.get("password"):
        user.password_hash = await hash_secret_async(changes.pop("password"))
    changes.pop("password", None)
    for key, value in changes.items():
        if value is not None:
            setattr(user, key, value)
    await session.flush()
    await _audit(session, actor, AuditAction.USER_UPDATE, "user", user.id, fields, deactivated=deactivated)
    return user


def _no_admin_clients(role: Role | None) -> None:
    if role == Role.ADMIN:
        raise ValidationProblemError(
            "API clients cannot be admins: account management is for named people.",
            errors=[FieldError(field="role", message="admin is not allowed for API clients")],
        )


async def create_api_client(
    session: AsyncSession, data: ApiClientCreate, *, actor: audit.Actor | None = None
) -> tuple[ApiClient, str]:
    _no_admin_clients(data.role)
    org = await _organisation(session, data.organisation_id, "organisation_id")
    _check_role_fits(data.role, org)
    secret = generate_secret()
    client = ApiClient(
        client_id="tec_" + secrets.token_hex(12),
        name=data.name,
        role=data.role,
        organisation_id=org.id,
        secret_hash=await hash_secret_async(secret),
        active=True,
    )
    session.add(client)
    await session.flush()
    await _audit(session, actor, AuditAction.API_CLIENT_CREATE, "api_client", client.id, ["name", "role"])
    return client, secret


async def update_api_client(
    session: AsyncSession, client: ApiClient, data: ApiClientUpdate, *, actor: audit.Actor | None = None
) -> ApiClient:
    changes = data.model_dump(exclude_unset=True)
    fields, deactivated = list(changes), changes.get("active") is False and client.active
    _no_admin_clients(changes.get("role"))
    if changes.get("role") is not None:
        org = await _organisation(session, client.organisation_id, "organisation_id")
        _check_role_fits(changes["role"], org)
    for key, value in changes.items():
        if value is not None:
            setattr(client, key, value)
    await session.flush()
    await _audit(
        session, actor, AuditAction.API_CLIENT_UPDATE, "api_client", client.id, fields, deactivated=deactivated
    )
    return client


async def rotate_api_client_secret(
    session: AsyncSession, client: ApiClient, *, actor: audit.Actor | None = None
) -> str:
    secret = generate_secret()
    client.secret_hash = await hash_secret_async(secret)
    await session.flush()
    await _audit(session, actor, AuditAction.API_CLIENT_SECRET_ROTATE, "api_client", client.id, ["secret"])
    return secret


M = TypeVar("M", Organisation, User, ApiClient)
_NOUNS: dict[type[Organisation] | type[User] | type[ApiClient], str] = {
    Organisation: "organisation",
    User: "user",
    ApiClient: "API client",
}


async def get_or_404(session: AsyncSession, model: type[M], obj_id: uuid.UUID, *, for_update: bool = False) -> M:
    """The organisation, user or API client of this id (locked `FOR UPDATE` when asked), else 404 `not-found`."""
    obj = await repository.get(session, model, obj_id, for_update=for_update)
    return found(obj, f"No {_NOUNS[model]} with this id.")


async def list_page(session: AsyncSession, model: type[M], page: PageParams, sort: str = "created_at") -> Slice[M]:
    """One page of organisations, users or API clients in the `sort` order (oldest first by default)."""
    return await repository.list_page(session, model, page, sort)
