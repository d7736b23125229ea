"""The rules of live work applied to a past household, date by date (pure: no database).

Each stage move is decided by the pipeline's own table (`pipeline.rules.evaluate`), with the facts as they were on
the move's date (`facts_as_of`): a relay stay counts as booked from its `booked_on` (default: when the household
last entered matching before it) until it ends, its outcome counts from its last day, a placement's status on a date
is the last one reached by then, consent counts from its date, the lease from its signature. What differs from live
work: dates go back to the programme's launch (2014-01-01), and an adult's or child's age is checked on the day the
file was opened, not today.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from toit_emploi_api.core import clock
from toit_emploi_api.households.schemas import PROFILE_FIELDS
from toit_emploi_api.integration.history_schemas import (
    HistoryHousehold,
    HistoryLineError,
    HistoryPlacement,
)
from toit_emploi_api.pipeline import rules
from toit_emploi_api.pipeline.allocations import ALLOCATION_STAGES, bedrooms, required_bedrooms
from toit_emploi_api.pipeline.placements import PLACEMENT_STAGES
from toit_emploi_api.pipeline.relay_stays import OUTCOME_STAGES, RELAY_STAGES
from toit_emploi_api.vocab.stages import TERMINAL_STAGES, Stage
from toit_emploi_api.vocab.statuses import MemberRole, PlacementStatus, UnitStatus

MEETING: frozenset[PlacementStatus] = frozenset(
    {PlacementStatus.INTERVIEW, PlacementStatus.OFFERED, PlacementStatus.HIRED}
)
CLOSED: frozenset[PlacementStatus] = frozenset(
    {PlacementStatus.HIRED, PlacementStatus.DECLINED, PlacementStatus.CANCELLED}
)
_ROLE = rules.ADMIN  # the importer: an admin may take every move a service manager may


@dataclass
class Known:
    """What the database says about the records the file names."""

    organisations: set[uuid.UUID] = field(default_factory=set)  # active referral partners and the operator
    units: dict[uuid.UUID, bool] = field(default_factory=dict)  # unit id → is a relay apartment
    stays: dict[uuid.UUID, list[tuple[date, date]]] = field(default_factory=dict)  # unit → its stays (not cancelled)
    allocated_units: set[uuid.UUID] = field(default_factory=set)  # units with an active allocation
    unit_statuses: dict[uuid.UUID, UnitStatus] = field(default_factory=dict)  # unit → its status now
    unit_rooms: dict[uuid.UUID, int] = field(default_factory=dict)  # unit → its rooms (living room included)
    openings: dict[uuid.UUID, tuple[int, int]] = field(default_factory=dict)  # opening → (positions, hires)


@dataclass
class Checked:
    """A household that passed: its moves with their from-stage, and the booking date of each relay stay."""

    line: int
    household: HistoryHousehold
    path: list[tuple[Stage, Stage, date]]
    booked_on: list[date]

    @property
    def stage(self) -> Stage:
        return self.path[-1][1] if self.path else Stage.DIAGNOSTIC


class _Errors:
    def __init__(self, line: int, key: str | None) -> None:
        self.line, self.key = line, key
        self.found: list[HistoryLineError] = []

    def add(self, where: str, message: str) -> None:
        self.found.append(HistoryLineError(line=self.line, key=self.key, field=where, message=message))


def placement_status_on(placement: HistoryPlacement, day: date) -> PlacementStatus | None:
    """The placement's status on `day`: the last one reached by then (None before it was proposed)."""
    timeline: list[tuple[date | None, PlacementStatus]] = [
        (placement.proposed_on, PlacementStatus.PROPOSED),
        (placement.interview_on, PlacementStatus.INTERVIEW),
        (placement.offered_on, PlacementStatus.OFFERED),
        (placement.closed_on if placement.status in CLOSED else None, placement.status),
    ]
    reached = [status for when, status in timeline if when is not None and when <= day]
    return reached[-1] if reached else None


