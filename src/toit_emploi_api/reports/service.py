"""The reports' rules: which figures, their definitions, who may ask what, and the suppression of small cells.

The counting is SQL (`reports.repository`, set-based); this module only folds its few dozen rows into the answer
and hides, for the funder role, any group or breakdown cell counting 1 to threshold - 1 households."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core.clock import utcnow
from toit_emploi_api.core.errors import FieldError, ProblemError, ValidationProblemError
from toit_emploi_api.reports import repository
from toit_emploi_api.reports.schemas import (
    Definition,
    FunnelGroup,
    FunnelGroupBy,
    FunnelReport,
    FunnelStep,
    ProgrammeGroup,
    ProgrammeGroupBy,
    ProgrammeReport,
    ReferringKind,
    Span,
    StageDuration,
)
from toit_emploi_api.vocab.problems import REPORT_OPTION_NOT_PERMITTED
from toit_emploi_api.vocab.roles import Role
from toit_emploi_api.vocab.stages import Stage, WithdrawalReason

FIGURES = (
    "applications_submitted",
    "households_retained",
    "adults",
    "children",
    "households_installed",
    "households_completed",
    "households_not_completed",
    "households_in_progress",
    "declined_at_diagnostic",
)
LEFT_STAGES = (Stage.MATCHING, Stage.RELAY_STAY, Stage.LEASE, Stage.FOLLOW_UP)
"""The stages a retained household can leave the programme from."""
DURATION_STAGES = (Stage.DIAGNOSTIC, Stage.MATCHING, Stage.RELAY_STAY, Stage.LEASE, Stage.FOLLOW_UP)

PROGRAMME_DEFINITIONS: dict[str, Definition] = {
    "applications_submitted": Definition(
        fr="Ménages dont le partenaire a transmis la candidature (date de transmission dans la période).",
        en="Households whose application the partner submitted (submission date in the period).",
    ),
    "households_retained": Definition(
        fr="Ménages retenus : passés un jour du diagnostic à la recherche d'emploi (date de la décision dans la "
        "période).",
        en="Households retained: they once moved from diagnostic to matching (decision date in the period).",
    ),
    "adults": Definition(
        fr="Membres des ménages retenus âgés de 18 ans ou plus à la date où le ménage a été retenu.",
        en="Members of the retained households aged 18 or older on the date the household was retained.",
    ),
    "children": Definition(
        fr="Membres des ménages retenus âgés de moins de 18 ans à la date où le ménage a été retenu.",
        en="Members of the retained households under 18 on the date the household was retained.",
    ),
    "households_installed": Definition(
        fr="Ménages retenus installés ou en cours d'installation : aujourd'hui au bail, en accompagnement ou sortis "
        "en droit commun.",
        en="Retained households installed or being installed: now in lease, follow_up or completed.",
    ),
    "households_completed": Definition(
        fr="Ménages retenus sortis du programme en droit commun (étape completed).",
        en="Retained households that entered droit commun (stage completed).",
    ),
    "households_not_completed": Definition(
        fr="Ménages retenus n'ayant pas achevé le parcours : aujourd'hui sortis (withdrawn), quelle que soit l'étape "
        "quittée.",
        en="Retained households that did not complete the process: now withdrawn, whatever the stage they left.",
    ),
    "households_in_progress": Definition(
        fr="Ménages retenus en cours de parcours : aujourd'hui en recherche d'emploi ou en séjour relais.",
        en="Retained households in progress: now in matching or relay_stay.",
    ),
    "declined_at_diagnostic": Definition(
        fr="Candidatures non retenues : ménages sortis pendant le diagnostic (date de sortie dans la période).",
        en="Applications declined: households withdrawn from diagnostic (withdrawal date in the period).",
    ),
    "withdrawals_by_reason": Definition(
        fr="Ménages retenus puis sortis, par motif de sortie.",
        en="Retained households that were withdrawn, by withdrawal reason.",
    ),
    "withdrawals_by_stage": Definition(
        fr="Ménages retenus puis sortis, par étape quittée.",
        en="Retained households that were withdrawn, by the stage they left.",
    ),
}

FUNNEL_DEFINITIONS: dict[str, Definition] = {
    "steps": Definition(
        fr="Ménages de la cohorte ayant atteint chaque étape (diagnostic = toute la cohorte), et le taux de passage "
        "depuis l'étape précédente.",
        en="Households of the cohort that reached each step (diagnostic = the whole cohort), and the conversion from "
        "the previous step.",
    ),
    "stage_durations": Definition(
        fr="Jours entiers passés dans chaque étape, par passage achevé (un retour du séjour relais à la recherche "
        "d'emploi compte deux passages) : médiane, 75e et 90e centiles (rang le plus proche).",
        en="Whole days spent in each stage per completed pass (a step back relay_stay → matching counts both "
        "passes): median, 75th and 90th percentiles (nearest rank).",
    ),
    "submission_to_lease": Definition(
        fr="Médiane des jours entre la transmission de la candidature et la date de signature du bail.",
        en="Median days from the application's submission to the lease signature date.",
    ),
    "retention_to_completion": Definition(
        fr="Médiane des jours entre la décision de retenir le ménage et sa sortie en droit commun.",
        en="Median days from the household's retention to its completion (droit commun).",
    ),
}

# French column headers of the programme report's CSV.
STAGE_FR = {
    "diagnostic": "diagnostic",
    "matching": "recherche d'emploi",
    "relay_stay": "séjour relais",
    "lease": "bail",
    "follow_up": "accompagnement",
    "completed": "droit commun",
}
REASON_FR = {
    "application_declined": "candidature non retenue",
    "household_declined": "refus du ménage",
    "employer_declined": "refus de l'employeur",
    "relay_stay_inconclusive": "séjour relais non concluant",
    "no_housing_found": "pas de logement trouvé",
    "returned_to_paris": "retour en Île-de-France",
    "lost_contact": "perte de contact",
    "other": "autre",
}
FIGURES_FR = {
    "applications_submitted": "Candidatures transmises",
    "households_retained": "Ménages retenus",
    "adults": "Adultes",
    "children": "Enfants",
    "households_installed": "Ménages installés ou en cours d'installation",
    "households_completed": "Ménages sortis en droit commun",
    "households_not_completed": "Ménages n'ayant pas achevé le parcours",
    "households_in_progress": "Ménages en cours de parcours",
    "declined_at_diagnostic": "Candidatures non retenues au diagnostic",
}
SUPPRESSED_CELL = "s"
"""What a suppressed cell shows in CSV (the statistical-secrecy mark)."""


class _Suppressor:
    """Hides, for the funder role, a count from 1 to threshold - 1, and lists the cell's name."""

    def __init__(self, threshold: int | None) -> None:
        self.threshold = threshold

    def __call__(self, value: int, name: str, suppressed: list[str]) -> int | None:
        if self.threshold is not None and 1 <= value < self.threshold:
            suppressed.append(name)
            return None
        return value


