# ruff: noqa: S608 - SQL built from constant fragments (enum literals, column names); values are bound parameters
"""The households' hot read paths in hand-written SQL: one statement per request, answers built by PostgreSQL.

`GET /households/{id}` and `GET /households` each run ONE statement, which is its own transaction (one round trip):

* the caller's account and organisation (`users` or `api_clients`, active, role) — the token was decoded without
  the database (`auth.policy.authorize_token`);
* the household(s) the caller may see, with their members, as JSON shaped like the response model (the status view
  for a partner worker after diagnostic, the partner-safe view in lists and for partner workers, the staff view with
  notes otherwise): Python validates it once (`model_validate_json`, in Rust) and FastAPI serialises it once;
* the audit row (`household.read` / `household.list`), inserted by a data-modifying CTE of the same statement, only
  when the caller may read (an inactive account, a refused role or a 404 writes nothing);
* for lists, the exact total (`count(*)` of the same filters: index scans, the name search uses the trigram index)
  and one row more than the page, to offer `next_cursor` (keyset pagination, `core.resources.Cursor`).

The statements are constant per combination of filters (values are bound parameters), so the driver's prepared
statements are reused. Roles and stages written into the SQL come from the enums, never from input.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from toit_emploi_api.auth.repository import SubjectState
from toit_emploi_api.auth.tokens import SubjectKind
from toit_emploi_api.core.clock import paris_midnight
from toit_emploi_api.core.database import Database
from toit_emploi_api.core.enums import sql_list, sql_literal
from toit_emploi_api.core.request_context import current_request_id
from toit_emploi_api.core.resources import CursorPageParams
from toit_emploi_api.households.schemas import HouseholdFilters, HouseholdSort
from toit_emploi_api.vocab.roles import OrganisationKind, Role
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import MemberRole

_SEE_ALL: Final = sql_list((Role.ADMIN, Role.SERVICE_MANAGER, Role.PARIS_REFERENT))
_STAFF_NOTES: Final = _SEE_ALL  # who reads manager_notes and closure_note on a single household
_PARTNER: Final = sql_literal(Role.PARTNER_WORKER)
_DIAGNOSTIC: Final = sql_literal(Stage.DIAGNOSTIC)
_CHILD: Final = sql_literal(MemberRole.CHILD)
FULL_NAME: Final = "((m.first_name_folded || ' ') || m.last_name_folded)"
"""The folded "first last" name, exactly the expression of the trigram index ix_household_members_full_name_trgm."""


def _ts(column: str) -> str:
    """An instant exactly as pydantic writes it: UTC, `Z`, microseconds only when there are some."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"""to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS')"""
        f" || CASE WHEN CAST(date_part('microseconds', {utc}) AS bigint) % 1000000 = 0 THEN ''"
        f" ELSE to_char({utc}, '.US') END || 'Z'"
    )


def _who(kind: SubjectKind, session_id: str) -> str:
    """The caller's account; `session_id` is the placeholder of the token's sign-in (`sid`, null for API clients):
    a signed-out sign-in counts as an inactive account, as in `auth.repository.subject_state`."""
    table = "users" if kind == "user" else "api_clients"
    return f"""who AS (
    SELECT CAST(s.role AS text) AS role,
           s.active AND NOT EXISTS (
               SELECT 1 FROM refresh_tokens AS rt WHERE rt.family_id = {session_id} AND rt.revoked_at IS NOT NULL
           ) AS active,
           s.organisation_id AS org, CAST(o.kind AS text) AS org_kind, o.active AS org_active
    FROM {table} AS s JOIN organisations AS o ON o.id = s.organisation_id
    WHERE s.id = $1
),
ok AS (SELECT * FROM who WHERE active AND org_active AND role = ANY(CAST($2 AS text[])))"""


_SCOPE: Final = f"(ok.role IN {_SEE_ALL} OR h.referring_organisation_id = ok.org)"
_ALL: Final = f"COALESCE((SELECT ok.role IN {_SEE_ALL} FROM ok), false)"  # the caller sees every household
_MINE: Final = "h.referring_organisation_id = (SELECT ok.org FROM ok)"