def facts_as_of(
    household: HistoryHousehold, booked_on: list[date], day: date, stage_since: date, move: dict[str, Any]
) -> rules.HouseholdFacts:
    """The pipeline's facts about `household` on `day` (the current stage entered on `stage_since`)."""
    adults = [m for m in household.members if m.role is not MemberRole.CHILD]
    stays = list(zip(household.relay_stays, booked_on, strict=True))
    pending = [s for s, booked in stays if booked <= day < s.end_date]
    ended = sorted((s for s, _ in stays if stage_since <= s.end_date <= day), key=lambda s: s.end_date)
    latest = ended[-1] if ended else None
    statuses = [(p, placement_status_on(p, day)) for p in household.placements]
    allocation = household.allocation
    closure = household.closure
    values: dict[str, Any] = {
        "adult_count": len(adults),
        "adults_with_rome_profile": sum(1 for m in adults if m.rome_codes),
        "consent_recorded": household.consent_date is not None and household.consent_date <= day,
        "relay_stay_booked": any(True for s in pending),
        "placements_with_employer_meeting": sum(1 for _, status in statuses if status in MEETING),
        "relay_stay_outcome": None
        if latest is None
        else ("validated" if latest.family_agrees and latest.employer_agrees else "disagreed"),
        "relay_stay_disagreement_reason_recorded": bool(latest and latest.note and latest.note.strip()),
        "relay_stay_still_booked": bool(pending),
        "hired_placement_with_contract": any(
            status is PlacementStatus.HIRED and p.contract_type and p.start_date for p, status in statuses
        ),
        "allocation_lease_signed": allocation is not None and allocation.lease_signed_date <= day,
        "closure_date_and_note": closure is not None and closure.date <= day,
        "reason": move.get("reason"),
        "note": move.get("note"),
        # The application's own steps (issue 11): a household retained for matching was presented, by definition.
        "application_presented": True,
    }
    names = {f.name for f in dataclasses.fields(rules.HouseholdFacts)}
    return rules.HouseholdFacts(**{k: v for k, v in values.items() if k in names})


def _booked_on(household: HistoryHousehold) -> list[date]:
    """When each relay stay was booked: the last entry into matching on or before its start (or its start)."""
    entries = [m.on for m in household.moves if m.to is Stage.MATCHING]
    return [max((d for d in entries if d <= s.start_date), default=s.start_date) for s in household.relay_stays]


def _check_dates(h: HistoryHousehold, errors: _Errors, today: date) -> None:
    def later(where: str, value: date | None) -> None:
        if value is not None and value > today:
            errors.add(where, "must not be in the future")

    later("created_on", h.created_on)
    later("consent_date", h.consent_date)
    later("submitted_on", h.submitted_on)
    later("presented_on", h.presented_on)
    for i, m in enumerate(h.moves):
        later(f"moves.{i}.on", m.on)
        if m.on < h.created_on:
            errors.add(f"moves.{i}.on", "before the file was opened (created_on)")
    for i, p in enumerate(h.placements):
        for name in ("proposed_on", "interview_on", "offered_on", "closed_on"):
            later(f"placements.{i}.{name}", getattr(p, name))
    for i, s in enumerate(h.relay_stays):
        later(f"relay_stays.{i}.end_date", s.end_date)
    if h.allocation:
        later("allocation.move_in_date", h.allocation.move_in_date)
    for i, e in enumerate(h.follow_up_entries):
        later(f"follow_up_entries.{i}.entry_date", e.entry_date)
    if h.closure:
        later("closure.date", h.closure.date)


def _check_members(h: HistoryHousehold, errors: _Errors) -> dict[str, bool]:
    """Members' keys, ages on the day the file was opened, profile for adults, schooling for children."""
    adults: dict[str, bool] = {}
    for i, m in enumerate(h.members):
        if m.key in adults:
            errors.add(f"members.{i}.key", "used twice in this household")
        child = m.role is MemberRole.CHILD
        adults[m.key] = not child
        age = clock.age_on(m.birth_date, h.created_on)
        if child and age >= clock.ADULT_AGE:
            errors.add(f"members.{i}.birth_date", "a child must be under 18 when the file was opened")
        if not child and age < clock.ADULT_AGE:
            errors.add(f"members.{i}.birth_date", "an adult must be 18 or older when the file was opened")
        if child and any(getattr(m, name) not in (None, []) for name in PROFILE_FIELDS):
            errors.add(f"members.{i}.rome_codes", "only adults carry a professional profile")
        if not child and m.schooling_level is not None:
            errors.add(f"members.{i}.schooling_level", "only children carry a schooling level")
    return adults


