"""Shared test factories: one place that arranges records, for every test directory.

- Identities (organisations, users, API clients) and the base records other domains own (households with members,
  employers, job openings, housing units, placements, relay stays) are inserted through the SQLAlchemy models, each
  call in its own committed session, as the pipeline or an admin would have left them.
- Tests about behaviour go through the HTTP API; the small HTTP helpers shared by several directories are here too.
- Pure helpers: Luhn-valid SIRETs, dates relative to today (Paris).
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from httpx import AsyncClient, Response
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from toit_emploi_api.accounts.models import ApiClient, Organisation, User
from toit_emploi_api.accounts.passwords import SecretHasher
from toit_emploi_api.auth.tokens import issue_access_token
from toit_emploi_api.core.audit import AuditEvent
from toit_emploi_api.core.clock import today
from toit_emploi_api.core.outbox import OutboxEvent
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.employers.models import Employer, JobOpening
from toit_emploi_api.households.models import Household, HousingSituation, Member, household_reference_seq
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.integration.webhooks.models import WebhookSubscription
from toit_emploi_api.pipeline.models import (
    FollowUpDomain,
    FollowUpEntry,
    HousingAllocation,
    Placement,
    RelayStay,
    StageTransition,
)
from toit_emploi_api.vocab.roles import ROLE_ORGANISATION_KIND, OrganisationKind, Role
from toit_emploi_api.vocab.stages import ApplicationStatus, HistoryKind, Stage
from toit_emploi_api.vocab.statuses import (
    AllocationStatus,
    ContractType,
    MemberRole,
    PlacementStatus,
    RelayStayStatus,
    UnitStatus,
)

TEST_PASSWORD = "correct horse battery staple"
# Aurore's own SIRET (Luhn-valid); generated ones come from `make_siret`.
AURORE_SIRET = "77568497000244"

_counter = itertools.count(1)
M = TypeVar("M")


# --- pure helpers ------------------------------------------------------------------------------------------------
def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char) * (2 if index % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def luhn_siret(prefix13: str) -> str:
    """A Luhn-valid 14-digit SIRET from 13 digits (appends the check digit)."""
    assert len(prefix13) == 13
    assert prefix13.isdigit()
    return next(prefix13 + check for check in "0123456789" if luhn_valid(prefix13 + check))


def make_siret(first: str = "4") -> str:
    """A fresh Luhn-valid SIRET, different on every call."""
    return luhn_siret(f"{first}{next(_counter):012d}")


def problem_codes(r: Response) -> list[str]:
    """The unmet condition codes of a refused move."""
    return [c["code"] for c in r.json().get("unmet", [])]


# --- identities --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Actor:
    id: uuid.UUID
    role: Role
    organisation_id: uuid.UUID
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class ClientCredentials:
    id: uuid.UUID
    client_id: str
    client_secret: str
    role: Role
    organisation_id: uuid.UUID


@dataclass
class HouseholdRef:
    id: uuid.UUID
    adults: list[uuid.UUID] = field(default_factory=list)
    children: list[uuid.UUID] = field(default_factory=list)

    @property
    def members(self) -> list[uuid.UUID]:
        return [*self.adults, *self.children]


class Factory:
    """Creates records straight in the database (models, one committed session a call) and signs tokens.

    The `actors` and `arrange` fixtures are one Factory per test, so default organisations are shared.
    """

    def __init__(
        self, maker: async_sessionmaker[AsyncSession], settings: Settings, db: AsyncSession | None = None
    ) -> None:
        self._maker = maker
        self._db = db
        self._settings = settings
        self._hasher = SecretHasher.from_settings(settings)
        self._password_hash: str | None = None
        self._orgs: dict[OrganisationKind, uuid.UUID] = {}
        self._employer: uuid.UUID | None = None

    async def _add(self, *records: Any) -> None:
        async with self._maker() as session:
            for record in records:
                session.add(record)
                await session.flush()
            await session.commit()

    # identities
    async def organisation(self, kind: OrganisationKind, name: str | None = None, *, active: bool = True) -> uuid.UUID:
        org_id = uuid.uuid4()
        await self._add(
            Organisation(id=org_id, name=name or f"{kind.value} {org_id.hex[:8]}", kind=kind, active=active)
        )
        return org_id

    async def default_organisation(self, kind: OrganisationKind) -> uuid.UUID:
        if kind not in self._orgs:
            self._orgs[kind] = await self.organisation(kind)
        return self._orgs[kind]

    async def partner_org(self) -> uuid.UUID:
        return await self.default_organisation(OrganisationKind.REFERRAL_PARTNER)

    async def landlord_org(self) -> uuid.UUID:
        return await self.default_organisation(OrganisationKind.LANDLORD)

    async def user(self, role: Role, organisation_id: uuid.UUID | None = None, *, active: bool = True) -> Actor:
        """A user with TEST_PASSWORD and a signed access token."""
        org_id = organisation_id or await self.default_organisation(ROLE_ORGANISATION_KIND[role])
        if self._password_hash is None:
            self._password_hash = self._hasher.hash(TEST_PASSWORD)
        user_id = uuid.uuid4()
        email = f"{role.value}.{user_id.hex[:8]}@example.org"
        await self._add(
            User(
                id=user_id,
                email=email,
                full_name=f"Test {role.value}",
                role=role,
                organisation_id=org_id,
                password_hash=self._password_hash,
                active=active,
            )
        )
        token, _ = issue_access_token(
            self._settings, subject_kind="user", subject_id=user_id, role=role.value, organisation_id=org_id
        )
        return Actor(user_id, role, org_id, email, token)

    async def api_client(
        self, role: Role = Role.LANDLORD, organisation_id: uuid.UUID | None = None, *, active: bool = True
    ) -> ClientCredentials:
        """An API client with a known secret (for the client_credentials grant)."""
        org_id = organisation_id or await self.default_organisation(ROLE_ORGANISATION_KIND[role])
        client_id, secret = f"tc_{secrets.token_hex(8)}", secrets.token_urlsafe(24)
        client = ApiClient(
            client_id=client_id,
            name=f"Test client {client_id}",
            role=role,
            organisation_id=org_id,
            secret_hash=self._hasher.hash(secret),
            active=active,
        )
        await self._add(client)
        return ClientCredentials(client.id, client_id, secret, role, org_id)

    # households
    async def household(
        self,
        *,
        org: uuid.UUID | None = None,
        created_by: uuid.UUID | None = None,
        stage: Stage = Stage.DIAGNOSTIC,
        adults: int = 2,
        children: int = 2,
        rome: bool = True,
        consent: bool = True,
        housing_situation: HousingSituation = HousingSituation.HOTEL_115,
        manager_notes: str | None = None,
        closure_note: str | None = None,
        adult_role: MemberRole | None = None,
        adult_birth: date | None = None,
        first_name: str | None = None,
        last_name: str = "Test",
        application: ApplicationStatus = ApplicationStatus.PRESENTED,
    ) -> HouseholdRef:
        """A household of `org` (the default referral partner) at any stage, with adults and children.

        Its application is presented unless told otherwise (`application=`), as the pipeline leaves one the service
        manager may retain (the steps' own history items are not written: use the API's submit and present for them).
        Adults are head, partner, then other relatives (or all `adult_role`), the first with a ROME code when `rome`.
        """
        org = org or await self.partner_org()
        async with self._maker() as session:
            number = int((await session.execute(select(household_reference_seq.next_value()))).scalar_one())
            household = Household(
                reference=f"TE-{today().year}-{number:04d}",
                referring_organisation_id=org,
                created_by_organisation_id=created_by or org,
                housing_situation=housing_situation,
                consent_date=today() - timedelta(days=30) if consent else None,
                consent_scope="programme" if consent else None,
                stage=stage,
                application_status=application,
                manager_notes=manager_notes,
                closure_note=closure_note,
            )
            session.add(household)
            await session.flush()
            ref = HouseholdRef(household.id)
            roles = [MemberRole.HEAD, MemberRole.PARTNER] + [MemberRole.OTHER_RELATIVE] * max(0, adults - 2)
            for i in range(adults):
                birth = adult_birth or date(1985 + i, 3, 14)
                codes = ["F1703"] if rome and i == 0 else []
                name = f"{first_name}{i}" if first_name else None
                member = self._member(household.id, adult_role or roles[i], birth, codes, last_name, name)
                session.add(member)
                await session.flush()
                ref.adults.append(member.id)
            for i in range(children):
                birth = today() - timedelta(days=365 * (4 + 3 * i))
                member = self._member(household.id, MemberRole.CHILD, birth, [], last_name)
                session.add(member)
                await session.flush()
                ref.children.append(member.id)
            await session.commit()
        return ref

    @staticmethod
    def _member(
        household_id: uuid.UUID,
        role: MemberRole,
        birth: date,
        rome: list[str],
        last_name: str = "Test",
        first_name: str | None = None,
    ) -> Member:
        first_name = first_name or f"Prenom{next(_counter)}"
        return Member(
            household_id=household_id,
            first_name=first_name,
            last_name=last_name,
            first_name_folded=first_name.lower(),
            last_name_folded=last_name.lower(),
            birth_date=birth,
            role=role,
            rome_codes=rome,
        )

    async def member(self, household_id: uuid.UUID, role: MemberRole, birth: date) -> uuid.UUID:
        member = self._member(household_id, role, birth, [])
        await self._add(member)
        return member.id

    async def profile(self, member_id: uuid.UUID, **values: Any) -> None:
        """Set an adult's professional profile (`rome_codes`, `years_of_experience`, `driving_licence`, …)."""
        async with self._maker() as session:
            await session.execute(update(Member).where(Member.id == member_id).values(**values))
            await session.commit()

    async def set_stage(self, household_id: str | uuid.UUID, stage: Stage | str) -> None:
        """What the pipeline does: move a household to another stage (straight in the database)."""
        async with self._maker() as session:
            await session.execute(
                update(Household)
                .where(Household.id == uuid.UUID(str(household_id)))
                .values(stage=Stage(stage), stage_entered_at=func.now(), version=Household.version + 1)
            )
            await session.commit()

    # employers
    async def employer(
        self, *, siret: str | None = None, legal_name: str = "Aurore", commune_insee: str = "15014"
    ) -> uuid.UUID:
        employer = Employer(siret=siret or make_siret(), legal_name=legal_name, commune_insee=commune_insee)
        await self._add(employer)
        return employer.id

    async def opening(
        self,
        positions: int = 1,
        *,
        employer: uuid.UUID | None = None,
        rome_code: str = "F1703",
        start_date: date | None = None,
        title: str = "Maçon",
    ) -> uuid.UUID:
        """A CDI job opening (F1703 by default) of `employer`, by default one employer shared by the test."""
        if employer is None:
            if self._employer is None:
                self._employer = await self.employer(siret=AURORE_SIRET)
            employer = self._employer
        opening = JobOpening(
            employer_id=employer,
            rome_code=rome_code,
            title=title,
            contract_type=ContractType.CDI,
            open_positions=positions,
            start_date=start_date,
        )
        await self._add(opening)
        return opening.id

    # housing
    async def unit(
        self,
        *,
        rooms: int = 4,
        relay: bool = False,
        status: UnitStatus = UnitStatus.VACANT,
        landlord: uuid.UUID | None = None,
        reference: str | None = None,
        commune_insee: str = "15014",
        postcode: str = "15000",
        rent: int = 420,
        available_from: date | None = None,
    ) -> uuid.UUID:
        unit = HousingUnit(
            landlord_organisation_id=landlord or await self.landlord_org(),
            landlord_reference=reference or f"LGT-{next(_counter):05d}",
            postcode=postcode,
            commune_insee=commune_insee,
            rooms=rooms,
            rent=Decimal(rent),
            available_from=available_from,
            is_relay=relay,
            status=status,
        )
        await self._add(unit)
        return unit.id

    async def unit_id(self, landlord: uuid.UUID, reference: str) -> uuid.UUID:
        async with self._maker() as session:
            found = await session.execute(
                select(HousingUnit.id).where(
                    HousingUnit.landlord_organisation_id == landlord, HousingUnit.landlord_reference == reference
                )
            )
            return found.scalar_one()

    async def set_unit_status(self, landlord: uuid.UUID, reference: str, status: UnitStatus | str) -> None:
        """What the pipeline (allocations) does: reserve or let a unit, straight in the database."""
        async with self._maker() as session:
            await session.execute(
                update(HousingUnit)
                .where(HousingUnit.landlord_organisation_id == landlord, HousingUnit.landlord_reference == reference)
                .values(status=UnitStatus(status), version=HousingUnit.version + 1)
            )
            await session.commit()

    # pipeline
    async def placement(
        self,
        ref: HouseholdRef | uuid.UUID | str,
        opening: uuid.UUID,
        status: PlacementStatus,
        *,
        member: uuid.UUID | str | None = None,
        start_date: date | None = None,
    ) -> uuid.UUID:
        """What the pipeline records when it proposes a job opening to an adult (the first one by default); a hired
        one has a CDI starting on `start_date` (default today)."""
        if isinstance(ref, HouseholdRef):
            household_id, member_id = ref.id, uuid.UUID(str(member)) if member else ref.adults[0]
        else:
            assert member is not None
            household_id, member_id = uuid.UUID(str(ref)), uuid.UUID(str(member))
        placement = Placement(
            household_id=household_id,
            member_id=member_id,
            job_opening_id=opening,
            status=status,
            declined_by="household" if status is PlacementStatus.DECLINED else None,
            contract_type=ContractType.CDI if status is PlacementStatus.HIRED else None,
            start_date=(start_date or today()) if status is PlacementStatus.HIRED else start_date,
        )
        await self._add(placement)
        return placement.id

    async def relay_stay(
        self,
        unit: uuid.UUID,
        start: date,
        *,
        days: int = 3,
        household: uuid.UUID | None = None,
        org: uuid.UUID | None = None,
        status: RelayStayStatus | str = RelayStayStatus.BOOKED,
    ) -> uuid.UUID:
        """What the pipeline does when it books a relay stay of `days` days, with its household (in matching).

        A booked stay also holds its unit, as the pipeline does through housing: the unit's `relay_held_until`
        becomes the last day of its booked stays (bookkeeping: the unit's version stays)."""
        if household is None:
            household = (await self.household(org=org, stage=Stage.MATCHING, adults=0, children=0)).id
        stay = RelayStay(
            household_id=household,
            unit_id=unit,
            start_date=start,
            end_date=start + timedelta(days=days - 1),
            status=RelayStayStatus(status),
        )
        await self._add(stay)
        if stay.status is RelayStayStatus.BOOKED:
            last_day = (
                select(func.max(RelayStay.end_date))
                .where(RelayStay.unit_id == unit, RelayStay.status == RelayStayStatus.BOOKED)
                .scalar_subquery()
            )
            async with self._maker() as session:
                await session.execute(
                    update(HousingUnit).where(HousingUnit.id == unit).values(relay_held_until=last_day),
                    execution_options={"synchronize_session": False},
                )
                await session.commit()
        return stay.id

    async def many_households(self, count: int, *, org: uuid.UUID | None = None, batch: str = "V") -> None:
        """`count` households of `org` in diagnostic, each with one adult, in two bulk statements (for volume tests).
        Their references are `TE-<batch>-<n>`: call again with another `batch` to add more."""
        org = org or await self.partner_org()
        prefix = f"TE-{batch}-"
        async with self._maker() as session:
            await session.execute(
                text(
                    "INSERT INTO households (id, reference, referring_organisation_id, created_by_organisation_id,"
                    " housing_situation, version)"
                    " SELECT gen_random_uuid(), :prefix || g, :org, :org, 'shelter', 1 FROM generate_series(1, :n) g"
                ),
                {"org": org, "n": count, "prefix": prefix},
            )
            await session.execute(
                text(
                    "INSERT INTO household_members (id, household_id, first_name, last_name, first_name_folded,"
                    " last_name_folded, birth_date, role, version)"
                    " SELECT gen_random_uuid(), id, 'Awa', 'Volume', 'awa', 'volume', date '1980-01-01', 'head', 1"
                    " FROM households WHERE starts_with(reference, :prefix)"
                ),
                {"prefix": prefix},
            )
            await session.commit()

    async def history(
        self,
        household_id: uuid.UUID,
        created_at: datetime,
        items: list[tuple[str, datetime]],
        *,
        reason: str | None = None,
    ) -> None:
        """What the pipeline (or a history import) leaves: the household created at `created_at`, then each item
        `(to, at)` in order, where `to` is a stage (a move from the current stage, which the household ends in) or
        `submitted` / `presented` (an application step). `reason` goes on a move to withdrawn."""
        steps = {"submitted": HistoryKind.APPLICATION_SUBMITTED, "presented": HistoryKind.APPLICATION_PRESENTED}
        async with self._maker() as session:
            current, entered, status = Stage.DIAGNOSTIC, created_at, ApplicationStatus.DRAFT
            for to, at in items:
                if to in steps:
                    kind, target = steps[to], Stage.DIAGNOSTIC
                    status = ApplicationStatus(to)
                else:
                    kind, target = HistoryKind.MOVE, Stage(to)
                session.add(
                    StageTransition(
                        kind=kind,
                        household_id=household_id,
                        from_stage=current,
                        to_stage=target,
                        at=at,
                        actor_kind="system",
                        reason=reason if target is Stage.WITHDRAWN else None,
                    )
                )
                if kind is HistoryKind.MOVE:
                    current, entered = target, at
            await session.execute(
                update(Household)
                .where(Household.id == household_id)
                .values(
                    created_at=created_at,
                    stage=current,
                    stage_entered_at=entered,
                    application_status=status,
                    withdrawal_reason=reason if current is Stage.WITHDRAWN else None,
                    version=Household.version + 1,
                )
            )
            await session.commit()

    async def allocation(
        self,
        household: uuid.UUID,
        unit: uuid.UUID,
        status: AllocationStatus = AllocationStatus.RESERVED,
        *,
        lease_signed: date | None = None,
        move_in: date | None = None,
    ) -> uuid.UUID:
        """What the pipeline records when it reserves a unit for a household (and signs its lease)."""
        allocation = HousingAllocation(
            household_id=household,
            unit_id=unit,
            status=status,
            lease_signed_date=lease_signed,
            move_in_date=move_in,
        )
        await self._add(allocation)
        return allocation.id

    # integration
    async def webhook_failing_since(self, subscription_id: uuid.UUID | str, since: datetime) -> None:
        """What the delivery worker records when a subscription's attempts have failed since `since`."""
        async with self._maker() as session:
            await session.execute(
                update(WebhookSubscription)
                .where(WebhookSubscription.id == uuid.UUID(str(subscription_id)))
                .values(failing_since=since, version=WebhookSubscription.version + 1)
            )
            await session.commit()

    async def outbox_events(self) -> list[OutboxEvent]:
        """Every event in the outbox, in order."""
        async with self._maker() as session:
            return list((await session.execute(select(OutboxEvent).order_by(OutboxEvent.seq))).scalars())

    # privacy
    async def set_household(self, household_id: uuid.UUID, **values: Any) -> None:
        """Set columns of a household straight in the database (e.g. an old `last_contact_date`), no new version."""
        async with self._maker() as session:
            await session.execute(update(Household).where(Household.id == household_id).values(**values))
            await session.commit()

    async def transition(
        self,
        household_id: uuid.UUID,
        frm: Stage,
        to: Stage,
        at: datetime,
        *,
        reason: str | None = None,
        note: str | None = None,
    ) -> uuid.UUID:
        """A stage move in the history, as the pipeline records it (the household's stage is not changed)."""
        move = StageTransition(
            household_id=household_id,
            from_stage=frm,
            to_stage=to,
            at=at,
            actor_kind="system",
            reason=reason,
            note=note,
        )
        await self._add(move)
        return move.id

    async def follow_up_entry(self, household_id: uuid.UUID, entry_date: date, note: str) -> uuid.UUID:
        entry = FollowUpEntry(
            household_id=household_id,
            entry_date=entry_date,
            domain=FollowUpDomain.EMPLOYMENT,
            note=note,
            author_kind="system",
        )
        await self._add(entry)
        return entry.id

    async def fetch_events(self, action: str) -> list[AuditEvent]:
        """The audit events of one action, oldest first."""
        async with self._maker() as session:
            stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.at, AuditEvent.id)
            return list((await session.execute(stmt)).scalars().all())

    async def fetch(self, model: type[M], obj_id: uuid.UUID) -> M:
        """The row as it is now, loaded afresh into the test's `db` session (so a test may change and flush it)."""
        assert self._db is not None, "this Factory has no db session"
        self._db.expire_all()
        found = await self._db.get(model, obj_id, populate_existing=True)
        assert found is not None, f"no {model.__name__} {obj_id}"
        return found