# The members' aggregate, once per household: its row is read three times (`mm.j -> 'members'`, `'adults'`,
# `'children'`), and a plain LATERAL subquery is pulled up by the planner and run once per reference; the
# `OFFSET 0` where it is joined keeps it a single evaluation (`q=` match at 100,000 households: 9.9 → 5.4 ms).
_MEMBERS: Final = f"""(
    SELECT json_build_object(
        'members', COALESCE(json_agg(json_build_object(
            'id', m.id, 'household_id', m.household_id, 'first_name', m.first_name, 'last_name', m.last_name,
            'birth_date', m.birth_date, 'role', m.role, 'is_adult', m.role <> {_CHILD},
            'rome_codes', COALESCE(to_json(m.rome_codes), '[]'::json),
            'years_of_experience', m.years_of_experience, 'driving_licence', m.driving_licence,
            'french_level', m.french_level, 'qualifications', m.qualifications,
            'right_to_work_expiry', m.right_to_work_expiry, 'schooling_level', m.schooling_level,
            'created_at', {_ts("m.created_at")}, 'updated_at', {_ts("m.updated_at")}
        ) ORDER BY m.created_at, m.ctid), '[]'::json),
        'children', count(*) FILTER (WHERE m.role = {_CHILD}),
        'adults', count(*) FILTER (WHERE m.role <> {_CHILD})
    )
    FROM household_members AS m WHERE m.household_id = h.id
)"""


def _body(staff: str | None) -> str:
    """The household's JSON for the row `h` with its members' aggregate `mm`, with exactly the keys (and order) of
    its response model: `HouseholdStatusOut` for a partner worker after diagnostic, else `HouseholdStaffOut` when
    `staff` (a SQL condition; None: never) holds, else `HouseholdOut`."""
    status_view = f"""json_build_object(
        'id', h.id, 'reference', h.reference, 'referring_organisation_id', h.referring_organisation_id,
        'stage', h.stage, 'stage_entered_at', {_ts("h.stage_entered_at")}, 'days_in_stage', {_DAYS},
        'last_contact_date', h.last_contact_date,
        'adult_count', mm.j -> 'adults', 'children_count', mm.j -> 'children',
        'created_at', {_ts("h.created_at")}, 'updated_at', {_ts("h.updated_at")})"""
    full = f"""
        'id', h.id, 'reference', h.reference, 'referring_organisation_id', h.referring_organisation_id,
        'created_by_organisation_id', h.created_by_organisation_id, 'housing_situation', h.housing_situation,
        'needs_constraints', h.needs_constraints, 'consent_date', h.consent_date, 'consent_scope', h.consent_scope,
        'stage', h.stage, 'application_status', h.application_status,
        'stage_entered_at', {_ts("h.stage_entered_at")}, 'days_in_stage', {_DAYS},
        'last_contact_date', h.last_contact_date, 'closure_date', h.closure_date,
        'withdrawal_reason', h.withdrawal_reason,
        'adult_count', mm.j -> 'adults', 'children_count', mm.j -> 'children', 'members', mm.j -> 'members',
        'created_at', {_ts("h.created_at")}, 'updated_at', {_ts("h.updated_at")}"""
    staff_view = f"json_build_object({full}, 'manager_notes', h.manager_notes, 'closure_note', h.closure_note)"
    staff_branch = "" if staff is None else f" WHEN {staff} THEN {staff_view}"
    return (
        f"CASE WHEN ok.role = {_PARTNER} AND h.stage <> {_DIAGNOSTIC} THEN {status_view}{staff_branch}"
        f" ELSE json_build_object({full}) END"
    )


# Whole 24-hour periods since the household entered its stage (clock.days_since).
_DAYS: Final = "GREATEST(0, floor(extract(epoch FROM (now() - h.stage_entered_at)) / 86400))::int"

_AUDIT_COLUMNS: Final = (
    "id, at, actor_kind, actor_id, actor_role, actor_organisation_id, action, entity_type, entity_id, household_id,"
    " request_id, household_ids, details"
)