def _check_placements(h: HistoryHousehold, adults: dict[str, bool], known: Known, errors: _Errors) -> None:
    for i, p in enumerate(h.placements):
        where = f"placements.{i}"
        if not adults.get(p.member, False):
            errors.add(f"{where}.member", "must name an adult member of the household (its key)")
        if p.job_opening_id not in known.openings:
            errors.add(f"{where}.job_opening_id", "unknown job opening")
        dates = [d for d in (p.proposed_on, p.interview_on, p.offered_on, p.closed_on) if d is not None]
        if dates != sorted(dates):
            errors.add(where, "proposed_on, interview_on, offered_on and closed_on must follow one another")
        if (p.status in CLOSED) != (p.closed_on is not None):
            errors.add(f"{where}.closed_on", "required exactly when the status is hired, declined or cancelled")
        if p.status is PlacementStatus.HIRED and (p.contract_type is None or p.start_date is None):
            errors.add(f"{where}.contract_type", "a hire needs its contract type and start date")
        if p.status is PlacementStatus.HIRED and p.offered_on is None:
            errors.add(f"{where}.offered_on", "a hire follows an offer: give its date")
        if (p.status is PlacementStatus.DECLINED) != (p.declined_by is not None):
            errors.add(f"{where}.declined_by", "required exactly when the status is declined")
        needs = {PlacementStatus.INTERVIEW: p.interview_on, PlacementStatus.OFFERED: p.offered_on}
        if p.status in needs and needs[p.status] is None:
            errors.add(where, f"status {p.status.value} needs its date")


def _check_stays(
    h: HistoryHousehold, known: Known, taken: dict[uuid.UUID, list[tuple[date, date, str]]], errors: _Errors
) -> None:
    for i, s in enumerate(h.relay_stays):
        where = f"relay_stays.{i}"
        if not 2 <= (s.end_date - s.start_date).days <= 4:
            errors.add(f"{where}.end_date", "a relay stay lasts 3 to 5 days (inclusive)")
        if known.units.get(s.unit_id) is not True:
            errors.add(f"{where}.unit_id", "must be a relay apartment")
        if not (s.family_agrees and s.employer_agrees) and not (s.note and s.note.strip()):
            errors.add(f"{where}.note", "why a party disagreed is required")
        for start, end, owner in [*((a, b, "") for a, b in known.stays.get(s.unit_id, [])), *taken[s.unit_id]]:
            if start <= s.end_date and s.start_date <= end:
                who = f"household {owner} of the file" if owner else "a stay already recorded"
                errors.add(where, f"overlaps {who} in this relay apartment ({start} to {end})")
                break
        taken[s.unit_id].append((s.start_date, s.end_date, h.key))