def _threshold(principal: Principal, configured: int) -> int | None:
    return configured if principal.role is Role.FUNDER else None


def _check_period(since: date | None, before: date | None, since_name: str, before_name: str) -> None:
    if since is not None and before is not None and before <= since:
        raise ValidationProblemError(
            f"{before_name} must be after {since_name}.",
            errors=[FieldError(field=f"query.{before_name}", message=f"must be after {since_name}")],
        )


def _refuse_option(parameter: str) -> None:
    raise ProblemError(
        REPORT_OPTION_NOT_PERMITTED,
        f"`{parameter}` is for the service manager and admins only.",
        extra={"parameter": parameter},
    )


# --- the programme report ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProgrammeQuery:
    retained_since: date | None = None
    retained_before: date | None = None
    referring_organisation_kind: ReferringKind | None = None
    group_by: ProgrammeGroupBy = ProgrammeGroupBy.NONE
    include_imported: bool = True


def _figures(
    cells: Sequence[repository.Cell], key: str, suppress: _Suppressor | None, *, totals: bool
) -> dict[str, Any]:
    counts: dict[str, int] = defaultdict(int)
    reasons: dict[str, int] = dict.fromkeys((r.value for r in WithdrawalReason), 0)
    stages: dict[str, int] = dict.fromkeys((s.value for s in LEFT_STAGES), 0)
    for c in cells:
        if c.key != key:
            continue
        if c.figure == "withdrawals_by_reason" and c.cell is not None:
            reasons[c.cell] = reasons.get(c.cell, 0) + c.count
        elif c.figure == "withdrawals_by_stage" and c.cell is not None:
            stages[c.cell] = stages.get(c.cell, 0) + c.count
        else:
            counts[c.figure] += c.count
    suppressed: list[str] = []
    out: dict[str, Any] = {}
    for name in FIGURES:
        value = counts[name]
        out[name] = value if totals or suppress is None else suppress(value, name, suppressed)

    def cells_of(breakdown: dict[str, int], prefix: str) -> dict[str, int | None]:
        if suppress is None:
            return dict(breakdown)
        return {k: suppress(v, f"{prefix}.{k}", suppressed) for k, v in breakdown.items()}

    out["withdrawals_by_reason"] = cells_of(reasons, "withdrawals_by_reason")
    out["withdrawals_by_stage"] = cells_of(stages, "withdrawals_by_stage")
    out["suppressed"] = suppressed
    return out