def _request_id() -> str | None:
    """The HTTP request's id for the audit row (as `core.audit.record` writes it), None outside a request."""
    value = current_request_id()
    return None if value == "-" else value


def read_sql(kind: SubjectKind) -> str:
    """$1 subject id, $2 allowed roles, $3 household id, $4 actor kind, $5 audit action, $6 request id, $7 the
    token's sign-in id (or null)."""
    return f"""
WITH {_who(kind, "CAST($7 AS uuid)")},
h AS (
    SELECT h.id, h.version, CAST(h.stage AS text) AS stage, {_body(f"ok.role IN {_STAFF_NOTES}")} AS body
    FROM households AS h
    CROSS JOIN ok
    CROSS JOIN LATERAL (SELECT {_MEMBERS} AS j OFFSET 0) AS mm
    WHERE h.id = $3 AND {_SCOPE}
),
audit AS (
    INSERT INTO audit_events ({_AUDIT_COLUMNS})
    SELECT gen_random_uuid(), now(), $4, $1, ok.role, ok.org, $5, 'household', h.id, h.id, CAST($6 AS varchar),
           NULL, NULL
    FROM ok CROSS JOIN h
)
SELECT who.role, who.active, who.org, who.org_kind, who.org_active, h.version, h.stage, CAST(h.body AS text)
FROM who LEFT JOIN h ON true
"""


@dataclass(frozen=True)
class ReadRow:
    subject: SubjectState | None
    version: int | None
    stage: Stage | None
    body: str | None  # the household's JSON, None when missing or not visible


def _subject(row: Sequence[Any]) -> SubjectState:
    role, active, org, org_kind, org_active = row[:5]
    return SubjectState(
        role=Role(role),
        active=bool(active),
        organisation_id=org,
        organisation_kind=OrganisationKind(org_kind),
        organisation_active=bool(org_active),
    )


async def read_household(
    database: Database,
    kind: SubjectKind,
    subject_id: uuid.UUID,
    allowed: frozenset[Role],
    household_id: uuid.UUID,
    action: str,
    *,
    session_id: uuid.UUID | None = None,
) -> ReadRow:
    """The caller's account, and the household as it may see it (audited in the same statement)."""
    row = await database.fetchrow(
        read_sql(kind),
        (subject_id, sorted(r.value for r in allowed), household_id, kind, action, _request_id(), session_id),
    )
    if row is None:
        return ReadRow(None, None, None, None)
    return ReadRow(_subject(row), row[5], None if row[6] is None else Stage(row[6]), row[7])


# --- lists -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Sort:
    order: str  # ORDER BY of the page
    keys: tuple[str, ...]  # the cursor's columns, in order
    after: str  # keyset condition: rows after the cursor ($a, $b … are replaced by their parameter numbers)


_SORTS: Final[dict[HouseholdSort, _Sort]] = {
    HouseholdSort.CREATED_AT_DESC: _Sort(
        "h.created_at DESC, h.id DESC", ("created_at", "id"), "(h.created_at, h.id) < ({0}, {1})"
    ),
    HouseholdSort.CREATED_AT: _Sort("h.created_at, h.id", ("created_at", "id"), "(h.created_at, h.id) > ({0}, {1})"),
    HouseholdSort.REFERENCE: _Sort("h.reference", ("reference",), "h.reference > {0}"),
    HouseholdSort.REFERENCE_DESC: _Sort("h.reference DESC", ("reference",), "h.reference < {0}"),
}


def parse_after(sort: HouseholdSort, values: Sequence[str]) -> list[Any]:
    """A cursor's values as the sort's key types; ValueError when they are not."""
    keys = _SORTS[sort].keys
    if len(values) != len(keys):
        raise ValueError("wrong number of values")
    parsed: list[Any] = []
    for key, value in zip(keys, values, strict=True):
        if key == "created_at":
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                raise ValueError("naive instant")
            parsed.append(moment)
        elif key == "id":
            parsed.append(uuid.UUID(value))
        else:
            parsed.append(value)
    return parsed


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class _Params:
    def __init__(self, *first: Any) -> None:
        self.values: list[Any] = list(first)

    def __call__(self, value: Any, cast: str | None = None) -> str:
        self.values.append(value)
        return f"CAST(${len(self.values)} AS {cast})" if cast else f"${len(self.values)}"


