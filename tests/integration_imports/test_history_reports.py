"""The programme report and the funnel over an imported history from 2015 to 2019 give the figures of the imported
files (JSON lines and CSV), for the service manager and for a funder (small cells suppressed); without the imported
history they give the live figures only; rolling an import back takes its figures out."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from httpx import AsyncClient

from tests.factories import Actor, Factory, move
from toit_emploi_api.vocab.roles import Role

IMPORT = "/api/v1/history/import"
PROGRAMME = "/api/v1/reports/programme"
FUNNEL = "/api/v1/reports/funnel"
REASONS = ("application_declined", "household_declined", "employer_declined", "relay_stay_inconclusive",
           "no_housing_found", "returned_to_paris", "lost_contact", "other")  # fmt: skip
LEFT = ("matching", "relay_stay", "lease", "follow_up")
FIGURES = ("applications_submitted", "households_retained", "adults", "children", "households_installed",
           "households_completed", "households_not_completed", "households_in_progress",
           "declined_at_diagnostic")  # fmt: skip
PATH = ("matching", "relay_stay", "lease", "follow_up", "completed")


def d(value: date) -> str:
    return value.isoformat()


class Places:
    def __init__(self, relay: uuid.UUID, past_home: uuid.UUID, opening: uuid.UUID, homes: list[uuid.UUID]) -> None:
        self.relay, self.past_home, self.opening, self.homes = relay, past_home, opening, homes


def family(
    key: str,
    opened: date,
    places: Places,
    final: str,
    *,
    left: str | None = None,
    reason: str | None = None,
    adults: int = 2,
    children: tuple[date, ...] = (),
    home: uuid.UUID | None = None,
) -> dict[str, Any]:
    """A household opened on `opened` that went along the path to `final` (or, withdrawn, left from `left`), its
    facts dated from its opening: matching +30, relay stay +60 to +63, lease +64, follow-up +120, completed +400."""
    o = opened
    members: list[dict[str, Any]] = [
        {"key": "a", "first_name": "Awa", "last_name": f"F{key}", "birth_date": "1981-04-02", "role": "head",
         "rome_codes": ["F1703"]},
    ]  # fmt: skip
    if adults > 1:
        members.append({"key": "b", "first_name": "Issa", "last_name": f"F{key}", "birth_date": "1986-09-15",
                        "role": "partner"})  # fmt: skip
    for i, born in enumerate(children):
        members.append({"key": f"c{i}", "first_name": f"E{i}", "last_name": f"F{key}", "birth_date": d(born),
                        "role": "child"})  # fmt: skip
    body: dict[str, Any] = {
        "key": key,
        "created_on": d(o),
        "housing_situation": "hotel_115",
        "consent_date": d(o),
        "consent_scope": "programme",
        "members": members,
    }
    if o.year > 2015:  # the 2015 spreadsheets did not keep the application's steps
        body["submitted_on"], body["presented_on"] = d(o + timedelta(10)), d(o + timedelta(20))
    reached = final if final != "withdrawn" else left
    if reached == "diagnostic":  # declined by the service manager
        body["moves"] = [{"to": "withdrawn", "on": d(o + timedelta(40)), "reason": reason, "note": "Non retenu."}]
        return body
    offsets = {"matching": 30, "relay_stay": 60, "lease": 64, "follow_up": 120, "completed": 400}
    stages = PATH[: PATH.index(str(reached)) + 1]
    moves: list[dict[str, Any]] = [{"to": s, "on": d(o + timedelta(offsets[s]))} for s in stages]
    if "relay_stay" in stages:
        validated = "lease" in stages
        placement: dict[str, Any] = {"member": "a", "job_opening_id": str(places.opening),
                                     "proposed_on": d(o + timedelta(35)), "interview_on": d(o + timedelta(45)),
                                     "status": "interview"}  # fmt: skip
        if validated:
            placement |= {"offered_on": d(o + timedelta(63)), "status": "hired", "closed_on": d(o + timedelta(64)),
                          "contract_type": "cdi", "start_date": d(o + timedelta(110))}  # fmt: skip
        body["placements"] = [placement]
        stay = {"unit_id": str(places.relay), "start_date": d(o + timedelta(60)), "end_date": d(o + timedelta(63)),
                "family_agrees": True, "employer_agrees": validated}  # fmt: skip
        if not validated:
            stay["note"] = "L'employeur ne donne pas suite."
        body["relay_stays"] = [stay]
    if "follow_up" in stages or home is not None:
        body["allocation"] = {"unit_id": str(home or places.past_home), "reserved_on": d(o + timedelta(64)),
                              "lease_signed_date": d(o + timedelta(90)),
                              "move_in_date": d(o + timedelta(100))}  # fmt: skip
    if "completed" in stages:
        body["closure"] = {"date": d(o + timedelta(400)), "note": "Droit commun."}
    if final == "withdrawn":
        last = date.fromisoformat(moves[-1]["on"])
        moves.append({"to": "withdrawn", "on": d(last + timedelta(10)), "reason": reason, "note": "Sortie."})
    body["moves"] = moves
    return body


def cohort(places: Places) -> list[dict[str, Any]]:
    """37 households opened from 2015 to 2019, one a week each year (one relay apartment: stays never overlap).

    Per year of retention: 2015 three completed, three left from matching, three declined; 2016 three completed
    (one child turns 18 between opening and retention: an adult of the report), three left after an inconclusive
    relay stay, one declined; 2017 three completed, three left from lease; 2018 three still in follow-up (their
    homes let now), three lost from follow-up; 2019 three in lease (one with its lease signed), three in matching,
    two in relay stay, one lost from matching."""
    plan: dict[int, list[dict[str, Any]]] = {
        2015: [{"final": "completed", "children": (date(2009, 5, 1),)}] * 3
        + [{"final": "withdrawn", "left": "matching", "reason": "returned_to_paris"}] * 3
        + [{"final": "withdrawn", "left": "diagnostic", "reason": "application_declined", "adults": 1}] * 3,
        2016: [{"final": "completed", "children": (date(2012, 1, 3), date(2014, 6, 6))}] * 2
        + [{"final": "completed", "children": (date(1998, 1, 20),)}]  # 17 on opening, 18 at retention
        + [{"final": "withdrawn", "left": "relay_stay", "reason": "relay_stay_inconclusive"}] * 3
        + [{"final": "withdrawn", "left": "diagnostic", "reason": "application_declined"}],
        2017: [{"final": "completed", "adults": 1, "children": (date(2010, 2, 2),)}] * 3
        + [{"final": "withdrawn", "left": "lease", "reason": "no_housing_found"}] * 3,
        2018: [{"final": "follow_up", "children": (date(2011, 3, 3), date(2013, 4, 4), date(2016, 5, 5))}] * 3
        + [{"final": "withdrawn", "left": "follow_up", "reason": "lost_contact"}] * 3,
        2019: [{"final": "lease"}] * 3
        + [{"final": "matching", "children": (date(2018, 8, 8),)}] * 3
        + [{"final": "relay_stay"}] * 2
        + [{"final": "withdrawn", "left": "matching", "reason": "lost_contact", "adults": 1}],
    }
    homes = iter(places.homes)
    out = []
    for year, households in plan.items():
        for i, spec in enumerate(households):
            spec = dict(spec)
            if spec["final"] == "follow_up" or (spec["final"] == "lease" and i == 0):
                spec["home"] = next(homes)
            out.append(family(f"{year}-{i:02d}", date(year, 1, 5) + timedelta(7 * i), places, **spec))
    return out


# --- the figures of the files, computed from the files themselves --------------------------------------------
def _zero() -> dict[str, Any]:
    return {**dict.fromkeys(FIGURES, 0), "withdrawals_by_reason": dict.fromkeys(REASONS, 0),
            "withdrawals_by_stage": dict.fromkeys(LEFT, 0)}  # fmt: skip


def figures_of(files: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The programme report's figures (whole, and per year of each figure's own date) from the households' files:
    retained = a move to matching (its date), adult = 18 or older on that date, the outcome = the last move."""
    groups: dict[str, dict[str, Any]] = defaultdict(_zero)
    for h in files:
        if h.get("submitted_on"):
            groups[h["submitted_on"][:4]]["applications_submitted"] += 1
        moves = h.get("moves", [])
        final = moves[-1]["to"] if moves else "diagnostic"
        retained = next((date.fromisoformat(m["on"]) for m in moves if m["to"] == "matching"), None)
        if final == "withdrawn" and retained is None:
            groups[moves[-1]["on"][:4]]["declined_at_diagnostic"] += 1
        if retained is None:
            continue
        g = groups[str(retained.year)]
        g["households_retained"] += 1
        for m in h["members"]:
            adult = date.fromisoformat(m["birth_date"]) <= retained.replace(year=retained.year - 18)
            g["adults" if adult else "children"] += 1
        g["households_installed"] += final in ("lease", "follow_up", "completed")
        g["households_completed"] += final == "completed"
        g["households_in_progress"] += final in ("matching", "relay_stay")
        if final == "withdrawn":
            g["households_not_completed"] += 1
            g["withdrawals_by_reason"][moves[-1]["reason"]] += 1
            g["withdrawals_by_stage"][moves[-2]["to"]] += 1
    total = _zero()
    for g in groups.values():
        for name in FIGURES:
            total[name] += g[name]
        for part in ("withdrawals_by_reason", "withdrawals_by_stage"):
            for cell, n in g[part].items():
                total[part][cell] += n
    return total, dict(groups)