# --- HTTP helpers for the pipeline's own endpoints ---------------------------------------------------------------
async def etag(client: AsyncClient, actor: Actor, household_id: uuid.UUID | str) -> str:
    r = await client.get(f"/api/v1/households/{household_id}/transitions", headers=actor.headers)
    assert r.status_code == 200, r.text
    return r.headers["ETag"]


# The walking helpers below send `If-Match: *` ("whatever the current version", which the API accepts) instead of
# reading the ETag first: a read per step was ≈ 4 % of the suite's time. The ETag rules themselves are tested with
# real ETags (tests/pipeline/test_if_match.py, tests/contract/test_etag_marker.py, the routes' own tests).
ANY_VERSION = {"If-Match": "*"}


async def move(client: AsyncClient, actor: Actor, household_id: uuid.UUID | str, to: str, **body: Any) -> Response:
    """POST a transition, whatever the household's current version."""
    return await client.post(
        f"/api/v1/households/{household_id}/transitions",
        json={"to": to, **body},
        headers={**actor.headers, **ANY_VERSION},
    )


async def patch_placement(client: AsyncClient, actor: Actor, placement_id: object, **body: Any) -> Response:
    return await client.patch(f"/api/v1/placements/{placement_id}", json=body, headers={**actor.headers, **ANY_VERSION})


async def record_outcome(client: AsyncClient, actor: Actor, stay_id: object, **body: Any) -> Response:
    return await client.put(
        f"/api/v1/relay-stays/{stay_id}/outcome", json=body, headers={**actor.headers, **ANY_VERSION}
    )


async def book_stay(
    client: AsyncClient,
    actor: Actor,
    household_id: uuid.UUID | str,
    unit_id: uuid.UUID | str,
    start: date,
    days: int = 4,
) -> Response:
    """Book a relay stay of `days` days through the API."""
    return await client.post(
        f"/api/v1/households/{household_id}/relay-stays",
        json={
            "unit_id": str(unit_id),
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days - 1)).isoformat(),
        },
        headers=actor.headers,
    )
