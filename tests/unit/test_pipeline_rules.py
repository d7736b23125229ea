"""Unit tests of the pure pipeline rules (stage moves, guards, roles, placements).

Expectations are written out literally here (not derived from the module's table) so that any change of
the table makes these tests fail.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable

import pytest

from toit_emploi_api.pipeline.rules import (
    CONDITION_CODES,
    KNOWN_ROLES,
    TRANSITIONS,
    Condition,
    Decision,
    HouseholdFacts,
    allowed_targets,
    evaluate,
    permitted_targets,
    placement_move_allowed,
    placement_targets,
)
from toit_emploi_api.vocab.stages import (
    ACTIVE_STAGES,
    TERMINAL_STAGES,
    Stage,
    WithdrawalReason,
    is_valid_withdrawal_reason,
)
from toit_emploi_api.vocab.statuses import OPEN_PLACEMENT_STATUSES, TERMINAL_PLACEMENT_STATUSES, PlacementStatus

S = Stage
P = PlacementStatus

ALL_ROLES = ("admin", "service_manager", "paris_referent", "partner_worker", "landlord", "funder")

WITHDRAWAL_CODES = ("withdrawal_reason_missing", "withdrawal_reason_invalid", "withdrawal_note_missing")

# (from, to) -> guard codes, in the order they must be reported.
EXPECTED_GUARDS: dict[tuple[Stage, Stage], tuple[str, ...]] = {
    (S.DIAGNOSTIC, S.MATCHING): (
        "application_not_presented",
        "no_adult_member",
        "no_professional_profile",
        "consent_missing",
    ),
    (S.MATCHING, S.RELAY_STAY): ("relay_stay_not_booked", "no_placement_with_employer_meeting"),
    (S.RELAY_STAY, S.LEASE): ("relay_stay_not_validated", "relay_stay_still_booked"),
    (S.RELAY_STAY, S.MATCHING): ("relay_stay_not_disagreed", "disagreement_reason_missing", "relay_stay_still_booked"),
    (S.LEASE, S.FOLLOW_UP): ("no_signed_contract", "no_lease_signed"),
    (S.FOLLOW_UP, S.COMPLETED): ("closure_missing",),
    (S.DIAGNOSTIC, S.WITHDRAWN): WITHDRAWAL_CODES,
    (S.MATCHING, S.WITHDRAWN): WITHDRAWAL_CODES,
    (S.RELAY_STAY, S.WITHDRAWN): WITHDRAWAL_CODES,
    (S.LEASE, S.WITHDRAWN): WITHDRAWAL_CODES,
    (S.FOLLOW_UP, S.WITHDRAWN): WITHDRAWAL_CODES,
}
ALLOWED_MOVES = tuple(EXPECTED_GUARDS)
ALL_PAIRS = tuple(itertools.product(Stage, Stage))
REFUSED_PAIRS = tuple(pair for pair in ALL_PAIRS if pair not in EXPECTED_GUARDS)

MANAGERS = frozenset({"admin", "service_manager"})
EXPECTED_ROLES: dict[tuple[Stage, Stage], frozenset[str]] = dict.fromkeys(ALLOWED_MOVES, MANAGERS) | {
    (S.DIAGNOSTIC, S.WITHDRAWN): MANAGERS | {"paris_referent", "partner_worker"}
}

ALL_CODES = (
    "application_not_presented",
    "no_adult_member",
    "no_professional_profile",
    "consent_missing",
    "relay_stay_not_booked",
    "no_placement_with_employer_meeting",
    "relay_stay_not_validated",
    "relay_stay_not_disagreed",
    "disagreement_reason_missing",
    "relay_stay_still_booked",
    "no_signed_contract",
    "no_lease_signed",
    "closure_missing",
    "withdrawal_reason_missing",
    "withdrawal_note_missing",
    "withdrawal_reason_invalid",
)


def satisfied_facts(move: tuple[Stage, Stage] | None = None) -> HouseholdFacts:
    """Facts under which every guard of ``move`` holds (a relay stay is validated or disagreed, not both)."""
    facts = HouseholdFacts(
        application_presented=True,
        adult_count=2,
        adults_with_rome_profile=1,
        consent_recorded=True,
        relay_stay_booked=True,
        placements_with_employer_meeting=1,
        relay_stay_outcome="validated",
        relay_stay_disagreement_reason_recorded=True,
        hired_placement_with_contract=True,
        allocation_lease_signed=True,
        closure_date_and_note=True,
        reason="household_declined",
        note="The family chose to stay near relatives.",
    )
    if move == (S.RELAY_STAY, S.MATCHING):
        facts = dataclasses.replace(facts, relay_stay_outcome="disagreed")
    return facts


# code -> how to break that guard alone, starting from satisfied facts.
BREAKERS: dict[str, Callable[[HouseholdFacts], HouseholdFacts]] = {
    "application_not_presented": lambda f: dataclasses.replace(f, application_presented=False),
    "no_adult_member": lambda f: dataclasses.replace(f, adult_count=0),
    "no_professional_profile": lambda f: dataclasses.replace(f, adults_with_rome_profile=0),
    "consent_missing": lambda f: dataclasses.replace(f, consent_recorded=False),
    "relay_stay_not_booked": lambda f: dataclasses.replace(f, relay_stay_booked=False),
    "no_placement_with_employer_meeting": lambda f: dataclasses.replace(f, placements_with_employer_meeting=0),
    "relay_stay_not_validated": lambda f: dataclasses.replace(f, relay_stay_outcome=None),
    "relay_stay_not_disagreed": lambda f: dataclasses.replace(f, relay_stay_outcome="validated"),
    "disagreement_reason_missing": lambda f: dataclasses.replace(f, relay_stay_disagreement_reason_recorded=False),
    "relay_stay_still_booked": lambda f: dataclasses.replace(f, relay_stay_still_booked=True),
    "no_signed_contract": lambda f: dataclasses.replace(f, hired_placement_with_contract=False),
    "no_lease_signed": lambda f: dataclasses.replace(f, allocation_lease_signed=False),
    "closure_missing": lambda f: dataclasses.replace(f, closure_date_and_note=False),
    "withdrawal_reason_missing": lambda f: dataclasses.replace(f, reason=None),
    "withdrawal_reason_invalid": lambda f: dataclasses.replace(f, reason="bored"),
    "withdrawal_note_missing": lambda f: dataclasses.replace(f, note=None),
}

MOVE_GUARD_CASES = tuple((move, code) for move, codes in EXPECTED_GUARDS.items() for code in codes)


def _id(value: object) -> str:
    if isinstance(value, tuple):
        return "->".join(str(part) for part in value)
    return str(value)


# ----------------------------------------------------------------------------------------------------
# Stages
# ----------------------------------------------------------------------------------------------------


def test_stage_values_in_path_order() -> None:
    assert [stage.value for stage in Stage] == [
        "diagnostic",
        "matching",
        "relay_stay",
        "lease",
        "follow_up",
        "completed",
        "withdrawn",
    ]


def test_active_and_terminal_stages_partition_all_stages() -> None:
    assert frozenset({"diagnostic", "matching", "relay_stay", "lease", "follow_up"}) == ACTIVE_STAGES
    assert frozenset({"completed", "withdrawn"}) == TERMINAL_STAGES
    assert not ACTIVE_STAGES & TERMINAL_STAGES
    assert frozenset(Stage) == ACTIVE_STAGES | TERMINAL_STAGES


def test_withdrawal_reason_values() -> None:
    assert {reason.value for reason in WithdrawalReason} == {
        "application_declined",
        "household_declined",
        "employer_declined",
        "relay_stay_inconclusive",
        "no_housing_found",
        "returned_to_paris",
        "lost_contact",
        "other",
    }


def test_known_roles() -> None:
    assert frozenset(ALL_ROLES) == KNOWN_ROLES


# ----------------------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------------------


def test_table_has_exactly_the_expected_moves() -> None:
    assert set(TRANSITIONS) == set(EXPECTED_GUARDS)


@pytest.mark.parametrize("move", ALLOWED_MOVES, ids=_id)
def test_table_guards_in_expected_order(move: tuple[Stage, Stage]) -> None:
    assert tuple(guard.code for guard in TRANSITIONS[move].guards) == EXPECTED_GUARDS[move]


@pytest.mark.parametrize("move", ALLOWED_MOVES, ids=_id)
def test_table_roles(move: tuple[Stage, Stage]) -> None:
    assert TRANSITIONS[move].allowed_roles == EXPECTED_ROLES[move]


def test_condition_codes_are_exactly_the_documented_ones() -> None:
    assert frozenset(ALL_CODES) == CONDITION_CODES
    assert len(ALL_CODES) == len(set(ALL_CODES))


def test_condition_codes_are_snake_case_with_messages() -> None:
    for move in TRANSITIONS.values():
        for guard in move.guards:
            assert re.fullmatch(r"[a-z]+(_[a-z]+)*", guard.code)
            assert guard.message.strip()
            assert guard.condition == Condition(guard.code, guard.message)


def test_every_guard_code_has_a_breaker() -> None:
    assert set(BREAKERS) == set(ALL_CODES)


def test_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[S.COMPLETED, S.DIAGNOSTIC] = TRANSITIONS[S.DIAGNOSTIC, S.MATCHING]  # type: ignore[index]


def test_no_move_leaves_a_terminal_stage_and_only_one_goes_back() -> None:
    order = list(Stage)
    for current, target in TRANSITIONS:
        assert current in ACTIVE_STAGES
        if target is not S.WITHDRAWN and order.index(target) < order.index(current):
            assert (current, target) == (S.RELAY_STAY, S.MATCHING)
        if target is not S.WITHDRAWN and order.index(target) > order.index(current):
            assert order.index(target) == order.index(current) + 1, "no stage may be skipped"


# ----------------------------------------------------------------------------------------------------
# evaluate(): every pair of stages
# ----------------------------------------------------------------------------------------------------


def test_pair_lists_cover_the_whole_grid() -> None:
    assert len(ALL_PAIRS) == 49
    assert len(ALLOWED_MOVES) == 11
    assert len(REFUSED_PAIRS) == 38


@pytest.mark.parametrize("move", ALLOWED_MOVES, ids=_id)
@pytest.mark.parametrize("role", ["service_manager", "admin"])
def test_allowed_move_passes_when_all_guards_hold(move: tuple[Stage, Stage], role: str) -> None:
    decision = evaluate(move[0], move[1], role, satisfied_facts(move))
    assert decision == Decision(allowed=True, rule="ok", unmet=())


@pytest.mark.parametrize(("move", "code"), MOVE_GUARD_CASES, ids=_id)
def test_allowed_move_fails_naming_the_single_broken_guard(move: tuple[Stage, Stage], code: str) -> None:
    facts = BREAKERS[code](satisfied_facts(move))
    decision = evaluate(move[0], move[1], "service_manager", facts)
    assert decision.allowed is False
    assert decision.rule == "guard_failed"
    assert decision.codes == (code,)
    assert [condition.code for condition in decision.unmet] == [code]
    assert decision.unmet[0].message


@pytest.mark.parametrize("move", ALLOWED_MOVES, ids=_id)
def test_allowed_move_lists_every_unmet_guard(move: tuple[Stage, Stage]) -> None:
    decision = evaluate(move[0], move[1], "admin", HouseholdFacts())
    assert decision.allowed is False
    assert decision.rule == "guard_failed"
    # With nothing recorded the reason is missing, so "invalid" is not reported on top of it, and no stay is
    # pending, so "relay_stay_still_booked" holds.
    holding = {"withdrawal_reason_invalid", "relay_stay_still_booked"}
    expected = tuple(code for code in EXPECTED_GUARDS[move] if code not in holding)
    assert decision.codes == expected


@pytest.mark.parametrize("move", ALLOWED_MOVES, ids=_id)
def test_allowed_move_lists_every_guard_broken_together(move: tuple[Stage, Stage]) -> None:
    facts = satisfied_facts(move)
    codes = EXPECTED_GUARDS[move]
    for code in codes:
        if code != "withdrawal_reason_missing":  # missing and invalid exclude each other
            facts = BREAKERS[code](facts)
    decision = evaluate(move[0], move[1], "service_manager", facts)
    assert decision.rule == "guard_failed"
    assert decision.codes == tuple(code for code in codes if code != "withdrawal_reason_missing")


@pytest.mark.parametrize("pair", REFUSED_PAIRS, ids=_id)
@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_other_pair_is_not_allowed(pair: tuple[Stage, Stage], role: str) -> None:
    decision = evaluate(pair[0], pair[1], role, satisfied_facts())
    assert decision == Decision(allowed=False, rule="transition_not_allowed", unmet=())


@pytest.mark.parametrize("stage", list(Stage), ids=str)
def test_same_stage_is_not_a_move(stage: Stage) -> None:
    assert evaluate(stage, stage, "admin", satisfied_facts()).rule == "transition_not_allowed"


@pytest.mark.parametrize(
    ("current", "target"), list(itertools.product(sorted(TERMINAL_STAGES, key=list(Stage).index), Stage)), ids=_id
)
def test_nothing_leaves_a_terminal_stage(current: Stage, target: Stage) -> None:
    decision = evaluate(current, target, "admin", satisfied_facts((S.RELAY_STAY, S.MATCHING)))
    assert decision.rule == "transition_not_allowed"
    assert not decision.allowed


@pytest.mark.parametrize(
    "pair",
    [
        (S.DIAGNOSTIC, S.RELAY_STAY),
        (S.DIAGNOSTIC, S.LEASE),
        (S.MATCHING, S.LEASE),
        (S.RELAY_STAY, S.FOLLOW_UP),
        (S.LEASE, S.COMPLETED),
        (S.DIAGNOSTIC, S.COMPLETED),
        (S.MATCHING, S.DIAGNOSTIC),
        (S.LEASE, S.RELAY_STAY),
        (S.FOLLOW_UP, S.LEASE),
        (S.LEASE, S.MATCHING),
    ],
    ids=_id,
)
def test_skips_and_other_steps_back_are_refused(pair: tuple[Stage, Stage]) -> None:
    assert evaluate(pair[0], pair[1], "service_manager", satisfied_facts()).rule == "transition_not_allowed"


# ----------------------------------------------------------------------------------------------------
# Roles
# ----------------------------------------------------------------------------------------------------

ROLE_CASES = tuple(itertools.product(ALLOWED_MOVES, ALL_ROLES))


@pytest.mark.parametrize(("move", "role"), ROLE_CASES, ids=_id)
def test_role_matrix(move: tuple[Stage, Stage], role: str) -> None:
    decision = evaluate(move[0], move[1], role, satisfied_facts(move))
    if role in EXPECTED_ROLES[move]:
        assert decision == Decision(allowed=True, rule="ok", unmet=())
    else:
        assert decision == Decision(allowed=False, rule="role_not_permitted", unmet=())


def test_role_matrix_spot_checks() -> None:
    withdraw_in_diagnostic = (S.DIAGNOSTIC, S.WITHDRAWN)
    assert evaluate(*withdraw_in_diagnostic, "paris_referent", satisfied_facts()).allowed
    assert evaluate(*withdraw_in_diagnostic, "partner_worker", satisfied_facts()).allowed
    assert not evaluate(S.MATCHING, S.WITHDRAWN, "paris_referent", satisfied_facts()).allowed
    assert not evaluate(S.MATCHING, S.WITHDRAWN, "partner_worker", satisfied_facts()).allowed
    assert not evaluate(S.DIAGNOSTIC, S.MATCHING, "paris_referent", satisfied_facts()).allowed
    assert not evaluate(S.DIAGNOSTIC, S.WITHDRAWN, "landlord", satisfied_facts()).allowed
    assert not evaluate(S.DIAGNOSTIC, S.WITHDRAWN, "funder", satisfied_facts()).allowed


@pytest.mark.parametrize("move", ALLOWED_MOVES, ids=_id)
@pytest.mark.parametrize("role", ["", "ADMIN", "Service_Manager", "root", "anonymous"])
def test_unknown_roles_are_refused(move: tuple[Stage, Stage], role: str) -> None:
    assert evaluate(move[0], move[1], role, satisfied_facts(move)).rule == "role_not_permitted"


@pytest.mark.parametrize("move", ALLOWED_MOVES, ids=_id)
def test_role_is_checked_before_guards_and_leaks_no_condition(move: tuple[Stage, Stage]) -> None:
    decision = evaluate(move[0], move[1], "funder", HouseholdFacts())
    assert decision == Decision(allowed=False, rule="role_not_permitted", unmet=())


def test_transition_is_checked_before_role() -> None:
    decision = evaluate(S.COMPLETED, S.WITHDRAWN, "funder", HouseholdFacts())
    assert decision.rule == "transition_not_allowed"


@pytest.mark.parametrize("move", ALLOWED_MOVES, ids=_id)
def test_admin_may_do_everything_a_service_manager_may(move: tuple[Stage, Stage]) -> None:
    facts = satisfied_facts(move)
    assert evaluate(move[0], move[1], "admin", facts) == evaluate(move[0], move[1], "service_manager", facts)


# ----------------------------------------------------------------------------------------------------
# Withdrawal reason and note
# ----------------------------------------------------------------------------------------------------

WITHDRAW_FROM = sorted(ACTIVE_STAGES, key=list(Stage).index)


@pytest.mark.parametrize("current", WITHDRAW_FROM, ids=str)
@pytest.mark.parametrize("reason", [reason.value for reason in WithdrawalReason])
def test_every_withdrawal_reason_is_accepted(current: Stage, reason: str) -> None:
    facts = HouseholdFacts(reason=reason, note="Explained by phone.")
    assert evaluate(current, S.WITHDRAWN, "service_manager", facts) == Decision(True, "ok", ())


@pytest.mark.parametrize("reason", list(WithdrawalReason), ids=str)
def test_withdrawal_reason_enum_members_are_accepted(reason: WithdrawalReason) -> None:
    facts = HouseholdFacts(reason=reason, note="ok")
    assert evaluate(S.LEASE, S.WITHDRAWN, "admin", facts).allowed


@pytest.mark.parametrize(
    ("reason", "note", "codes"),
    [
        (None, "a note", ("withdrawal_reason_missing",)),
        ("", "a note", ("withdrawal_reason_missing",)),
        ("   ", "a note", ("withdrawal_reason_missing",)),
        ("bored", "a note", ("withdrawal_reason_invalid",)),
        ("Household_Declined", "a note", ("withdrawal_reason_invalid",)),
        (" household_declined", "a note", ("withdrawal_reason_invalid",)),
        ("withdrawn", "a note", ("withdrawal_reason_invalid",)),
        ("other", None, ("withdrawal_note_missing",)),
        ("other", "", ("withdrawal_note_missing",)),
        ("other", " \n\t ", ("withdrawal_note_missing",)),
        (None, None, ("withdrawal_reason_missing", "withdrawal_note_missing")),
        ("nope", "", ("withdrawal_reason_invalid", "withdrawal_note_missing")),
        ("lost_contact", "x", ()),
    ],
)
@pytest.mark.parametrize("current", WITHDRAW_FROM, ids=str)
def test_withdrawal_reason_and_note_validation(
    current: Stage, reason: str | None, note: str | None, codes: tuple[str, ...]
) -> None:
    decision = evaluate(current, S.WITHDRAWN, "service_manager", HouseholdFacts(reason=reason, note=note))
    assert decision.codes == codes
    assert decision.rule == ("guard_failed" if codes else "ok")
    assert decision.allowed is (not codes)


def test_withdrawal_ignores_unrelated_facts() -> None:
    # Withdrawal needs only a reason and a note, whatever else is (not) recorded.
    facts = HouseholdFacts(reason="employer_declined", note="Employer withdrew the offer.")
    assert evaluate(S.RELAY_STAY, S.WITHDRAWN, "service_manager", facts).allowed


@pytest.mark.parametrize(
    ("reason", "valid"),
    [
        (None, False),
        ("", False),
        ("other", True),
        ("OTHER", False),
        ("returned_to_paris", True),
        ("x", False),
    ],
)
def test_is_valid_withdrawal_reason(reason: str | None, valid: bool) -> None:
    assert is_valid_withdrawal_reason(reason) is valid


# ----------------------------------------------------------------------------------------------------
# Specific guards
# ----------------------------------------------------------------------------------------------------


def test_relay_stay_outcome_decides_between_lease_and_matching() -> None:
    validated = satisfied_facts()
    disagreed = satisfied_facts((S.RELAY_STAY, S.MATCHING))
    no_outcome = dataclasses.replace(validated, relay_stay_outcome=None)
    assert evaluate(S.RELAY_STAY, S.LEASE, "service_manager", validated).allowed
    assert evaluate(S.RELAY_STAY, S.LEASE, "service_manager", disagreed).codes == ("relay_stay_not_validated",)
    assert evaluate(S.RELAY_STAY, S.MATCHING, "service_manager", disagreed).allowed
    assert evaluate(S.RELAY_STAY, S.MATCHING, "service_manager", validated).codes == ("relay_stay_not_disagreed",)
    assert evaluate(S.RELAY_STAY, S.MATCHING, "service_manager", no_outcome).codes == ("relay_stay_not_disagreed",)


def test_a_pending_stay_blocks_both_ends_of_the_relay_stay_stage() -> None:
    """An older recorded outcome cannot end the relay stay stage while another stay is still booked."""
    validated = dataclasses.replace(satisfied_facts(), relay_stay_still_booked=True)
    disagreed = dataclasses.replace(satisfied_facts((S.RELAY_STAY, S.MATCHING)), relay_stay_still_booked=True)
    assert evaluate(S.RELAY_STAY, S.LEASE, "service_manager", validated).codes == ("relay_stay_still_booked",)
    assert evaluate(S.RELAY_STAY, S.MATCHING, "service_manager", disagreed).codes == ("relay_stay_still_booked",)
    # A booked stay is what matching → relay_stay needs: the new condition does not apply there.
    facts = HouseholdFacts(relay_stay_booked=True, relay_stay_still_booked=True, placements_with_employer_meeting=1)
    assert evaluate(S.MATCHING, S.RELAY_STAY, "service_manager", facts).allowed


@pytest.mark.parametrize(("adults", "profiles", "ok"), [(0, 0, False), (1, 0, False), (1, 1, True), (3, 2, True)])
def test_diagnostic_to_matching_counts(adults: int, profiles: int, ok: bool) -> None:
    facts = HouseholdFacts(
        application_presented=True, adult_count=adults, adults_with_rome_profile=profiles, consent_recorded=True
    )
    assert evaluate(S.DIAGNOSTIC, S.MATCHING, "service_manager", facts).allowed is ok


@pytest.mark.parametrize(("placements", "ok"), [(0, False), (1, True), (4, True)])
def test_matching_to_relay_stay_counts_placements(placements: int, ok: bool) -> None:
    facts = HouseholdFacts(relay_stay_booked=True, placements_with_employer_meeting=placements)
    assert evaluate(S.MATCHING, S.RELAY_STAY, "service_manager", facts).allowed is ok


def test_facts_are_frozen_and_default_to_nothing_recorded() -> None:
    facts = HouseholdFacts()
    assert facts.adult_count == 0
    assert facts.relay_stay_outcome is None
    assert facts.reason is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        facts.adult_count = 3  # type: ignore[misc]


def test_decision_is_frozen() -> None:
    decision = evaluate(S.DIAGNOSTIC, S.MATCHING, "admin", HouseholdFacts())
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.allowed = True  # type: ignore[misc]


# ----------------------------------------------------------------------------------------------------
# Helpers for documentation / UI
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "targets"),
    [
        (S.DIAGNOSTIC, (S.MATCHING, S.WITHDRAWN)),
        (S.MATCHING, (S.RELAY_STAY, S.WITHDRAWN)),
        (S.RELAY_STAY, (S.MATCHING, S.LEASE, S.WITHDRAWN)),
        (S.LEASE, (S.FOLLOW_UP, S.WITHDRAWN)),
        (S.FOLLOW_UP, (S.COMPLETED, S.WITHDRAWN)),
        (S.COMPLETED, ()),
        (S.WITHDRAWN, ()),
    ],
    ids=_id,
)
def test_allowed_targets(current: Stage, targets: tuple[Stage, ...]) -> None:
    assert allowed_targets(current) == targets


@pytest.mark.parametrize(("current", "role"), list(itertools.product(Stage, ALL_ROLES)), ids=_id)
def test_permitted_targets(current: Stage, role: str) -> None:
    expected = tuple(t for t in Stage if (current, t) in EXPECTED_ROLES and role in EXPECTED_ROLES[current, t])
    assert permitted_targets(current, role) == expected


def test_permitted_targets_examples() -> None:
    assert permitted_targets(S.DIAGNOSTIC, "partner_worker") == (S.WITHDRAWN,)
    assert permitted_targets(S.MATCHING, "paris_referent") == ()
    assert permitted_targets(S.RELAY_STAY, "admin") == (S.MATCHING, S.LEASE, S.WITHDRAWN)


# ----------------------------------------------------------------------------------------------------
# Placements
# ----------------------------------------------------------------------------------------------------

EXPECTED_PLACEMENT_MOVES = frozenset(
    {
        (P.PROPOSED, P.INTERVIEW),
        (P.INTERVIEW, P.OFFERED),
        (P.OFFERED, P.HIRED),
        (P.PROPOSED, P.DECLINED),
        (P.PROPOSED, P.CANCELLED),
        (P.INTERVIEW, P.DECLINED),
        (P.INTERVIEW, P.CANCELLED),
        (P.OFFERED, P.DECLINED),
        (P.OFFERED, P.CANCELLED),
    }
)


def test_placement_status_values() -> None:
    assert [status.value for status in PlacementStatus] == [
        "proposed",
        "interview",
        "offered",
        "hired",
        "declined",
        "cancelled",
    ]


def test_open_and_terminal_placement_statuses() -> None:
    assert frozenset({"proposed", "interview", "offered"}) == OPEN_PLACEMENT_STATUSES
    assert frozenset({"hired", "declined", "cancelled"}) == TERMINAL_PLACEMENT_STATUSES
    assert frozenset(PlacementStatus) == OPEN_PLACEMENT_STATUSES | TERMINAL_PLACEMENT_STATUSES


@pytest.mark.parametrize(("current", "target"), list(itertools.product(PlacementStatus, PlacementStatus)), ids=_id)
def test_placement_move_matrix(current: PlacementStatus, target: PlacementStatus) -> None:
    assert placement_move_allowed(current, target) is ((current, target) in EXPECTED_PLACEMENT_MOVES)


def test_placement_matrix_size() -> None:
    assert len(list(itertools.product(PlacementStatus, PlacementStatus))) == 36
    assert len(EXPECTED_PLACEMENT_MOVES) == 9


@pytest.mark.parametrize(
    ("current", "targets"),
    [
        (P.PROPOSED, (P.INTERVIEW, P.DECLINED, P.CANCELLED)),
        (P.INTERVIEW, (P.OFFERED, P.DECLINED, P.CANCELLED)),
        (P.OFFERED, (P.HIRED, P.DECLINED, P.CANCELLED)),
        (P.HIRED, ()),
        (P.DECLINED, ()),
        (P.CANCELLED, ()),
    ],
    ids=_id,
)
def test_placement_targets(current: PlacementStatus, targets: tuple[PlacementStatus, ...]) -> None:
    assert placement_targets(current) == targets


def test_placement_cannot_skip_interview_or_offer() -> None:
    assert not placement_move_allowed(P.PROPOSED, P.OFFERED)
    assert not placement_move_allowed(P.PROPOSED, P.HIRED)
    assert not placement_move_allowed(P.INTERVIEW, P.HIRED)
    assert not placement_move_allowed(P.HIRED, P.CANCELLED)


# ----------------------------------------------------------------------------------------------------
# The application's steps inside diagnostic
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "stage", "status", "role", "expected"),
    [
        ("submit", S.DIAGNOSTIC, "draft", "partner_worker", "ok"),
        ("submit", S.DIAGNOSTIC, "draft", "paris_referent", "ok"),
        ("submit", S.DIAGNOSTIC, "draft", "service_manager", "role_not_permitted"),
        ("submit", S.DIAGNOSTIC, "submitted", "partner_worker", "out_of_order"),
        ("submit", S.DIAGNOSTIC, "presented", "admin", "out_of_order"),
        ("submit", S.MATCHING, "draft", "partner_worker", "wrong_stage"),
        ("present", S.DIAGNOSTIC, "submitted", "paris_referent", "ok"),
        ("present", S.DIAGNOSTIC, "submitted", "service_manager", "ok"),
        ("present", S.DIAGNOSTIC, "submitted", "partner_worker", "role_not_permitted"),
        ("present", S.DIAGNOSTIC, "draft", "paris_referent", "out_of_order"),
        ("present", S.DIAGNOSTIC, "presented", "service_manager", "out_of_order"),
        ("present", S.WITHDRAWN, "submitted", "admin", "wrong_stage"),
        ("present", S.DIAGNOSTIC, "submitted", "funder", "role_not_permitted"),
    ],
)
def test_application_steps_table(step: str, stage: Stage, status: str, role: str, expected: str) -> None:
    from toit_emploi_api.pipeline.rules import application_step_rule

    assert application_step_rule(step, stage, status, role) == expected