def suppressed(figures: dict[str, Any], *, totals: bool) -> dict[str, Any]:
    """What a funder sees: a count of 1 or 2 is null and named (the totals' own figures never are)."""
    out, names = dict(figures), []
    if not totals:
        for name in FIGURES:
            if 1 <= out[name] <= 2:
                out[name] = None
                names.append(name)
    for part in ("withdrawals_by_reason", "withdrawals_by_stage"):
        out[part] = dict(out[part])
        for cell, n in out[part].items():
            if 1 <= n <= 2:
                out[part][cell] = None
                names.append(f"{part}.{cell}")
    out["suppressed"] = names
    return out


def shown(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report[k] for k in (*FIGURES, "withdrawals_by_reason", "withdrawals_by_stage")}


# --- the files -----------------------------------------------------------------------------------------------
def ndjson(files: list[dict[str, Any]]) -> bytes:
    return ("\n".join(json.dumps(h, ensure_ascii=False) for h in files) + "\n").encode()


CSV_COLUMNS = ("cle_foyer", "fait", "date", "situation_logement", "date_consentement", "portee_consentement",
               "date_transmission", "date_presentation",
               "cle_membre", "prenom", "nom", "date_naissance", "role", "codes_rome", "vers", "motif", "note", "offre",
               "date_entretien", "date_offre", "statut", "date_fin", "type_contrat", "date_debut_contrat",
               "logement", "accord_famille", "accord_employeur", "date_bail", "date_emmenagement")  # fmt: skip


