"""Rules of households and members: what each caller reads, member validation, the audit of reads and writes.

Flushes only (the request's session commits). Who sees and writes what is `households.access`; SQL is
`households.repository`; what the pipeline knows of members comes through `households.ports`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from toit_emploi_api.auth import repository as auth_repository
from toit_emploi_api.auth.policy import Principal, TokenCaller
from toit_emploi_api.core import audit, clock, idempotency, outbox
from toit_emploi_api.core.csv import stream_rows
from toit_emploi_api.core.errors import (
    FieldError,
    ForbiddenError,
    ProblemError,
    ValidationProblemError,
)
from toit_emploi_api.core.resources import (
    CursorPageParams,
    Page,
    PageParams,
    encode_cursor,
    etag_for,
    found,
)
from toit_emploi_api.households import ports, reads, repository
from toit_emploi_api.households.access import check_members_readable, scope_of, sees_status_only
from toit_emploi_api.households.events import household_event
from toit_emploi_api.households.models import Household, Member
from toit_emploi_api.households.schemas import (
    MAX_MEMBERS,
    PROFILE_FIELDS,
    DuplicatePair,
    HouseholdCreate,
    HouseholdFilters,
    HouseholdOut,
    HouseholdSort,
    HouseholdStaffOut,
    HouseholdStatusOut,
    HouseholdUpdate,
    MemberCreate,
    MemberOut,
    MemberUpdate,
)
from toit_emploi_api.reference.text import fold
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.events import EventType
from toit_emploi_api.vocab.problems import (
    HOUSEHOLD_MEMBERS_LIMIT,
    HOUSEHOLD_NOT_IN_DIAGNOSTIC,
    LAST_PROFILED_ADULT,
    MEMBER_HAS_PLACEMENTS,
)
from toit_emploi_api.vocab.roles import OrganisationKind, Role
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import MemberRole

# Roles that may write the service manager's notes and choose or change the referring organisation.
MANAGER_ROLES = frozenset({Role.ADMIN, Role.SERVICE_MANAGER})
REFERRING_KINDS = frozenset({OrganisationKind.REFERRAL_PARTNER.value, OrganisationKind.OPERATOR.value})
_NOT_NULL_MEMBER_FIELDS = ("first_name", "last_name", "birth_date", "role")
_TEXT_FIELDS = ("needs_constraints", "consent_scope", "manager_notes", "qualifications")


def household_location(household_id: uuid.UUID) -> str:
    """The household's URL (its creation's `Location`)."""
    return f"/api/v1/households/{household_id}"


def member_location(member: Member) -> str:
    """The member's URL (its creation's `Location`)."""
    return f"{household_location(member.household_id)}/members/{member.id}"


async def _audit_household(
    session: AsyncSession,
    principal: Principal,
    action: AuditAction,
    household: Household,
    details: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session, principal, action, "household", household.id, household_id=household.id, details=details
    )


async def _audit_member(
    session: AsyncSession,
    principal: Principal,
    action: AuditAction,
    household: Household,
    member: Member,
    details: dict[str, Any] | None = None,
) -> None:
    await audit.record(session, principal, action, "member", member.id, household_id=household.id, details=details)


def _contact_by_manager(principal: Principal, household: Household) -> None:
    """The service manager's change of the file (its members included) is a contact: privacy's retention period
    counts from the last one."""
    if principal.role in MANAGER_ROLES:
        household.last_contact_date = max(household.last_contact_date or clock.today(), clock.today())


def _touch(household: Household) -> None:
    """Force an UPDATE of the household row, so its version (and ETag) changes with its members.

    Also used on the household's own updates: a Python value keeps `updated_at` readable after the flush."""
    household.updated_at = clock.now()


# --- output ------------------------------------------------------------------------------------------------
def _days_in_stage(household: Household) -> int:
    return clock.days_since(household.stage_entered_at)


