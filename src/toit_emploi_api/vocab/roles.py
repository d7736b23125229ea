"""Roles and organisation kinds (docs/domain.md, "Roles")."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SERVICE_MANAGER = "service_manager"
    PARIS_REFERENT = "paris_referent"
    PARTNER_WORKER = "partner_worker"
    LANDLORD = "landlord"
    FUNDER = "funder"


class OrganisationKind(StrEnum):
    OPERATOR = "operator"
    REFERRAL_PARTNER = "referral_partner"
    LANDLORD = "landlord"
    FUNDER = "funder"


# Which organisation kind each role belongs to: a partner worker works for a referring partner, etc.
ROLE_ORGANISATION_KIND: dict[Role, OrganisationKind] = {
    Role.ADMIN: OrganisationKind.OPERATOR,
    Role.SERVICE_MANAGER: OrganisationKind.OPERATOR,
    Role.PARIS_REFERENT: OrganisationKind.OPERATOR,
    Role.PARTNER_WORKER: OrganisationKind.REFERRAL_PARTNER,
    Role.LANDLORD: OrganisationKind.LANDLORD,
    Role.FUNDER: OrganisationKind.FUNDER,
}

ALL_ROLES: frozenset[Role] = frozenset(Role)
