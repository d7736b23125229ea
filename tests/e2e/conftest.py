"""End-to-end set-up through the HTTP API only.

The only record made outside the API is the first admin (the `admin` fixture of tests/conftest.py: accounts are
created by admins). Everything else — organisations, users, the landlord's API client, households, employers, job
openings, housing units — is created by the admin, the partner worker, the service manager or Polygone's sync over
HTTP, and every check reads the resources back over HTTP.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from httpx import AsyncClient, Response

from tests.factories import Actor, luhn_siret

V1 = "/api/v1"
PASSWORD = "a long passphrase for e2e tests"
PARIS = ZoneInfo("Europe/Paris")
_n = itertools.count(1)


def today() -> date:
    """The programme's dates are Paris dates."""
    return datetime.now(PARIS).date()


def days(n: int) -> str:
    """ISO date `n` days from today (Paris)."""
    return (today() + timedelta(days=n)).isoformat()


def codes(r: Response) -> list[str]:
    """The unmet condition codes of a refused move."""
    return [c["code"] for c in r.json().get("unmet", [])]


def problem_type(r: Response) -> str:
    return str(r.json()["type"]).removeprefix("urn:toit-emploi:problem:")


@dataclass
class Caller:
    name: str
    headers: dict[str, str]
    id: str | None = None
    organisation_id: str | None = None


@dataclass
class Family:
    id: str
    adults: list[str]
    children: list[str]
    etag: str


@dataclass
class World:
    """The people and systems of the programme, all created through the admin API."""

    admin: Caller
    manager: Caller
    referent: Caller
    partner: Caller
    other_partner: Caller
    landlord: Caller
    operator_org: str
    partner_org: str
    landlord_org: str
    extras: dict[str, Any] = field(default_factory=dict)