def _holds_code(code: str) -> str:
    """An adult member `m` has the ROME code `code` (a parameter), by the members' GIN index."""
    return f"m.role <> {_CHILD} AND m.rome_codes @> ARRAY[{code}]"


def _conditions(filters: HouseholdFilters, p: _Params) -> list[str]:
    conds: list[str] = []
    if filters.stages:
        conds.append(f"h.stage = ANY({p([s.value for s in filters.stages], 'stage[]')})")
    if filters.application_statuses:
        conds.append(
            f"h.application_status = ANY({p([s.value for s in filters.application_statuses], 'application_status[]')})"
        )
    if filters.referring_organisation_id is not None:
        conds.append(f"h.referring_organisation_id = {p(filters.referring_organisation_id)}")
    if filters.has_children is not None:
        child = f"EXISTS (SELECT 1 FROM household_members AS m WHERE m.household_id = h.id AND m.role = {_CHILD})"
        conds.append(child if filters.has_children else f"NOT {child}")
    if filters.rome_code is not None:
        code = _holds_code(p(filters.rome_code, "varchar"))
        conds.append(f"EXISTS (SELECT 1 FROM household_members AS m WHERE m.household_id = h.id AND {code})")
    if filters.created_since is not None:
        conds.append(f"h.created_at >= {p(paris_midnight(filters.created_since))}")
    if filters.created_before is not None:
        conds.append(f"h.created_at < {p(paris_midnight(filters.created_before))}")
    if filters.name_matches_nothing:
        conds.append("false")
    if filters.name_tokens:
        # Every token in the same member's folded "first last" name (the trigram index answers LIKE '%…%').
        likes = " AND ".join(f"{FULL_NAME} LIKE {p('%' + _like_escape(t) + '%')}" for t in filters.name_tokens)
        conds.append(f"EXISTS (SELECT 1 FROM household_members AS m WHERE m.household_id = h.id AND {likes})")
    return conds


@dataclass(frozen=True)
class ListRow:
    subject: SubjectState | None
    total: int
    items: str  # JSON array of the page's items
    next_key: list[Any] | None  # the sort-key values of the page's last item, when more rows follow


_FEW_HOLDERS: Final = 5000
"""Up to this many households holding a filtered ROME code, a list page is read from their ids (see list_query)."""