def _sum(cells: Sequence[repository.Cell]) -> list[repository.Cell]:
    """Every group's cells summed into the one key `all` (the totals of a grouped report)."""
    summed: dict[tuple[str, str | None], int] = defaultdict(int)
    for c in cells:
        summed[c.figure, c.cell] += c.count
    return [repository.Cell(figure, "all", cell, count) for (figure, cell), count in summed.items()]


async def programme(
    session: AsyncSession, principal: Principal, query: ProgrammeQuery, *, threshold: int
) -> ProgrammeReport:
    """The programme's published table for the selection, and per group when grouped."""
    if principal.role is Role.FUNDER:
        if query.referring_organisation_kind is not None:
            _refuse_option("referring_organisation_kind")
        if query.group_by is ProgrammeGroupBy.REFERRING_ORGANISATION:
            _refuse_option("group_by")
    _check_period(query.retained_since, query.retained_before, "retained_since", "retained_before")
    as_of = utcnow()
    cells = await repository.programme_cells(
        session,
        since=query.retained_since,
        before=query.retained_before,
        organisation_kind=query.referring_organisation_kind.value if query.referring_organisation_kind else None,
        group_by=query.group_by.value,
        include_imported=query.include_imported,
    )
    suppress = _Suppressor(_threshold(principal, threshold))
    totals = _figures(_sum(cells), "all", suppress, totals=True)
    groups: list[ProgrammeGroup] = []
    if query.group_by is not ProgrammeGroupBy.NONE:
        keys = sorted({c.key for c in cells})
        labels = {k: k for k in keys}
        if query.group_by is ProgrammeGroupBy.REFERRING_ORGANISATION:
            labels.update(await repository.organisation_names(session, keys))
            keys.sort(key=lambda k: (labels[k], k))
        groups = [ProgrammeGroup(key=k, label=labels[k], **_figures(cells, k, suppress, totals=False)) for k in keys]
    return ProgrammeReport(
        **totals,
        as_of=as_of,
        retained_since=query.retained_since,
        retained_before=query.retained_before,
        referring_organisation_kind=query.referring_organisation_kind,
        group_by=query.group_by,
        include_imported=query.include_imported,
        suppression_threshold=suppress.threshold,
        definitions=PROGRAMME_DEFINITIONS,
        groups=groups,
    )


def programme_csv(report: ProgrammeReport) -> tuple[list[str], list[list[Any]]]:
    """The report as a table: one row per group (or one row for the whole selection), then a total row when grouped;
    French headers; a suppressed cell shows `s`."""
    reasons = list(report.withdrawals_by_reason)
    stages = list(report.withdrawals_by_stage)
    header = ["Groupe", *(FIGURES_FR[f] for f in FIGURES)]
    header += [f"Sorties par motif : {REASON_FR.get(r, r)}" for r in reasons]
    header += [f"Sorties par étape quittée : {STAGE_FR.get(s, s)}" for s in stages]

    def row(label: str, figures: Any) -> list[Any]:
        values = [getattr(figures, f) for f in FIGURES]
        values += [figures.withdrawals_by_reason.get(r) for r in reasons]
        values += [figures.withdrawals_by_stage.get(s) for s in stages]
        return [label, *(SUPPRESSED_CELL if v is None else v for v in values)]

    rows = [row(group.label, group) for group in report.groups]
    rows.append(row("Total" if report.groups else "Ensemble", report))
    return header, rows


