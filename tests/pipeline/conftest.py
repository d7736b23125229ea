"""Arranging base records (households, members, employers, job openings, housing units) straight in the database,
and small HTTP helpers for the pipeline's own endpoints."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import Actor, Actors
from toit_emploi_api.core.clock import today
from toit_emploi_api.employers.models import Employer, JobOpening
from toit_emploi_api.households.models import Household, HousingSituation, Member
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.pipeline.models import Placement
from toit_emploi_api.vocab.roles import OrganisationKind
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import ContractType, MemberRole, PlacementStatus, UnitStatus

_counter = itertools.count(1)


@dataclass
class HouseholdRef:
    id: uuid.UUID
    adults: list[uuid.UUID] = field(default_factory=list)
    children: list[uuid.UUID] = field(default_factory=list)


class Arrange:
    """Factories for the base records other domains own (their APIs are not in this tree)."""

    def __init__(self, db: AsyncSession, actors: Actors) -> None:
        self.db = db
        self.actors = actors
        self._partner_org: uuid.UUID | None = None
        self._landlord_org: uuid.UUID | None = None
        self._employer: uuid.UUID | None = None

    async def partner_org(self) -> uuid.UUID:
        if self._partner_org is None:
            self._partner_org = await self.actors.default_organisation(OrganisationKind.REFERRAL_PARTNER)
        return self._partner_org

    async def household(
        self,
        *,
        org: uuid.UUID | None = None,
        stage: Stage = Stage.DIAGNOSTIC,
        adults: int = 2,
        children: int = 2,
        rome: bool = True,
        consent: bool = True,
    ) -> HouseholdRef:
        org = org or await self.partner_org()
        n = next(_counter)
        household = Household(
            reference=f"TE-T-{n:05d}",
            referring_organisation_id=org,
            created_by_organisation_id=org,
            housing_situation=HousingSituation.HOTEL_115,
            consent_date=today() - timedelta(days=30) if consent else None,
            consent_scope="programme" if consent else None,
            stage=stage,
        )
        self.db.add(household)
        await self.db.flush()
        ref = HouseholdRef(household.id)
        roles = [MemberRole.HEAD, MemberRole.PARTNER] + [MemberRole.OTHER_RELATIVE] * max(0, adults - 2)
        for i in range(adults):
            member = self._member(household.id, roles[i], date(1985 + i, 3, 14), ["F1703"] if rome and i == 0 else [])
            self.db.add(member)
            await self.db.flush()
            ref.adults.append(member.id)
        for i in range(children):
            member = self._member(household.id, MemberRole.CHILD, today() - timedelta(days=365 * (4 + 3 * i)), [])
            self.db.add(member)
            await self.db.flush()
            ref.children.append(member.id)
        await self.db.commit()
        return ref

    @staticmethod
    def _member(household_id: uuid.UUID, role: MemberRole, birth: date, rome: list[str]) -> Member:
        n = next(_counter)
        return Member(
            household_id=household_id,
            first_name=f"Prenom{n}",
            last_name="Test",
            first_name_folded=f"prenom{n}",
            last_name_folded="test",
            birth_date=birth,
            role=role,
            rome_codes=rome,
        )

    async def member(self, household_id: uuid.UUID, role: MemberRole, birth: date) -> uuid.UUID:
        member = self._member(household_id, role, birth, [])
        self.db.add(member)
        await self.db.commit()
        return member.id

    async def opening(self, positions: int = 1) -> uuid.UUID:
        if self._employer is None:
            employer = Employer(siret="77568497000244", legal_name="Aurore", commune_insee="15014")
            self.db.add(employer)
            await self.db.flush()
            self._employer = employer.id
        opening = JobOpening(
            employer_id=self._employer,
            rome_code="F1703",
            title="Maçon",
            contract_type=ContractType.CDI,
            open_positions=positions,
        )
        self.db.add(opening)
        await self.db.commit()
        return opening.id

    async def unit(self, *, rooms: int = 4, relay: bool = False, status: UnitStatus = UnitStatus.VACANT) -> uuid.UUID:
        if self._landlord_org is None:
            self._landlord_org = await self.actors.default_organisation(OrganisationKind.LANDLORD)
        unit = HousingUnit(
            landlord_organisation_id=self._landlord_org,
            landlord_reference=f"LGT-{next(_counter):05d}",
            postcode="15000",
            commune_insee="15014",
            rooms=rooms,
            rent=420,
            is_relay=relay,
            status=status,
        )
        self.db.add(unit)
        await self.db.commit()
        return unit.id

    async def placement(self, ref: HouseholdRef, opening: uuid.UUID, status: PlacementStatus) -> uuid.UUID:
        placement = Placement(household_id=ref.id, member_id=ref.adults[0], job_opening_id=opening, status=status)
        self.db.add(placement)
        await self.db.commit()
        return placement.id

    async def fetch(self, model: type[Any], obj_id: uuid.UUID) -> Any:
        self.db.expire_all()
        return await self.db.get(model, obj_id, populate_existing=True)


@pytest.fixture
async def arrange(db: AsyncSession, actors: Actors) -> Arrange:
    return Arrange(db, actors)


async def etag(client: AsyncClient, actor: Actor, household_id: uuid.UUID) -> str:
    r = await client.get(f"/api/v1/households/{household_id}/transitions", headers=actor.headers)
    assert r.status_code == 200, r.text
    return r.headers["ETag"]


async def move(client: AsyncClient, actor: Actor, household_id: uuid.UUID, to: str, **body: Any) -> Response:
    """POST a transition with a fresh If-Match."""
    tag = await etag(client, actor, household_id)
    return await client.post(
        f"/api/v1/households/{household_id}/transitions",
        json={"to": to, **body},
        headers={**actor.headers, "If-Match": tag},
    )


async def patch_placement(client: AsyncClient, actor: Actor, placement_id: Any, **body: Any) -> Response:
    r = await client.get(f"/api/v1/placements/{placement_id}", headers=actor.headers)
    assert r.status_code == 200, r.text
    return await client.patch(
        f"/api/v1/placements/{placement_id}", json=body, headers={**actor.headers, "If-Match": r.headers["ETag"]}
    )


async def record_outcome(client: AsyncClient, actor: Actor, stay_id: Any, **body: Any) -> Response:
    r = await client.get(f"/api/v1/relay-stays/{stay_id}", headers=actor.headers)
    assert r.status_code == 200, r.text
    return await client.put(
        f"/api/v1/relay-stays/{stay_id}/outcome", json=body, headers={**actor.headers, "If-Match": r.headers["ETag"]}
    )


async def book_stay(
    client: AsyncClient, actor: Actor, household_id: uuid.UUID, unit_id: uuid.UUID, start: date, days: int = 4
) -> Response:
    return await client.post(
        f"/api/v1/households/{household_id}/relay-stays",
        json={
            "unit_id": str(unit_id),
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days - 1)).isoformat(),
        },
        headers=actor.headers,
    )


def problem_codes(r: Response) -> list[str]:
    return [c["code"] for c in r.json().get("unmet", [])]