class Api:
    """A thin wrapper on the client: every call states the status it expects."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        # Who presents the applications `family` submits (the world's Paris referent).
        self.presenter: Caller | None = None

    async def call(
        self,
        who: Caller,
        method: str,
        path: str,
        expect: int,
        *,
        json: Any = None,
        if_match: str | None = None,
        **kwargs: Any,
    ) -> Response:
        headers = dict(who.headers)
        if if_match is not None:
            headers["If-Match"] = if_match
        headers.update(kwargs.pop("headers", {}))
        r = await self.client.request(method, V1 + path, json=json, headers=headers, **kwargs)
        assert r.status_code == expect, f"{method} {path} as {who.name}: {r.status_code} {r.text}"
        return r

    async def get(self, who: Caller, path: str, expect: int = 200, **kwargs: Any) -> Response:
        return await self.call(who, "GET", path, expect, **kwargs)

    async def post(self, who: Caller, path: str, json: Any = None, expect: int = 201, **kwargs: Any) -> Response:
        return await self.call(who, "POST", path, expect, json=json, **kwargs)

    async def patch(self, who: Caller, path: str, json: Any, expect: int = 200, **kwargs: Any) -> Response:
        return await self.call(who, "PATCH", path, expect, json=json, **kwargs)

    async def put(self, who: Caller, path: str, json: Any, expect: int = 200, **kwargs: Any) -> Response:
        return await self.call(who, "PUT", path, expect, json=json, **kwargs)

    # --- accounts --------------------------------------------------------------------------------------------
    async def token(self, username: str, password: str) -> dict[str, str]:
        r = await self.client.post(
            f"{V1}/auth/token", data={"grant_type": "password", "username": username, "password": password}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def organisation(self, admin: Caller, name: str, kind: str) -> str:
        r = await self.post(admin, "/organisations", {"name": name, "kind": kind})
        return str(r.json()["id"])

    async def user(self, admin: Caller, role: str, org: str, name: str) -> Caller:
        email = f"{role}.{next(_n)}@e2e.example"
        body = {"email": email, "full_name": name, "role": role, "organisation_id": org, "password": PASSWORD}
        r = await self.post(admin, "/users", body)
        headers = await self.token(email, PASSWORD)
        me = (await self.get(Caller(name, headers), "/me")).json()
        assert me["role"] == role
        return Caller(name, headers, id=str(r.json()["id"]), organisation_id=org)

    async def api_client(self, admin: Caller, role: str, org: str, name: str) -> Caller:
        r = await self.post(admin, "/api-clients", {"name": name, "role": role, "organisation_id": org})
        body = r.json()
        t = await self.client.post(
            f"{V1}/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(body["client_id"], body["client_secret"]),
        )
        assert t.status_code == 200, t.text
        return Caller(name, {"Authorization": f"Bearer {t.json()['access_token']}"}, id=str(body["id"]))

    # --- base records ----------------------------------------------------------------------------------------
    async def family(self, partner: Caller, *, consent: bool = True, rome: bool = True, apply: bool = True) -> Family:
        """Two adults and two children, created by a partner worker with members (and consent); unless `apply` is
        false, its application is then submitted by the partner and presented by the Paris referent."""
        n = next(_n)
        body: dict[str, Any] = {
            "housing_situation": "hotel_115",
            "needs_constraints": "Ground floor preferred; school nearby.",
            "last_contact_date": days(-3),
            "members": [
                {
                    "first_name": "Benoît",
                    "last_name": f"Traoré{n}",
                    "birth_date": "1986-04-12",
                    "role": "head",
                    **({"rome_codes": ["F1703", "F1606"], "years_of_experience": 12} if rome else {}),
                    "driving_licence": True,
                    "french_level": "b2",
                },
                {
                    "first_name": "Mariam",
                    "last_name": f"Traoré{n}",
                    "birth_date": "1990-02-03",
                    "role": "partner",
                    **({"rome_codes": ["K1304"]} if rome else {}),
                    "french_level": "a2",
                },
                {
                    "first_name": "Aïcha",
                    "last_name": f"Traoré{n}",
                    "birth_date": "2015-09-01",
                    "role": "child",
                    "schooling_level": "elementaire",
                },
                {
                    "first_name": "Moussa",
                    "last_name": f"Traoré{n}",
                    "birth_date": "2019-05-20",
                    "role": "child",
                    "schooling_level": "maternelle",
                },
            ],
        }
        if consent:
            body["consent_date"] = days(-3)
            body["consent_scope"] = "Diagnostic file processed by Aurore and its partners for the programme."
        r = await self.post(partner, "/households", body)
        h = r.json()
        assert h["stage"] == "diagnostic"
        assert (h["adult_count"], h["children_count"]) == (2, 2)
        adults = [m["id"] for m in h["members"] if m["role"] != "child"]
        children = [m["id"] for m in h["members"] if m["role"] == "child"]
        tag = r.headers["ETag"]
        if apply:
            assert self.presenter is not None
            tag = (await self.apply_step(partner, h["id"], "submit", tag)).headers["ETag"]
            tag = (await self.apply_step(self.presenter, h["id"], "present", tag)).headers["ETag"]
        return Family(h["id"], adults, children, tag)

    async def apply_step(
        self, who: Caller, household: str, step: str, if_match: str, expect: int = 201, **body: Any
    ) -> Response:
        """Submit or present the household's application."""
        return await self.post(who, f"/households/{household}/application/{step}", body, expect, if_match=if_match)

    async def employer_with_opening(
        self, manager: Caller, *, rome: str = "F1703", title: str = "Maçon qualifié", positions: int = 1
    ) -> tuple[str, str]:
        siret = luhn_siret(f"{next(_n) + 4_000_000_000_000:013d}")
        r = await self.post(
            manager,
            "/employers",
            {
                "siret": siret,
                "legal_name": f"Bâtiments du Cantal {siret[-4:]}",
                "sector": "Bâtiment",
                "address": "12 avenue de la République",
                "postcode": "15000",
                "commune_insee": "15014",
                "contact_name": "Claire Martin",
                "contact_phone": "04 71 00 00 00",
            },
        )
        employer = str(r.json()["id"])
        r = await self.post(
            manager,
            f"/employers/{employer}/job-openings",
            {
                "rome_code": rome,
                "title": title,
                "contract_type": "cdi",
                "hours_per_week": "35",
                "open_positions": positions,
                "start_date": days(30),
            },
        )
        assert r.json()["status"] == "open"
        return employer, str(r.json()["id"])

    async def relay_apartment(self, manager: Caller, landlord_org: str) -> str:
        """Created by the service manager for the landlord organisation."""
        r = await self.post(
            manager,
            "/housing-units",
            {
                "landlord_organisation_id": landlord_org,
                "landlord_reference": f"RELAIS-{next(_n):04d}",
                "street_number": "3",
                "street_type": "RUE",
                "street_name": "du Buis",
                "postcode": "15000",
                "commune_insee": "15014",
                "rooms": 4,
                "rent": "0.00",
                "is_relay": True,
            },
        )
        assert r.json()["is_relay"] is True
        return str(r.json()["id"])

    async def synced_units(self, landlord: Caller, manager: Caller, landlord_org: str, rooms: list[int]) -> list[str]:
        """Polygone's system pushes vacant units (delta sync); the service manager finds them by reference."""
        refs = [f"POLY-{next(_n):05d}" for _ in rooms]
        units = [
            {
                "landlord_reference": ref,
                "commune_insee": "15014",
                "postcode": "15000",
                "street_number": "12",
                "street_type": "RUE",
                "street_name": "des Carmes",
                "rooms": n,
                "living_area_m2": f"{20 * n + 5}.50",
                "rent": f"{100 * n + 112}.30",
                "charges": "85.00",
                "dpe_class": "D",
                "construction_year": 1974,
                "is_relay": False,
            }
            for ref, n in zip(refs, rooms, strict=True)
        ]
        r = await self.post(landlord, "/housing-units/sync", {"mode": "delta", "units": units}, expect=200)
        assert r.json()["created"] == len(units), r.text
        found = (
            await self.get(manager, "/housing-units", params={"landlord_organisation_id": landlord_org, "limit": 200})
        ).json()["items"]
        by_ref = {u["landlord_reference"]: u for u in found}
        assert all(by_ref[ref]["status"] == "vacant" for ref in refs)
        return [str(by_ref[ref]["id"]) for ref in refs]

    # --- the pipeline ----------------------------------------------------------------------------------------
    async def etag(self, who: Caller, household: str) -> str:
        return (await self.get(who, f"/households/{household}/transitions")).headers["ETag"]

    async def move(self, who: Caller, household: str, to: str, expect: int = 201, **body: Any) -> Response:
        tag = await self.etag(who, household)
        return await self.post(who, f"/households/{household}/transitions", {"to": to, **body}, expect, if_match=tag)

    async def propose(self, manager: Caller, household: str, member: str, opening: str) -> str:
        r = await self.post(
            manager, f"/households/{household}/placements", {"member_id": member, "job_opening_id": opening}
        )
        assert r.json()["status"] == "proposed"
        return str(r.json()["id"])

    async def placement(self, manager: Caller, placement: str, expect: int = 200, **body: Any) -> Response:
        tag = (await self.get(manager, f"/placements/{placement}")).headers["ETag"]
        return await self.patch(manager, f"/placements/{placement}", body, expect, if_match=tag)

    async def book(
        self, manager: Caller, household: str, unit: str, start: int, end: int, expect: int = 201
    ) -> Response:
        return await self.post(
            manager,
            f"/households/{household}/relay-stays",
            {"unit_id": unit, "start_date": days(start), "end_date": days(end)},
            expect,
        )

    async def outcome(self, manager: Caller, stay: str, expect: int = 200, **body: Any) -> Response:
        tag = (await self.get(manager, f"/relay-stays/{stay}")).headers["ETag"]
        return await self.put(manager, f"/relay-stays/{stay}/outcome", body, expect, if_match=tag)

    async def unit(self, who: Caller, unit: str) -> dict[str, Any]:
        return dict((await self.get(who, f"/housing-units/{unit}")).json())


@pytest.fixture
def api(client: AsyncClient) -> Api:
    return Api(client)


@pytest.fixture
async def world(api: Api, admin: Actor) -> World:
    """Aurore (operator), Association Charonne and Samu social (referral partners), Polygone (landlord)."""
    root = Caller("admin", admin.headers, id=str(admin.id))
    operator = await api.organisation(root, "Aurore — Aurillac", "operator")
    charonne = await api.organisation(root, "Association Charonne", "referral_partner")
    samu = await api.organisation(root, "Samu social", "referral_partner")
    polygone = await api.organisation(root, "Polygone", "landlord")
    referent = await api.user(root, "paris_referent", operator, "Référente Paris")
    api.presenter = referent
    return World(
        admin=root,
        manager=await api.user(root, "service_manager", operator, "Chef de service"),
        referent=referent,
        partner=await api.user(root, "partner_worker", charonne, "Claire Martin"),
        other_partner=await api.user(root, "partner_worker", samu, "Paul Durand"),
        landlord=await api.api_client(root, "landlord", polygone, "Polygone vacancy sync"),
        operator_org=operator,
        partner_org=charonne,
        landlord_org=polygone,
    )