def _check_allocation(
    h: HistoryHousehold,
    path: list[tuple[Stage, Stage, date]],
    known: Known,
    leased: dict[uuid.UUID, str],
    errors: _Errors,
) -> None:
    """The allocated home: an existing unit, not a relay apartment, reserved while in relay_stay or lease, dates in
    order. A household still in its lease (final stage lease or follow_up) holds the unit now: it must be vacant,
    with no active allocation recorded or in the file (it becomes `let`)."""
    a = h.allocation
    if a is None:
        return
    final = path[-1][1] if path else Stage.DIAGNOSTIC
    if a.unit_id not in known.units:
        errors.add("allocation.unit_id", "unknown housing unit")
    elif known.units[a.unit_id]:
        errors.add("allocation.unit_id", "a relay apartment is not allocated to a household")
    elif a.unit_id in known.unit_rooms and not a.override_reason:
        needed = required_bedrooms(sum(1 for m in h.members if m.role is MemberRole.CHILD))
        has = bedrooms(known.unit_rooms[a.unit_id])
        if has < needed:
            errors.add(
                "allocation.unit_id",
                f"the unit has {has} bedroom(s); the household needs {needed}: give an override_reason",
            )
    if not a.reserved_on <= a.lease_signed_date <= a.move_in_date:
        errors.add("allocation", "reserved_on, lease_signed_date and move_in_date must follow one another")
    into_lease = [i for i, (_, to, _) in enumerate(path) if to is Stage.LEASE]
    if not into_lease and not errors.found:
        errors.add("allocation", "an allocation goes with a household that reached lease")
    elif into_lease:
        i = into_lease[-1]
        start = path[i - 1][2]  # the move into relay_stay that led to the lease
        end = path[i + 1][2] if i + 1 < len(path) else None
        if a.reserved_on < start or (end is not None and a.reserved_on > end):
            where = f"between {start} and {end}" if end is not None else f"on or after {start}"
            stages = " or ".join(s.value for s in ALLOCATION_STAGES)
            errors.add("allocation.reserved_on", f"a unit is reserved during {stages} ({where})")
    if final in TERMINAL_STAGES or a.unit_id not in known.units:
        return
    status = known.unit_statuses.get(a.unit_id)
    if a.unit_id in known.allocated_units:
        errors.add("allocation.unit_id", "the unit already has an active allocation")
    elif a.unit_id in leased:
        errors.add(
            "allocation.unit_id", f"household {leased[a.unit_id]} of the file is still in its lease in this unit"
        )
    elif status is not UnitStatus.VACANT:
        shown = status.value if status is not None else "unknown"
        errors.add(
            "allocation.unit_id",
            f"the unit is {shown}: a household still in its lease needs a vacant unit (it becomes let)",
        )
    leased.setdefault(a.unit_id, h.key)


def _walk(h: HistoryHousehold, booked_on: list[date], errors: _Errors) -> list[tuple[Stage, Stage, date]]:
    """Every move, in order, decided by the pipeline's rules with the facts as of its date."""
    stage, since = Stage.DIAGNOSTIC, h.created_on
    path: list[tuple[Stage, Stage, date]] = []
    for i, move in enumerate(h.moves):
        if move.on < since:
            errors.add(f"moves.{i}.on", f"before the previous move ({since})")
            return path
        facts = facts_as_of(h, booked_on, move.on, since, move.model_dump())
        decision = rules.evaluate(stage, move.to, _ROLE, facts)
        if not decision.allowed:
            detail = f"{stage.value} → {move.to.value} on {move.on} refused: {decision.rule}"
            if decision.unmet:
                detail += " (" + ", ".join(decision.codes) + ")"
            errors.add(f"moves.{i}.to", detail)
            return path
        path.append((stage, move.to, move.on))
        stage, since = move.to, move.on
    return path


Period = tuple[Stage, date, date | None]


def periods(h: HistoryHousehold, path: list[tuple[Stage, Stage, date]]) -> list[Period]:
    """The household's time in each stage: (stage, entered, left; None while still in it), from its opening."""
    starts = [(Stage.DIAGNOSTIC, h.created_on), *((to, on) for _, to, on in path)]
    return [(stage, on, starts[i + 1][1] if i + 1 < len(starts) else None) for i, (stage, on) in enumerate(starts)]


def _during(spans: list[Period], stages: tuple[Stage, ...], day: date) -> bool:
    """Whether the household was in one of `stages` on `day` (a move's day belongs to both stages)."""
    return any(stage in stages and start <= day and (end is None or day <= end) for stage, start, end in spans)


def _check_windows(h: HistoryHousehold, path: list[tuple[Stage, Stage, date]], errors: _Errors) -> None:
    """Live work records placements while in matching, relay_stay or lease, books relay stays in matching or
    relay_stay and records their outcome in relay_stay: each dated fact must fall in such a period."""
    spans = periods(h, path)
    stages = "/".join(s.value for s in PLACEMENT_STAGES)
    for i, p in enumerate(h.placements):
        for name in ("proposed_on", "interview_on", "offered_on", "closed_on"):
            day = getattr(p, name)
            if day is not None and not _during(spans, PLACEMENT_STAGES, day):
                errors.add(f"placements.{i}.{name}", f"placements are proposed and change while in {stages}")
    for i, s in enumerate(h.relay_stays):
        if not _during(spans, RELAY_STAGES, s.start_date):
            errors.add(f"relay_stays.{i}.start_date", "a relay stay is booked while in matching or relay_stay")
        elif not _during(spans, OUTCOME_STAGES, s.end_date):
            errors.add(
                f"relay_stays.{i}.end_date",
                "a relay stay's outcome is recorded while in relay_stay: the household was not in relay_stay on its "
                "last day (a withdrawal during a stay cancels it: leave it out)",
            )
    open_pairs: set[tuple[str, uuid.UUID]] = set()
    for i, p in enumerate(h.placements):
        if p.status in CLOSED:
            continue
        if (p.member, p.job_opening_id) in open_pairs:
            errors.add(f"placements.{i}", "this adult already has an open placement on this job opening")
        open_pairs.add((p.member, p.job_opening_id))