def list_query(
    kind: SubjectKind,
    subject_id: uuid.UUID,
    allowed: frozenset[Role],
    filters: HouseholdFilters,
    sort: HouseholdSort,
    page: CursorPageParams,
    action: str,
    after: Sequence[Any] | None,
    *,
    session_id: uuid.UUID | None = None,
) -> tuple[str, list[Any]]:
    """The list's statement and its parameters (see `list_households`)."""
    p = _Params(subject_id, sorted(r.value for r in allowed))
    sid = p(session_id, "uuid")
    spec = _SORTS[sort]
    conds = _conditions(filters, p)
    count_where = " AND ".join(["true", *conds])
    if after is not None:
        casts = {"created_at": "timestamptz", "id": "uuid", "reference": "text"}
        conds.append(spec.after.format(*(p(v, casts[k]) for k, v in zip(spec.keys, after, strict=True))))
    where = " AND ".join(["true", *conds])
    limit, offset = p(page.limit), p(page.offset)
    kind_param, action_param, request_param = p(kind), p(action), p(_request_id(), "varchar")
    filters_param = p(json.dumps(filters.used()), "jsonb")
    keys = ", ".join(f"h.{k}" for k in dict.fromkeys(("id", *spec.keys)))
    total_sql = (
        f"CASE WHEN {_ALL} THEN (SELECT count(*) FROM households AS h WHERE {count_where})"
        f" ELSE (SELECT count(*) FROM households AS h WHERE {_MINE} AND {count_where}) END"
    )
    # Two branches, one of which runs (PostgreSQL evaluates the one-time conditions first): the callers who see
    # every household (plain index scans, an index-only count) and those who see their organisation's.
    branches = [f"{_ALL} AND {where}", f"NOT {_ALL} AND {_MINE} AND {where}"]
    total_cte, total_expr = "", total_sql
    if filters.rome_code is not None:
        # A ROME code few adults have: walking the households by the sort's index to find a page of holders probes
        # the members of every household (a code nobody has: all 100,000, ≈ 430 ms). So the exact total, computed
        # first from the members' GIN index, picks the path: up to _FEW_HOLDERS households, the page is read from
        # their ids (pk lookups and a sort); above, by the index walk, which then finds a page quickly.
        code = _holds_code(p(filters.rome_code, "varchar"))
        holders = f"h.id = ANY(ARRAY(SELECT m.household_id FROM household_members AS m WHERE {code}))"
        total_cte, total_expr = f"total AS MATERIALIZED (SELECT {total_sql} AS n),\n", "(SELECT t.n FROM total AS t)"
        few = f"{total_expr} <= {_FEW_HOLDERS}"
        branches = [f"NOT {few} AND {b}" for b in branches] + [f"{few} AND {holders} AND {b}" for b in branches]
    page_sql = " UNION ALL ".join(
        f"(SELECT {keys} FROM households AS h WHERE {b} ORDER BY {spec.order} LIMIT {limit} + 1 OFFSET {offset})"
        for b in branches
    )
    last_keys = ", ".join(f"(SELECT p.{k} FROM page AS p WHERE p.n = {limit}) AS last_{k}" for k in spec.keys)
    sql = f"""
WITH {_who(kind, sid)},
{total_cte}page AS (
    SELECT q.*, row_number() OVER (ORDER BY {spec.order.replace("h.", "q.")}) AS n
    FROM ({page_sql}) AS q
),
items AS (
    SELECT p.n, {_body(None)} AS body
    FROM page AS p
    JOIN households AS h ON h.id = p.id
    CROSS JOIN ok
    CROSS JOIN LATERAL (SELECT {_MEMBERS} AS j OFFSET 0) AS mm
    WHERE p.n <= {limit}
),
audit AS (
    INSERT INTO audit_events ({_AUDIT_COLUMNS})
    SELECT gen_random_uuid(), now(), {kind_param}, $1, ok.role, ok.org, {action_param}, 'household', NULL, NULL,
           {request_param},
           (SELECT COALESCE(array_agg(p.id ORDER BY p.n), '{{}}'::uuid[]) FROM page AS p WHERE p.n <= {limit}),
           jsonb_build_object(
               'household_ids',
               (SELECT COALESCE(jsonb_agg(CAST(p.id AS text) ORDER BY p.n), '[]'::jsonb) FROM page AS p
                WHERE p.n <= {limit}),
               'filters', {filters_param})
    FROM ok
)
SELECT who.role, who.active, who.org, who.org_kind, who.org_active,
       COALESCE({total_expr}, 0) AS total,
       (SELECT CAST(COALESCE(json_agg(i.body ORDER BY i.n), '[]'::json) AS text) FROM items AS i) AS items,
       {last_keys},
       (SELECT count(*) FROM page) > {limit} AS more
FROM who
"""
    return sql, p.values


def list_row(row: Sequence[Any] | None) -> ListRow:
    """The list statement's one row (None: no such account)."""
    if row is None:
        return ListRow(None, 0, "[]", None)
    more = bool(row[-1])
    return ListRow(_subject(row), int(row[5] or 0), str(row[6]), list(row[7:-1]) if more else None)


async def list_households(
    database: Database,
    kind: SubjectKind,
    subject_id: uuid.UUID,
    allowed: frozenset[Role],
    filters: HouseholdFilters,
    sort: HouseholdSort,
    page: CursorPageParams,
    action: str,
    after: Sequence[Any] | None,
    *,
    session_id: uuid.UUID | None = None,
) -> ListRow:
    """The caller's account, one page (+1 row, to know whether more follow), the total, and the audit row."""
    sql, params = list_query(kind, subject_id, allowed, filters, sort, page, action, after, session_id=session_id)
    return list_row(await database.fetchrow(sql, params))
