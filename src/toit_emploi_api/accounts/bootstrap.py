"""First admin on an empty database (from TOIT_EMPLOI_BOOTSTRAP_ADMIN_EMAIL / _PASSWORD, or generated)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.accounts import repository
from toit_emploi_api.accounts.models import Organisation, User
from toit_emploi_api.accounts.passwords import generate_password, hash_secret_async
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.vocab.roles import OrganisationKind, Role

DEFAULT_ADMIN_EMAIL = "admin@aurore.example"
OPERATOR_NAME = "Aurore"


async def ensure_first_admin(session: AsyncSession, settings: Settings) -> tuple[str, str | None] | None:
    """Create the operator organisation and an admin when no admin exists.

    Returns `(email, generated_password_or_None)` when one was created, else None.
    """
    if await repository.count_admins(session) > 0:
        return None
    org = await repository.organisation_by_name(session, OPERATOR_NAME)
    if org is None:
        org = Organisation(name=OPERATOR_NAME, kind=OrganisationKind.OPERATOR, active=True)
        session.add(org)
        await session.flush()
    email = (settings.bootstrap_admin_email or DEFAULT_ADMIN_EMAIL).strip().lower()
    if await repository.user_by_email(session, email) is not None:
        raise RuntimeError(
            f"There is no active admin, but {email} already exists (deactivated, or not an admin). Set "
            "TOIT_EMPLOI_BOOTSTRAP_ADMIN_EMAIL to a new address to create a fresh admin."
        )
    generated = None if settings.bootstrap_admin_password else generate_password()
    password = settings.bootstrap_admin_password or generated
    assert password is not None
    session.add(
        User(
            email=email,
            full_name="Administrator",
            role=Role.ADMIN,
            organisation_id=org.id,
            password_hash=await hash_secret_async(password),
            active=True,
        )
    )
    await session.flush()
    return email, generated