def _fields(view: type[BaseModel], row: object, derived: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of an output model: the derived ones as given, the others read from the row."""
    return {name: derived[name] if name in derived else getattr(row, name) for name in view.model_fields}


def member_out(member: Member) -> MemberOut:
    derived = {"is_adult": member.role is not MemberRole.CHILD, "rome_codes": list(member.rome_codes or [])}
    return MemberOut(**_fields(MemberOut, member, derived))


def household_out(
    principal: Principal, household: Household, *, staff_view: bool = True
) -> HouseholdOut | HouseholdStatusOut:
    """The status view for partner workers after diagnostic; the partner-safe view for partner workers (and in
    lists); the staff view with notes otherwise."""
    view: type[HouseholdOut | HouseholdStatusOut]
    if sees_status_only(principal, household):
        view = HouseholdStatusOut
    elif staff_view and principal.role is not Role.PARTNER_WORKER:
        view = HouseholdStaffOut
    else:
        view = HouseholdOut
    children = sum(1 for m in household.members if m.role is MemberRole.CHILD)
    derived: dict[str, Any] = {
        "days_in_stage": _days_in_stage(household),
        "adult_count": len(household.members) - children,
        "children_count": children,
    }
    if "members" in view.model_fields:
        derived["members"] = [member_out(m) for m in household.members]
    return view(**_fields(view, household, derived))


# --- reads (each one recorded in the audit trail: names and birth dates went out) ----------------------------
async def list_households(
    caller: TokenCaller,
    filters: HouseholdFilters,
    sort: HouseholdSort,
    page: CursorPageParams,
) -> str:
    """One page of the households the caller may see, as the JSON of a `CursorPage[HouseholdListItem]` (built by
    PostgreSQL; list items never carry the notes): one audit event per call, with the households shown and the
    names of the filters used; `next_cursor` when more follow.

    One statement (`households.reads`): the caller's account, the page, the total and the audit row."""
    raw_after = page.after(sort.value)
    try:
        after = None if raw_after is None else reads.parse_after(sort, raw_after)
    except ValueError:
        raise ValidationProblemError(
            "The cursor is not one this API made: send back a next_cursor unchanged.",
            errors=[FieldError(field="query.cursor", message="not a cursor of this list")],
        ) from None
    claims = caller.claims
    row = await reads.list_households(
        caller.database,
        claims.subject_kind,
        claims.subject_id,
        caller.allowed,
        filters,
        sort,
        page,
        AuditAction.HOUSEHOLD_LIST.value,
        after,
        session_id=claims.session_id,
    )
    caller.principal_of(row.subject)
    next_cursor = None if row.next_key is None else encode_cursor(sort.value, row.next_key)
    return (
        f'{{"items":{row.items},"total":{row.total},"limit":{page.limit},"offset":{page.offset},'
        f'"next_cursor":{"null" if next_cursor is None else chr(34) + next_cursor + chr(34)}}}'
    )


@dataclass(frozen=True)
class CsvExport:
    header: list[str]
    rows: AsyncIterator[Sequence[Any]]


async def export_households(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    caller: TokenCaller,
    filters: HouseholdFilters,
    sort: HouseholdSort,
) -> CsvExport:
    """Every household of the list (same filters and order, no pagination) as CSV rows streamed from their own
    read-only snapshot: the staff's columns, or a partner worker's status view of its own households. Recorded like
    the list: one `household.list` event with the ids exported (computed by PostgreSQL) and the filters used."""
    claims = caller.claims
    principal = caller.principal_of(
        await auth_repository.subject_state(session, claims.subject_kind, claims.subject_id, claims.session_id)
    )
    scope = scope_of(principal)
    columns = repository.CSV_STATUS_COLUMNS if principal.role is Role.PARTNER_WORKER else repository.CSV_STAFF_COLUMNS
    await audit.record(
        session,
        principal,
        AuditAction.HOUSEHOLD_LIST,
        "household",
        None,
        details=cast(
            "dict[str, Any]", repository.csv_audit_details(filters, scope_organisation_id=scope)
        ),  # a SQL expression, evaluated in the INSERT
    )
    stmt = repository.csv_statement(filters, sort, columns, scope_organisation_id=scope)
    return CsvExport(header=[header for _, header in columns], rows=stream_rows(maker, stmt))


async def possible_duplicates(
    session: AsyncSession, principal: Principal, page: PageParams, sort: str = "-created_at"
) -> Page[DuplicatePair]:
    """One page of pairs of active households sharing a member; the pairs shown are recorded."""
    pairs, total = await repository.possible_duplicates(session, page, sort)
    await audit.record(
        session,
        principal,
        AuditAction.HOUSEHOLD_POSSIBLE_DUPLICATES,
        "household",
        None,
        details={"pairs": [[str(p["first"]["id"]), str(p["second"]["id"])] for p in pairs]},
        shown=sorted({uuid.UUID(str(p[side]["id"])) for p in pairs for side in ("first", "second")}),
    )
    return page.of([DuplicatePair.model_validate(p) for p in pairs], total)


async def read_household_by_id(caller: TokenCaller, household_id: uuid.UUID) -> tuple[str, int]:
    """The household's JSON as the caller may see it (its response model's exact shape, built by PostgreSQL: no
    object per field, serialised once), and its version; the read is recorded.

    One statement (`households.reads`): the caller's account, the household with its members, the audit row."""
    claims = caller.claims
    row = await reads.read_household(
        caller.database,
        claims.subject_kind,
        claims.subject_id,
        caller.allowed,
        household_id,
        AuditAction.HOUSEHOLD_READ.value,
        session_id=claims.session_id,
    )
    caller.principal_of(row.subject)
    body = found(row.body, "No household with this id.")
    assert row.version is not None
    return body, row.version


async def read_household(
    session: AsyncSession, principal: Principal, household: Household, *, details: dict[str, Any] | None = None
) -> HouseholdOut | HouseholdStatusOut:
    """The household as the caller may see it; the read is recorded."""
    await _audit_household(session, principal, AuditAction.HOUSEHOLD_READ, household, details)
    return household_out(principal, household)


_MEMBER_SORTS = {"created_at": "created_at", "last_name": "last_name_folded", "birth_date": "birth_date"}


async def list_members(
    session: AsyncSession, principal: Principal, household: Household, page: PageParams, sort: str = "created_at"
) -> Page[MemberOut]:
    """One page of the household's members in the `sort` order, ties by id (403 for its partner after diagnostic);
    the read is recorded."""
    check_members_readable(principal, household)
    await _audit_household(session, principal, AuditAction.MEMBER_LIST, household)
    attribute = _MEMBER_SORTS[sort.removeprefix("-")]
    members = sorted(household.members, key=lambda m: (getattr(m, attribute), m.id), reverse=sort.startswith("-"))
    return page.slice([member_out(m) for m in members])


async def read_member(session: AsyncSession, principal: Principal, household: Household, member: Member) -> MemberOut:
    """One member (the loader already refused the partner after diagnostic); the read is recorded."""
    await _audit_member(session, principal, AuditAction.MEMBER_READ, household, member)
    return member_out(member)


# --- member validation -------------------------------------------------------------------------------------
def _member_errors(prefix: str, state: Mapping[str, Any], *, check_age: bool) -> list[FieldError]:
    """Errors of a member's resulting state: age against role, profile only for adults, schooling for children."""
    errors: list[FieldError] = []
    is_child = state["role"] is MemberRole.CHILD
    if check_age:
        age = clock.age_on(state["birth_date"], clock.today())
        if is_child and age >= clock.ADULT_AGE:
            errors.append(
                FieldError(field=prefix + "birth_date", message="a child must be under 18 today; use an adult role")
            )
        if not is_child and age < clock.ADULT_AGE:
            errors.append(
                FieldError(
                    field=prefix + "birth_date",
                    message=f"an adult ({state['role'].value}) must be 18 or older today; use role child",
                )
            )
    if is_child:
        for name in PROFILE_FIELDS:
            if state.get(name) not in (None, []):
                errors.append(
                    FieldError(field=prefix + name, message="only adults carry a professional profile; not a child")
                )
    elif state.get("schooling_level") is not None:
        errors.append(FieldError(field=prefix + "schooling_level", message="only children carry a schooling level"))
    return errors


def _member_state(data: MemberCreate) -> dict[str, Any]:
    state = data.model_dump()
    state["rome_codes"] = state["rome_codes"] or []
    for name in _TEXT_FIELDS:
        if name in state:
            state[name] = state[name] or None
    return state


def _new_member(state: Mapping[str, Any]) -> Member:
    return Member(
        **state,
        first_name_folded=fold(state["first_name"]),
        last_name_folded=fold(state["last_name"]),
    )


def _raise_if(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationProblemError("; ".join(f"{e.field}: {e.message}" for e in errors[:5]), errors=errors)


# --- households --------------------------------------------------------------------------------------------
async def _check_referring_organisation(session: AsyncSession, organisation_id: uuid.UUID) -> None:
    found = await repository.organisation_kind(session, organisation_id)
    if found is None or not found[1]:
        message = "unknown or inactive organisation"
    elif found[0] not in REFERRING_KINDS:
        message = "must be a referring partner or the operator (Aurore), not a " + found[0]
    else:
        return
    _raise_if([FieldError(field="referring_organisation_id", message=message)])


def _check_manager_fields(principal: Principal, sent: Mapping[str, Any], *, creating: bool) -> None:
    if principal.role in MANAGER_ROLES:
        return
    errors = []
    if sent.get("manager_notes") is not None or (not creating and "manager_notes" in sent):
        errors.append(FieldError(field="manager_notes", message="only the service manager or an admin may write it"))
    if not creating and "referring_organisation_id" in sent:
        errors.append(
            FieldError(field="referring_organisation_id", message="only the service manager or an admin may change it")
        )
    _raise_if(errors)


def _check_consent(consent_date: date | None, consent_scope: str | None) -> None:
    if (consent_date is None) != (consent_scope is None):
        missing = "consent_scope" if consent_scope is None else "consent_date"
        _raise_if([FieldError(field=missing, message="consent needs both a date and a scope (or neither)")])


async def create_household(session: AsyncSession, principal: Principal, data: HouseholdCreate) -> Household:
    _check_manager_fields(principal, data.model_dump(exclude_unset=True), creating=True)
    referring = data.referring_organisation_id or principal.organisation_id
    if principal.role is Role.PARTNER_WORKER and referring != principal.organisation_id:
        _raise_if(
            [
                FieldError(
                    field="referring_organisation_id",
                    message="a partner worker refers households for its own organisation only",
                )
            ]
        )
    if referring != principal.organisation_id or principal.organisation_kind.value not in REFERRING_KINDS:
        await _check_referring_organisation(session, referring)

    states = [_member_state(m) for m in data.members]
    errors: list[FieldError] = []
    for index, state in enumerate(states):
        errors += _member_errors(f"members.{index}.", state, check_age=True)
    _raise_if(errors)
    needs = data.needs_constraints or None
    scope = data.consent_scope or None
    _check_consent(data.consent_date, scope)

    number = await repository.next_reference_number(session)
    household = Household(
        reference=f"TE-{clock.today().year}-{number:04d}",
        referring_organisation_id=referring,
        created_by_organisation_id=principal.organisation_id,
        created_by_user_id=principal.id if principal.kind == "user" else None,
        housing_situation=data.housing_situation,
        needs_constraints=needs,
        consent_date=data.consent_date,
        consent_scope=scope,
        last_contact_date=data.last_contact_date,
        manager_notes=data.manager_notes or None,
        stage=Stage.DIAGNOSTIC,
        members=[_new_member(state) for state in states],
    )
    session.add(household)
    await session.flush()
    await _audit_household(
        session,
        principal,
        AuditAction.HOUSEHOLD_CREATE,
        household,
        {"fields": sorted(data.model_dump(exclude_unset=True, exclude={"members"})), "members": len(states)},
    )
    await outbox.emit(session, EventType.HOUSEHOLD_CREATED, **household_event(household))
    return household


async def replay_create(session: AsyncSession, principal: Principal, stored: idempotency.Stored) -> JSONResponse:
    """The replay of a creation with the same Idempotency-Key (`core.idempotency`): the first status and
    `Location`, plus `Idempotent-Replayed: true`, with the household as the caller may see it now (its current
    version's body and ETag), recorded as a read; a household deleted or no longer visible since is a 404."""
    first = stored.body if isinstance(stored.body, dict) else {}
    household = found(
        await repository.get_household(
            session, uuid.UUID(str(first.get("id"))), scope_organisation_id=scope_of(principal)
        ),
        "The household created with this Idempotency-Key no longer exists or is not visible.",
    )
    out = await read_household(session, principal, household, details={"idempotent_replay": True})
    headers = stored.headers | {"ETag": etag_for(household.version), idempotency.REPLAYED_HEADER: "true"}
    return JSONResponse(content=out.model_dump(mode="json"), status_code=stored.status, headers=headers)


async def update_household(
    session: AsyncSession, principal: Principal, household: Household, data: HouseholdUpdate
) -> Household:
    changes = data.model_dump(exclude_unset=True)
    _check_manager_fields(principal, changes, creating=False)
    if "housing_situation" in changes and changes["housing_situation"] is None:
        _raise_if([FieldError(field="housing_situation", message="must not be null")])
    if "referring_organisation_id" in changes:
        if changes["referring_organisation_id"] is None:
            _raise_if([FieldError(field="referring_organisation_id", message="must not be null")])
        await _check_referring_organisation(session, changes["referring_organisation_id"])
    for name in _TEXT_FIELDS:
        if name in changes:
            changes[name] = changes[name] or None
    _check_consent(
        changes.get("consent_date", household.consent_date), changes.get("consent_scope", household.consent_scope)
    )
    changed = sorted(name for name, value in changes.items() if getattr(household, name) != value)
    if changed and principal.role in MANAGER_ROLES and "last_contact_date" not in changes:
        # The service manager's update is a contact (privacy: retention counts from the last one).
        contact = max(household.last_contact_date or clock.today(), clock.today())
        if contact != household.last_contact_date:
            changes["last_contact_date"] = contact
            changed = sorted([*changed, "last_contact_date"])
    for name in changed:
        setattr(household, name, changes[name])
    if changed:
        _touch(household)
    await session.flush()
    await _audit_household(session, principal, AuditAction.HOUSEHOLD_UPDATE, household, {"fields": changed})
    return household


async def delete_household(session: AsyncSession, principal: Principal, household: Household) -> None:
    if not principal.is_admin and household.created_by_organisation_id != principal.organisation_id:
        raise ForbiddenError("Only the organisation that created the household, or an admin, may delete it.")
    if household.stage is not Stage.DIAGNOSTIC:
        raise ProblemError(
            HOUSEHOLD_NOT_IN_DIAGNOSTIC,
            "Only a household still in diagnostic can be deleted; withdraw it through the pipeline instead.",
            extra={"stage": household.stage.value},
        )
    await audit.record(
        session,
        principal,
        AuditAction.HOUSEHOLD_DELETE,
        "household",
        household.id,
        household_id=household.id,
        details={"reference": household.reference, "members": len(household.members)},
    )
    # The event holds the household block only (ids, reference, stage): a partner's system drops its copy.
    await outbox.emit(session, EventType.HOUSEHOLD_DELETED, **household_event(household))
    await session.flush()
    await repository.delete_household(session, household.id)


async def touch_contact(session: AsyncSession, household_id: uuid.UUID, on: date | None = None) -> None:
    """The household's last contact becomes `on` (today by default), unless it is already later. Every stage
    move, placement change, relay stay, allocation and follow-up entry is a contact: the retention period
    (privacy.retention) counts from the last one. Bookkeeping: the household's version (ETag) stays."""
    await repository.touch_last_contact(session, household_id, on or clock.today())


# --- members -----------------------------------------------------------------------------------------------
async def _check_no_placements(session: AsyncSession, member: Member, action: str) -> None:
    """409 when the pipeline proposed job openings to this member: its identity is part of those records."""
    placement_ids = await ports.member_placements(session, member.id)
    if placement_ids:
        raise ProblemError(
            MEMBER_HAS_PLACEMENTS,
            f"This member has placements (job proposals) in the pipeline: cannot {action}. "
            "Cancel or decline them through the pipeline first, or leave the member as is.",
            extra={"placement_ids": [str(p) for p in placement_ids]},
        )


def _is_profiled_adult(role: MemberRole, rome_codes: list[str] | None) -> bool:
    return role is not MemberRole.CHILD and bool(rome_codes)


def _check_keeps_a_profiled_adult(household: Household, member: Member, after: Mapping[str, Any] | None) -> None:
    """Once the household has left diagnostic, it keeps at least one adult with a professional profile.

    `after` is the member's resulting state, None when the member is removed."""
    if household.stage is Stage.DIAGNOSTIC or not _is_profiled_adult(member.role, member.rome_codes):
        return
    if after is not None and _is_profiled_adult(after["role"], after["rome_codes"]):
        return
    others = [m for m in household.members if m.id != member.id and _is_profiled_adult(m.role, m.rome_codes)]
    if not others:
        raise ProblemError(
            LAST_PROFILED_ADULT,
            "This is the household's last adult with a professional profile (ROME codes), which the programme "
            f"needs since the household left diagnostic (stage {household.stage.value}).",
            extra={"stage": household.stage.value, "member_id": str(member.id)},
        )


async def add_member(session: AsyncSession, principal: Principal, household: Household, data: MemberCreate) -> Member:
    if len(household.members) >= MAX_MEMBERS:
        raise ProblemError(HOUSEHOLD_MEMBERS_LIMIT, f"A household has at most {MAX_MEMBERS} members.")
    state = _member_state(data)
    _raise_if(_member_errors("", state, check_age=True))
    member = _new_member(state)
    household.members.append(member)
    _touch(household)
    _contact_by_manager(principal, household)
    await session.flush()
    await _audit_member(session, principal, AuditAction.MEMBER_CREATE, household, member, {"role": member.role.value})
    return member


async def update_member(
    session: AsyncSession, principal: Principal, household: Household, member: Member, data: MemberUpdate
) -> Member:
    changes = data.model_dump(exclude_unset=True)
    _raise_if(
        [
            FieldError(field=name, message="must not be null")
            for name in _NOT_NULL_MEMBER_FIELDS
            if name in changes and changes[name] is None
        ]
    )
    if "rome_codes" in changes:
        changes["rome_codes"] = changes["rome_codes"] or []
    for name in _TEXT_FIELDS:
        if name in changes:
            changes[name] = changes[name] or None
    state = {name: getattr(member, name) for name in MemberCreate.model_fields} | changes
    _raise_if(_member_errors("", state, check_age="role" in changes or "birth_date" in changes))
    changed = sorted(name for name, value in changes.items() if getattr(member, name) != value)
    if "role" in changed or "birth_date" in changed:
        await _check_no_placements(session, member, "change its role or birth date")
    _check_keeps_a_profiled_adult(household, member, state)
    for name in changed:
        setattr(member, name, changes[name])
    if "first_name" in changed:
        member.first_name_folded = fold(member.first_name)
    if "last_name" in changed:
        member.last_name_folded = fold(member.last_name)
    if changed:
        member.updated_at = clock.now()  # set here, not by the server default: readable without a reload
        _touch(household)
        _contact_by_manager(principal, household)
    await session.flush()
    await _audit_member(session, principal, AuditAction.MEMBER_UPDATE, household, member, {"fields": changed})
    return member


async def remove_member(session: AsyncSession, principal: Principal, household: Household, member: Member) -> None:
    await _check_no_placements(session, member, "remove it")
    _check_keeps_a_profiled_adult(household, member, None)
    household.members.remove(member)  # delete-orphan: the row is deleted at flush
    _touch(household)
    _contact_by_manager(principal, household)
    await session.flush()
    await _audit_member(session, principal, AuditAction.MEMBER_DELETE, household, member, {"role": member.role.value})


# --- many at once (the CSV import: integration.imports_service) -------------------------------------------------
def new_household_errors(data: HouseholdCreate) -> list[FieldError]:
    """The checks of `create_household` that need no database: each member's age against its role (today, Paris),
    the profile for adults and schooling for children, consent date and scope together. Fields are named as in the
    JSON API (`members.2.birth_date`, `consent_scope`)."""
    errors: list[FieldError] = []
    for index, member in enumerate(data.members):
        errors += _member_errors(f"members.{index}.", _member_state(member), check_age=True)
    scope = data.consent_scope or None
    if (data.consent_date is None) != (scope is None):
        missing = "consent_scope" if scope is None else "consent_date"
        errors.append(FieldError(field=missing, message="consent needs both a date and a scope (or neither)"))
    return errors


async def possible_duplicates_of(
    session: AsyncSession, principal: Principal, identities: list[tuple[str, str, date]]
) -> list[tuple[int, uuid.UUID, str]]:
    """For (first name, last name, birth date) triples: (index, household id, reference) of the active households
    the caller may see having such a member (names compared folded, as `GET /households/possible-duplicates`)."""
    folded = [(fold(first), fold(last), birth) for first, last, birth in identities]
    return await repository.identities_in_active_households(session, folded, scope_organisation_id=scope_of(principal))


async def create_households(
    session: AsyncSession,
    principal: Principal,
    items: list[tuple[HouseholdCreate, uuid.UUID]],
    *,
    audit_details: dict[str, Any] | None = None,
) -> list[tuple[uuid.UUID, str]]:
    """Create many households in `diagnostic` (each with its referring organisation, already checked, and its
    members, already validated with `new_household_errors`), set-based: one statement for the references, one
    executemany for the households, one for the members, one for the audit events (`household.create` each, with
    `audit_details`). Returns (id, reference) in the order of `items`."""
    if not items:
        return []
    numbers = await repository.next_reference_numbers(session, len(items))
    year, now = clock.today().year, clock.now()
    households: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    created: list[tuple[uuid.UUID, str]] = []
    tick = 0
    for (data, referring), number in zip(items, numbers, strict=True):
        household_id, reference = uuid.uuid4(), f"TE-{year}-{number:04d}"
        created.append((household_id, reference))
        households.append(
            {
                "id": household_id,
                "reference": reference,
                "referring_organisation_id": referring,
                "created_by_organisation_id": principal.organisation_id,
                "created_by_user_id": principal.id if principal.kind == "user" else None,
                "housing_situation": data.housing_situation,
                "needs_constraints": data.needs_constraints or None,
                "consent_date": data.consent_date,
                "consent_scope": data.consent_scope or None,
                "last_contact_date": data.last_contact_date,
                "manager_notes": data.manager_notes or None,
                "stage": Stage.DIAGNOSTIC,
                "stage_entered_at": now,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
        for member in data.members:
            tick += 1  # members keep the file's order (they are listed by creation instant)
            state = _member_state(member)
            members.append(
                {
                    **state,
                    "id": uuid.uuid4(),
                    "household_id": household_id,
                    "first_name_folded": fold(state["first_name"]),
                    "last_name_folded": fold(state["last_name"]),
                    "created_at": now + timedelta(microseconds=tick),
                    "updated_at": now,
                    "version": 1,
                }
            )
    await repository.insert_households(session, households, members)
    await audit.record_many(
        session,
        principal,
        AuditAction.HOUSEHOLD_CREATE,
        "household",
        [
            (household_id, household_id, {**(audit_details or {}), "members": len(data.members)})
            for (household_id, _), (data, _) in zip(created, items, strict=True)
        ],
    )
    return created