def _check_after_walk(h: HistoryHousehold, path: list[tuple[Stage, Stage, date]], errors: _Errors) -> None:
    final = path[-1][1] if path else Stage.DIAGNOSTIC
    # The application's steps: submitted, then presented, inside diagnostic (before the first move).
    left_diagnostic = path[0][2] if path else None
    steps = (("submitted_on", h.submitted_on), ("presented_on", h.presented_on))
    for name, day in steps:
        if day is not None and (day < h.created_on or (left_diagnostic is not None and day > left_diagnostic)):
            errors.add(name, "the application's steps are dated inside diagnostic (from created_on to the first move)")
    if h.presented_on is not None and (h.submitted_on is None or h.presented_on < h.submitted_on):
        errors.add("presented_on", "an application is presented after its submission (submitted_on)")
    if (h.closure is not None) != (final is Stage.COMPLETED):
        errors.add("closure", "a closure (date and note) goes with a household that ended completed")
    elif h.closure is not None and h.closure.date != path[-1][2]:
        errors.add("closure.date", "must be the date of the move to completed")
    # The periods in follow_up: from the move into it to the next move (or today).
    periods = [(on, path[i + 1][2] if i + 1 < len(path) else None) for i, (_, to, on) in enumerate(path)]
    follow_up = [period for period, (_, to, _) in zip(periods, path, strict=True) if to is Stage.FOLLOW_UP]
    for i, entry in enumerate(h.follow_up_entries):
        inside = any(start <= entry.entry_date and (end is None or entry.entry_date <= end) for start, end in follow_up)
        if not inside:
            errors.add(f"follow_up_entries.{i}.entry_date", "follow-up entries are dated during follow_up")


def check(
    households: list[tuple[int, HistoryHousehold]], known: Known, today: date
) -> tuple[list[Checked], list[HistoryLineError]]:
    """Every household checked; the households that passed and every problem with its line."""
    keys = Counter(h.key for _, h in households)
    checked: list[Checked] = []
    problems: list[HistoryLineError] = []
    taken: dict[uuid.UUID, list[tuple[date, date, str]]] = {u: [] for u in known.units}
    hires: Counter[uuid.UUID] = Counter()
    leased: dict[uuid.UUID, str] = {}  # unit → the household of the file still in its lease there
    for line, h in households:
        errors = _Errors(line, h.key)
        if keys[h.key] > 1:
            errors.add("key", "used by more than one line of the file")
        if h.referring_organisation_id is not None and h.referring_organisation_id not in known.organisations:
            errors.add("referring_organisation_id", "unknown or inactive referring organisation")
        _check_dates(h, errors, today)
        adults = _check_members(h, errors)
        _check_placements(h, adults, known, errors)
        _check_stays(h, known, taken, errors)
        booked_on = _booked_on(h)
        path = _walk(h, booked_on, errors) if not errors.found else []
        if not errors.found:
            _check_after_walk(h, path, errors)
            _check_windows(h, path, errors)
        _check_allocation(h, path, known, leased, errors)
        for i, p in enumerate(h.placements):
            if p.status is PlacementStatus.HIRED and p.job_opening_id in known.openings:
                hires[p.job_opening_id] += 1
                positions, already = known.openings[p.job_opening_id]
                if already + hires[p.job_opening_id] > positions:
                    errors.add(f"placements.{i}.job_opening_id", "more hires than the job opening's positions")
        problems += errors.found
        if not errors.found:
            checked.append(Checked(line, h, path, booked_on))
    return checked, problems