def as_csv(files: list[dict[str, Any]]) -> bytes:
    """The same households as the CSV file (one line per fact, docs/integration.md), Windows-1252."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, delimiter=";", lineterminator="\n")
    writer.writeheader()
    yes = {True: "oui", False: "non"}
    for h in files:
        k = h["key"]
        writer.writerow({"cle_foyer": k, "fait": "foyer", "date": h["created_on"],
                         "situation_logement": h["housing_situation"], "date_consentement": h["consent_date"],
                         "portee_consentement": h["consent_scope"], "date_transmission": h.get("submitted_on"),
                         "date_presentation": h.get("presented_on")})  # fmt: skip
        for m in h["members"]:
            writer.writerow({"cle_foyer": k, "fait": "membre", "cle_membre": m["key"], "prenom": m["first_name"],
                             "nom": m["last_name"], "date_naissance": m["birth_date"], "role": m["role"],
                             "codes_rome": " ".join(m.get("rome_codes", []))})  # fmt: skip
        for mv in h["moves"]:
            writer.writerow({"cle_foyer": k, "fait": "etape", "date": mv["on"], "vers": mv["to"],
                             "motif": mv.get("reason") or "", "note": mv.get("note") or ""})  # fmt: skip
        for p in h.get("placements", []):
            writer.writerow({"cle_foyer": k, "fait": "mise_en_relation", "date": p["proposed_on"],
                             "cle_membre": p["member"], "offre": p["job_opening_id"],
                             "date_entretien": p.get("interview_on", ""), "date_offre": p.get("offered_on", ""),
                             "statut": p["status"], "date_fin": p.get("closed_on", ""),
                             "type_contrat": p.get("contract_type", ""),
                             "date_debut_contrat": p.get("start_date", "")})  # fmt: skip
        for s in h.get("relay_stays", []):
            writer.writerow({"cle_foyer": k, "fait": "sejour_relais", "date": s["start_date"], "logement": s["unit_id"],
                             "date_fin": s["end_date"], "accord_famille": yes[s["family_agrees"]],
                             "accord_employeur": yes[s["employer_agrees"]], "note": s.get("note", "")})  # fmt: skip
        if a := h.get("allocation"):
            writer.writerow({"cle_foyer": k, "fait": "attribution", "date": a["reserved_on"], "logement": a["unit_id"],
                             "date_bail": a["lease_signed_date"], "date_emmenagement": a["move_in_date"]})  # fmt: skip
        if c := h.get("closure"):
            writer.writerow({"cle_foyer": k, "fait": "cloture", "date": c["date"], "note": c["note"]})
    return out.getvalue().encode("cp1252")


async def places_for(arrange: Factory) -> Places:
    relay = await arrange.unit(relay=True)
    past_home = await arrange.unit(rooms=5)
    opening = await arrange.opening(positions=100)
    return Places(relay, past_home, opening, [await arrange.unit(rooms=5) for _ in range(4)])


async def report(client: AsyncClient, actor: Actor, url: str = PROGRAMME, **params: str) -> dict[str, Any]:
    r = await client.get(url, headers=actor.headers, params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_the_reports_over_an_imported_2015_2019_history_give_the_files_figures(
    client: AsyncClient, admin: Actor, arrange: Factory
) -> None:
    places = await places_for(arrange)
    files = cohort(places)
    total, by_year = figures_of(files)
    # The files' own figures, as a funder's table would print them (a check on the computation above).
    assert (total["households_retained"], total["adults"], total["children"]) == (33, 63, 22)
    assert (total["households_installed"], total["households_not_completed"], total["households_in_progress"]) == (
        15, 13, 5)  # fmt: skip
    assert (total["households_completed"], total["declined_at_diagnostic"]) == (9, 4)
    assert total["applications_submitted"] == 37 - 9  # every file but 2015's gives its submission
    assert sorted(by_year) == ["2015", "2016", "2017", "2018", "2019"]

    # Live work first: three households retained today through the API (the live figures).
    manager = await arrange.user(Role.SERVICE_MANAGER)
    funder = await arrange.user(Role.FUNDER)
    for _ in range(3):
        live = await arrange.household(adults=2, children=2)
        assert (await move(client, manager, live.id, "matching")).status_code == 201
    live_report = await report(client, manager)
    assert (live_report["households_retained"], live_report["adults"], live_report["children"]) == (3, 6, 6)

    # The 2015-2017 cohorts as CSV (Windows-1252), 2018-2019 as JSON lines: two imports.
    early = [h for h in files if h["key"] < "2018"]
    late = [h for h in files if h["key"] >= "2018"]
    csv_headers = admin.headers | {"Content-Type": "text/csv; charset=windows-1252"}
    dry = await client.post(IMPORT, content=as_csv(early), headers=csv_headers, params={"dry_run": "true"})
    assert dry.status_code == 200, dry.text
    first = await client.post(IMPORT, content=as_csv(early), headers=csv_headers)
    assert first.status_code == 201, first.text
    second = await client.post(
        IMPORT, content=ndjson(late), headers=admin.headers | {"Content-Type": "application/x-ndjson"}
    )
    assert second.status_code == 201, second.text

    # Over the history (retained from 2015 to 2019): the figures of the files, whole and per year.
    period = {"retained_since": "2015-01-01", "retained_before": "2020-01-01"}
    got = await report(client, manager, group_by="retention_year", **period)
    assert shown(got) == total
    assert {g["key"]: shown(g) for g in got["groups"]} == by_year
    assert got["include_imported"] is True
    # Every period: the history and the live households together; without the history, the live ones only.
    everything = await report(client, manager)
    assert everything["households_retained"] == total["households_retained"] + 3
    assert everything["adults"] == total["adults"] + 6
    without = await report(client, manager, include_imported="false")
    assert shown(without) == shown(live_report)
    assert without["include_imported"] is False
    assert (await report(client, manager, include_imported="false", **period))["households_retained"] == 0

    # A funder: the same figures, the small cells (1 or 2 households) suppressed and named.
    seen = await report(client, funder, group_by="retention_year", **period)
    assert {**shown(seen), "suppressed": seen["suppressed"]} == suppressed(total, totals=True)
    for g in seen["groups"]:
        assert {**shown(g), "suppressed": g["suppressed"]} == suppressed(by_year[g["key"]], totals=False)
    groups = {g["key"]: g for g in seen["groups"]}
    assert groups["2016"]["declined_at_diagnostic"] is None  # one declined application in 2016
    assert "withdrawals_by_reason.lost_contact" in groups["2019"]["suppressed"]
    assert groups["2018"]["withdrawals_by_reason"]["lost_contact"] == 3

    # The funnel over the history: each step reached as the files say.
    funnel = await report(client, manager, FUNNEL, group_by="retention_year", **period)
    reached = {s["step"]: s["reached"] for s in funnel["steps"]}
    retained_files = [h for h in files if any(m["to"] == "matching" for m in h["moves"])]
    for stage in PATH:
        assert reached[stage] == sum(1 for h in retained_files if any(m["to"] == stage for m in h["moves"])), stage
    assert reached["diagnostic"] == len(retained_files)  # the cohort: retained in the period
    assert reached["application_submitted"] == sum(1 for h in retained_files if h.get("submitted_on"))
    assert reached["application_presented"] == reached["application_submitted"] == 33 - 6
    passes = {s["stage"]: s["passes"] for s in funnel["stage_durations"]}
    assert passes["relay_stay"] == sum(
        1 for h in retained_files if any(m["to"] == "relay_stay" for m in h["moves"][:-1])
    )
    live_funnel = await report(client, manager, FUNNEL, include_imported="false")
    assert {s["step"]: s["reached"] for s in live_funnel["steps"]}["matching"] == 3

    # Rolling back the CSV import takes the 2015-2017 figures out; the rest stays.
    url = f"/api/v1/history/imports/{first.json()['id']}"
    tag = (await client.get(url, headers=admin.headers)).headers["ETag"]
    done = await client.post(f"{url}/rollback", headers=admin.headers | {"If-Match": tag})
    assert done.status_code == 200, done.text
    after = await report(client, manager, group_by="retention_year", **period)
    late_total, late_by_year = figures_of(late)
    assert shown(after) == late_total
    assert {g["key"]: shown(g) for g in after["groups"]} == late_by_year
    assert shown(await report(client, manager, include_imported="false")) == shown(live_report)