# --- the funnel ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FunnelQuery:
    retained_since: date | None = None
    retained_before: date | None = None
    submitted_since: date | None = None
    submitted_before: date | None = None
    group_by: FunnelGroupBy = FunnelGroupBy.NONE
    include_imported: bool = True


def _funnel_figures(rows: repository.FunnelRows, key: str, suppress: _Suppressor, *, totals: bool) -> dict[str, Any]:
    suppressed: list[str] = []
    reached = {c.figure: c.count for c in rows.reached if c.key == key}
    steps: list[FunnelStep] = []
    previous: int | None = None
    for index, name in enumerate(repository.FUNNEL_STEPS):
        count = reached.get(name, 0)
        shown = count if totals else suppress(count, f"steps.{name}", suppressed)
        conversion = None
        if index > 0 and shown is not None and previous:
            conversion = (Decimal(shown) / Decimal(previous)).quantize(Decimal("0.0001"))
        steps.append(FunnelStep(step=name, reached=shown, conversion_from_previous=conversion))
        previous = shown
    durations: list[StageDuration] = []
    for stage in DURATION_STAGES:
        histogram = rows.durations.get((key, stage.value), {})
        passes = suppress(sum(histogram.values()), f"stage_durations.{stage.value}", suppressed)
        visible = histogram if passes is not None else {}
        durations.append(
            StageDuration(
                stage=stage.value,
                passes=passes,
                median_days=repository.nearest_rank(visible, 0.5),
                p75_days=repository.nearest_rank(visible, 0.75),
                p90_days=repository.nearest_rank(visible, 0.9),
            )
        )
    spans: dict[str, Span] = {}
    for span in ("submission_to_lease", "retention_to_completion"):
        histogram = rows.spans.get((key, span), {})
        households = suppress(sum(histogram.values()), span, suppressed)
        median = repository.nearest_rank(histogram, 0.5) if households is not None else None
        spans[span] = Span(households=households, median_days=median)
    return {"steps": steps, "stage_durations": durations, **spans, "suppressed": suppressed}


async def funnel(session: AsyncSession, principal: Principal, query: FunnelQuery, *, threshold: int) -> FunnelReport:
    """How far the cohort went, how long each stage took, and per year of retention when grouped."""
    _check_period(query.retained_since, query.retained_before, "retained_since", "retained_before")
    _check_period(query.submitted_since, query.submitted_before, "submitted_since", "submitted_before")
    as_of = utcnow()
    by_year = query.group_by is FunnelGroupBy.RETENTION_YEAR
    rows = await repository.funnel_rows(
        session,
        retained_since=query.retained_since,
        retained_before=query.retained_before,
        submitted_since=query.submitted_since,
        submitted_before=query.submitted_before,
        by_year=by_year,
        include_imported=query.include_imported,
    )
    suppress = _Suppressor(_threshold(principal, threshold))
    groups: list[FunnelGroup] = []
    if by_year:
        keys = sorted({c.key for c in rows.reached if c.key != "all"})
        groups = [FunnelGroup(key=k, label=k, **_funnel_figures(rows, k, suppress, totals=False)) for k in keys]
    return FunnelReport(
        **_funnel_figures(rows, "all", suppress, totals=True),
        as_of=as_of,
        retained_since=query.retained_since,
        retained_before=query.retained_before,
        submitted_since=query.submitted_since,
        submitted_before=query.submitted_before,
        group_by=query.group_by,
        include_imported=query.include_imported,
        suppression_threshold=suppress.threshold,
        definitions=FUNNEL_DEFINITIONS,
        groups=groups,
    )
