"""POST /api/v1/households/import: the CSV import of households (all or nothing, encodings, duplicates, roles)."""

from __future__ import annotations

import asyncio
import uuid

from httpx import AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory
from toit_emploi_api.vocab.roles import OrganisationKind, Role

URL = "/api/v1/households/import"
HEADER = "cle_foyer;situation_logement;date_consentement;portee_consentement;prenom;nom;date_naissance;role;codes_rome"
FILE = (
    HEADER
    + "\n"
    + "F1;hotel_115;2026-10-01;programme;Awa;Traoré;1988-02-01;head;F1703 F1606\n"
    + "F1;;;;Moussa;Traoré;1986-05-12;partner;\n"
    + "F1;;;;Lina;Traoré;2016-09-30;child;\n"
    + "F2;shelter;;;Éloïse;Ménard;1990-07-14;head;K1304\n"
)


async def post(client: AsyncClient, actor: Actor, body: str | bytes, **params: str) -> Response:
    content = body.encode() if isinstance(body, str) else body
    headers = actor.headers | {"Content-Type": "text/csv"}
    return await client.post(URL, content=content, headers=headers, params=params)


async def count(db: AsyncSession, table: str) -> int:
    await db.rollback()
    return int((await db.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_a_partner_imports_its_households(client: AsyncClient, actors: Factory, db: AsyncSession) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    r = await post(client, partner, FILE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dry_run"] is False
    assert (body["households"], body["members"]) == (2, 4)
    first, second = body["created"]
    assert (first["key"], first["lines"], first["members"]) == ("F1", [2, 3, 4], 3)
    assert first["reference"].startswith("TE-")
    assert first["referring_organisation_id"] == str(partner.organisation_id)
    assert second["lines"] == [5]
    read = await client.get(f"/api/v1/households/{first['id']}", headers=partner.headers)
    assert read.status_code == 200
    household = read.json()
    assert household["stage"] == "diagnostic"
    assert household["consent_scope"] == "programme"
    assert [m["first_name"] for m in household["members"]] == ["Awa", "Moussa", "Lina"]
    assert household["members"][0]["rome_codes"] == ["F1703", "F1606"]
    assert await count(db, "households") == 2
    assert await count(db, "audit_events WHERE action = 'household.create'") == 2
    assert await count(db, "audit_events WHERE action = 'household.import'") == 1


async def test_dry_run_writes_nothing(client: AsyncClient, actors: Factory, db: AsyncSession) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    r = await post(client, partner, FILE, dry_run="true")
    assert r.status_code == 200, r.text
    assert r.json()["dry_run"] is True
    assert [h["id"] for h in r.json()["created"]] == [None, None]
    assert await count(db, "households") == 0


async def test_every_bad_line_and_field_is_reported_and_nothing_written(
    client: AsyncClient, actors: Factory, db: AsyncSession
) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    bad = (
        HEADER + "\n"
        "F1;hotel_115;2026-10-01;programme;Awa;Traoré;1988-02-31;head;F1703\n"  # no 31 February
        "F1;shelter;;;Moussa;Traoré;1986-05-12;partner;\n"  # another housing situation for F1
        "F2;castle;;;Éloïse;Ménard;1990-07-14;boss;XX12\n"  # enum, role, ROME code
        "F3;street;2026-10-01;;Lina;Ménard;2016-09-30;child;F1703\n"  # consent without scope; child with ROME
        ";street;;;Nour;Ali;1990-01-01;head;\n"  # no key
        "F4;street;;;Nour;Ali;2015-01-01;head;\n"  # an adult of 11
        "F5;street\n"  # wrong number of cells
    )
    r = await post(client, partner, bad)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["type"] == "urn:toit-emploi:problem:import-invalid-rows"
    found = {(e["line"], e["field"]) for e in problem["row_errors"]}
    assert found == {
        (2, "date_naissance"),
        (3, "situation_logement"),
        (4, "situation_logement"),
        (4, "role"),
        (4, "codes_rome"),
        (5, "portee_consentement"),
        (5, "codes_rome"),
        (6, "cle_foyer"),
        (7, "date_naissance"),
        (8, "line"),
    }
    assert problem["invalid_lines"] == 7
    assert problem["errors"][0]["field"] == "lines.2.date_naissance"
    assert "Awa" not in r.text  # no personal data in the report
    assert await count(db, "households") == 0


async def test_windows_1252_and_commas(client: AsyncClient, actors: Factory) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    latin = FILE.replace(";", ",").encode("cp1252")
    r = await client.post(
        URL, content=latin, headers=partner.headers | {"Content-Type": "text/csv; charset=windows-1252"}
    )
    assert r.status_code == 200, r.text
    second = r.json()["created"][1]
    read = await client.get(f"/api/v1/households/{second['id']}", headers=partner.headers)
    assert read.json()["members"][0]["first_name"] == "Éloïse"
    # The same bytes read as UTF-8 are refused as a whole.
    r = await post(client, partner, latin)
    assert r.status_code == 422
    assert r.json()["type"] == "urn:toit-emploi:problem:import-unreadable"
    # A UTF-8 byte-order mark and upper-case headers are fine.
    r = await post(client, partner, "\ufeff" + FILE.replace(HEADER, HEADER.upper()))
    assert r.status_code == 200, r.text


async def test_unreadable_files(client: AsyncClient, actors: Factory) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    r = await post(client, partner, "cle_foyer;nom\nF1;X\n")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "header"
    assert "missing column(s)" in r.json()["detail"]
    assert (await post(client, partner, HEADER + "\n")).status_code == 422
    r = await client.post(URL, json={"households": []}, headers=partner.headers)
    assert r.status_code == 415


async def test_organisations_named_in_the_file(client: AsyncClient, actors: Factory, db: AsyncSession) -> None:
    charonne = await actors.organisation(OrganisationKind.REFERRAL_PARTNER, "association Charonne")
    samu = await actors.organisation(OrganisationKind.REFERRAL_PARTNER, "Samu social")
    landlord = await actors.landlord_org()
    referent = await actors.user(Role.PARIS_REFERENT)
    head = HEADER + ";organisation_orientatrice\n"
    lines = (
        "F1;street;;;Awa;Traoré;1988-02-01;head;;ASSOCIATION CHARONNE\n"
        f"F2;street;;;Nour;Ali;1990-01-01;head;;{samu}\n"
        "F3;street;;;Jean;Petit;1980-01-01;head;;\n"
    )
    r = await post(client, referent, head + lines)
    assert r.status_code == 200, r.text
    assert [h["referring_organisation_id"] for h in r.json()["created"]] == [
        str(charonne),
        str(samu),
        str(referent.organisation_id),
    ]
    r = await post(client, referent, head + f"F9;street;;;Jo;Lo;1980-01-01;head;;{landlord}\n")
    assert r.status_code == 422
    assert r.json()["row_errors"][0]["field"] == "organisation_orientatrice"
    # A partner worker names its own organisation only.
    partner = await actors.user(Role.PARTNER_WORKER, charonne)
    r = await post(client, partner, head + f"F9;street;;;Jo;Lo;1980-01-01;head;;{samu}\n")
    assert r.status_code == 422
    assert "own organisation" in r.json()["row_errors"][0]["message"]
    r = await post(client, partner, head + "F9;street;;;Jo;Lo;1980-01-01;head;;association charonne\n")
    assert r.status_code == 200, r.text


async def test_possible_duplicates_within_the_callers_visibility(client: AsyncClient, actors: Factory) -> None:
    mine = await actors.partner_org()
    other = await actors.organisation(OrganisationKind.REFERRAL_PARTNER)
    partner = await actors.user(Role.PARTNER_WORKER, mine)
    manager = await actors.user(Role.SERVICE_MANAGER)
    existing_mine = await actors.household(org=mine, first_name="Awa", last_name="Traore", adults=1, children=0)
    await actors.household(org=other, first_name="Awa", last_name="Traore", adults=1, children=0)
    # The factory names adults "<first_name><index>" and births them in 1985 + index.
    line = "F1;street;;;awa0;TRAORE;1985-03-14;head;\n"
    file = HEADER + "\n" + line + line.replace("F1", "F2")
    partner_view = (await post(client, partner, file, dry_run="true")).json()["possible_duplicates"]
    assert {(d["key"], d["household_id"]) for d in partner_view} == {
        ("F1", str(existing_mine.id)),
        ("F2", str(existing_mine.id)),
        ("F1", None),
        ("F2", None),
    }
    manager_view = (await post(client, manager, file, dry_run="true")).json()["possible_duplicates"]
    assert len([d for d in manager_view if d["household_id"]]) == 4  # both organisations' households


async def test_roles_and_template(client: AsyncClient, actors: Factory) -> None:
    for role in (Role.FUNDER, Role.LANDLORD):
        assert (await post(client, await actors.user(role), FILE)).status_code == 403
    partner = await actors.user(Role.PARTNER_WORKER)
    r = await client.get(f"{URL}/template", headers=partner.headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert set(HEADER.split(";")) <= set(r.text.lstrip("\ufeff").splitlines()[0].split(";"))
    # The template itself imports.
    assert (await post(client, partner, r.content)).status_code == 200


async def test_same_key_twenty_times_imports_once(client: AsyncClient, actors: Factory, db: AsyncSession) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    headers = partner.headers | {"Content-Type": "text/csv", "Idempotency-Key": str(uuid.uuid4())}
    responses = await asyncio.gather(*[client.post(URL, content=FILE.encode(), headers=headers) for _ in range(20)])
    assert {r.status_code for r in responses} == {200}
    assert sum("Idempotent-Replayed" not in r.headers for r in responses) == 1
    assert await count(db, "households") == 2


async def test_a_dry_run_and_the_import_are_two_requests_for_a_key(client: AsyncClient, actors: Factory) -> None:
    """The query string is part of the request an Idempotency-Key stands for."""
    partner = await actors.user(Role.PARTNER_WORKER)
    headers = partner.headers | {"Content-Type": "text/csv", "Idempotency-Key": "dry-then-real"}
    dry = await client.post(URL, content=FILE.encode(), headers=headers, params={"dry_run": "true"})
    assert dry.status_code == 200
    real = await client.post(URL, content=FILE.encode(), headers=headers)
    assert real.status_code == 422
    assert real.json()["type"] == "urn:toit-emploi:problem:idempotency-key-reused"
