"""The resource kit: one way for every router to check If-Match, answer with ETag and Location, and paginate.

A router stays HTTP only (parse, call one service function, shape the answer):

    @answers_etag
    async def employers_update(principal: Writer, session: SessionDep, employer: LockedEmployer,
                               body: EmployerUpdate, if_match: IfMatchDep, response: Response) -> EmployerOut:
        if_match.check(employer.version)
        employer = await service.update_employer(session, principal, employer, body)
        return etag_answer(response, EmployerOut, employer)

Loader dependencies (`CurrentHousehold`, `LockedEmployer`, …) live in each domain's `deps.py` and use `found`.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Generic, Protocol, TypeVar

from fastapi import Depends, Header, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.clock import CALENDAR_END, PROGRAMME_START, paris_midnight
from toit_emploi_api.core.errors import (
    FieldError,
    NotFoundError,
    PreconditionFailedError,
    PreconditionRequiredError,
    ValidationProblemError,
)
from toit_emploi_api.core.schemas import IsoDate

T = TypeVar("T")
R = TypeVar("R")
O = TypeVar("O")  # noqa: E741 - the output item type
M = TypeVar("M", bound=BaseModel)

IF_MATCH_MARK = "__toit_if_match__"
"""Set on the If-Match dependency: the OpenAPI hook declares the header required and documents 412/428."""

ETAG_MARK = "__toit_etag__"
"""Set by `answers_etag` on a route's function: its 2xx carry an ETag (a GET also answers 304 to If-None-Match)."""

F = TypeVar("F", bound=Callable[..., Any])


# --- loading ---------------------------------------------------------------------------------------------------
def found(obj: T | None, detail: str) -> T:
    """The object, or a 404 `not-found` with `detail` (also for another organisation's object: no leak)."""
    if obj is None:
        raise NotFoundError(detail)
    return obj


# --- ETag and If-Match -----------------------------------------------------------------------------------------
def etag_for(version: int) -> str:
    return f'"{version}"'


class IfMatch:
    """The caller's If-Match header, checked against the current row version by `check`."""

    def __init__(self, raw: str | None) -> None:
        self.raw = raw

    def check(self, current_version: int) -> None:
        """428 `precondition-required` without the header, 412 `precondition-failed` when it is stale.

        Our ETags are exact row versions. `W/"n"` is accepted as `"n"` (proxies that compress responses weaken
        strong ETags; refusing them would make every update through such a proxy a 412); `*` means "whatever the
        current version"."""
        if self.raw is None or not self.raw.strip():
            raise PreconditionRequiredError(
                "This change requires an If-Match header carrying the ETag from your last read."
            )
        candidates = {c.strip().removeprefix("W/") for c in self.raw.split(",")}
        if "*" in candidates or etag_for(current_version) in candidates:
            return
        raise PreconditionFailedError(
            "The resource was changed since you read it; read it again and reapply your change.",
            extra={"current_etag": etag_for(current_version)},
        )


async def _if_match(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=200,
            description='The ETag from your last read (`"3"`; `W/"3"` and `*` accepted). '
            "Required: 428 without it, 412 when the resource changed since.",
        ),
    ] = None,
) -> IfMatch:
    return IfMatch(if_match)


setattr(_if_match, IF_MATCH_MARK, True)

IfMatchDep = Annotated[IfMatch, Depends(_if_match)]
"""One If-Match policy for PATCH, PUT, DELETE and the POSTs that change an existing resource."""


def answers_etag(endpoint: F) -> F:
    """Mark a route whose successful answers carry an ETag (`with_etag`, `created`, `json_answer(body, version)`):
    the OpenAPI document then gives its 2xx the ETag header and, on a GET, `If-None-Match` and the 304 that the
    conformance middleware answers. Put it right above `async def`, under `@router.<method>` (and `@idempotent`).

    A test (tests/contract/test_etag_marker.py) fails when a route answers an ETag without the mark."""
    setattr(endpoint, ETAG_MARK, True)
    return endpoint


def is_etag_marked(endpoint: Any) -> bool:
    """Whether a route's function carries the `answers_etag` mark (`idempotent`'s wrapper copies it)."""
    return bool(getattr(endpoint, ETAG_MARK, False))


def with_etag(response: Response, version: int) -> None:
    """Answer with the resource's ETag (its row version)."""
    response.headers["ETag"] = etag_for(version)


class Versioned(Protocol):
    """A row with a version (its ETag)."""

    @property
    def version(self) -> int: ...


def etag_answer(response: Response, model: type[M], obj: Versioned) -> M:
    """The answer of a read or a change of one resource: `obj` as `model`, with its ETag (its row version)."""
    with_etag(response, obj.version)
    return model.model_validate(obj)


def created_answer(response: Response, model: type[M], obj: Versioned, location: str) -> M:
    """The answer of a creation: `obj` as `model`, with its ETag and its Location."""
    created(response, obj.version, location)
    return model.model_validate(obj)


def json_answer(body: str, version: int | None = None) -> Response:
    """A 200 whose JSON was built already (e.g. by PostgreSQL, in the route's response model's exact shape): sent as
    is, without a second validation and serialisation; with its ETag when `version` is given. The route keeps its
    `response_model` for the OpenAPI document."""
    headers = None if version is None else {"ETag": etag_for(version)}
    return Response(content=body, media_type="application/json", headers=headers)


def created(response: Response, version: int, location: str) -> None:
    """A creation's answer headers: the new resource's ETag and its Location."""
    response.headers["ETag"] = etag_for(version)
    response.headers["Location"] = location


# --- pagination ------------------------------------------------------------------------------------------------
class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int

    def of(self, items: Sequence[T], total: int) -> Page[T]:
        return Page(items=list(items), total=total, limit=self.limit, offset=self.offset)

    def slice(self, items: Sequence[T]) -> Page[T]:
        """A page of a list already in memory (e.g. a household's members)."""
        return self.of(items[self.offset : self.offset + self.limit], len(items))


async def _page_params(
    limit: Annotated[int, Query(ge=1, le=200, description="Page size (1-200).")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Rows to skip.")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(_page_params)]


# --- keyset (cursor) pagination ----------------------------------------------------------------------------------
class CursorPage(Page[T], Generic[T]):
    """A page of a list that also offers keyset pagination: `next_cursor` continues after the last item (null when
    no item follows); send it back as `cursor` (with the same filters and sort) for the next page."""

    next_cursor: str | None = None


@dataclass(frozen=True)
class CursorPageParams(PageParams):
    """`limit`, `offset` and `cursor` (opaque; `offset` must then be 0)."""

    cursor: str | None = None

    def after(self, sort: str) -> list[Any] | None:
        """The sort-key values the cursor carries (None without a cursor); 422 naming `cursor` when it is not one
        of ours or was made for another sort."""
        if self.cursor is None:
            return None
        return decode_cursor(self.cursor, sort)


_CURSOR_FIELD = "query.cursor"


def encode_cursor(sort: str, values: Sequence[Any]) -> str:
    """An opaque cursor for the row after which the next page starts: the sort and that row's sort-key values."""
    raw = json.dumps([sort, [None if v is None else str(v) for v in values]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> list[Any]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        made_for, values = decoded
        if not isinstance(made_for, str) or not isinstance(values, list) or not values:
            raise ValueError(cursor)
        if not all(isinstance(v, str) for v in values):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationProblemError(
            "The cursor is not one this API made: send back a next_cursor unchanged.",
            errors=[FieldError(field=_CURSOR_FIELD, message="not a cursor of this list")],
        ) from None
    if made_for != sort:
        raise ValidationProblemError(
            "The cursor was made for another sort: keep the sort (and the filters) of the first page.",
            errors=[FieldError(field=_CURSOR_FIELD, message=f"made for sort {made_for!r}, not {sort!r}")],
        )
    return values


async def _cursor_page_params(
    limit: Annotated[int, Query(ge=1, le=200, description="Page size (1-200).")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Rows to skip (0 when `cursor` is sent).")] = 0,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=1000,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="Keyset pagination: the `next_cursor` of the previous page (same filters and sort). "
            "Every page then costs the same, however deep.",
        ),
    ] = None,
) -> CursorPageParams:
    if cursor is not None and offset:
        raise ValidationProblemError(
            "Send either offset or cursor, not both.",
            errors=[FieldError(field="query.offset", message="must be 0 (or absent) when a cursor is sent")],
        )
    return CursorPageParams(limit=limit, offset=offset, cursor=cursor)


CursorPageDep = Annotated[CursorPageParams, Depends(_cursor_page_params)]
"""`limit` + `offset`, or `limit` + `cursor` (keyset): for lists that answer a `CursorPage`."""


@dataclass(frozen=True)
class Slice(Generic[R]):
    """One page of rows from `paginate`, with the total count of the unpaginated query."""

    rows: Sequence[R]
    total: int
    page: PageParams

    def to(self, out: Callable[[R], O], model: type[Page[O]] | None = None) -> Page[O]:
        """The answer: each row through `out`. `model` (e.g. `Page[JobOpeningOut]`) types the page where the
        response model is a union of page types, so that FastAPI serialises it as the member it is."""
        items = [out(row) for row in self.rows]
        if model is None:
            return self.page.of(items, self.total)
        return model(items=items, total=self.total, limit=self.page.limit, offset=self.page.offset)


async def paginate(session: AsyncSession, stmt: Select[Any], page: PageParams, *, scalars: bool = True) -> Slice[Any]:
    """Run `stmt` for one page (its ORDER BY must be total) and count the rows of the whole query.

    `scalars`: return the first column of each row (ORM entities), else the rows themselves."""
    total = (await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))).scalar_one()
    result = await session.execute(stmt.limit(page.limit).offset(page.offset))
    rows: Sequence[Any] = result.scalars().all() if scalars else result.all()
    return Slice(rows=rows, total=total, page=page)


# --- sorting ---------------------------------------------------------------------------------------------------
def sorted_by(stmt: Select[Any], sort: str, columns: Mapping[str, Any], *tiebreak: Any) -> Select[Any]:
    """The `sort` query parameter of a list is a `StrEnum` of keys, each also with `-` for descending (name it
    `<Thing>Sort`: its French labels come from `vocab.labels.SORT_KEYS`).

    `stmt` ordered by the `sort` value (`-` for descending) over `columns` (key → column), then by `tiebreak`
    (ending with a unique column, so that the order is total and pages never overlap), in the same direction: a
    descending sort is exactly the ascending one reversed."""
    descending = sort.startswith("-")
    keys = [columns[sort.removeprefix("-")], *tiebreak]
    return stmt.order_by(None).order_by(*(k.desc() if descending else k.asc() for k in keys))


class ChronologySort(StrEnum):
    """`sort` of a list of dated events (pipeline events, stage history, access log, audit trail)."""

    AT, AT_DESC = "at", "-at"


SortQuery = Query(description="Sort key; `-` for descending. Ties are broken by id: pages never overlap.")
"""The `sort` parameter of a list: `sort: Annotated[ThingSort, SortQuery] = ThingSort.CREATED_AT`."""


# --- the shared filter vocabulary ----------------------------------------------------------------------------------
def search_query(description: str, example: str | None = None) -> Any:
    """The `q` parameter of a searchable list, 1 to 100 characters:
    `q: Annotated[str | None, search_query("Words of the title…", "macon")] = None`."""
    return Query(min_length=1, max_length=100, description=description, examples=None if example is None else [example])


QueryDate = Annotated[IsoDate, Field(ge=PROGRAMME_START, le=CALENDAR_END)]
"""A Paris date in a query (`YYYY-MM-DD` only, 2014-01-01..2100-12-31)."""

CreatedSinceQuery = Annotated[
    QueryDate | None, Query(description="Created on or after this Paris date (2014-01-01..2100-12-31).")
]
CreatedBeforeQuery = Annotated[
    QueryDate | None, Query(description="Created strictly before this Paris date (2014-01-01..2100-12-31).")
]


def equal_if_given(*filters: tuple[Any, object | None]) -> list[ColumnElement[bool]]:
    """`column == value` for each `(column, value)` of a list's optional filters whose value was given (not None)."""
    return [column == value for column, value in filters if value is not None]


def created_between(column: Any, since: date | None, before: date | None) -> list[ColumnElement[bool]]:
    """`created_since` (on or after that Paris day) and `created_before` (strictly before it) over `column`."""
    conds: list[ColumnElement[bool]] = []
    if since is not None:
        conds.append(column >= paris_midnight(since))
    if before is not None:
        conds.append(column < paris_midnight(before))
    return conds


@dataclass(frozen=True)
class ListQuery:
    """What `list_query` parsed: the `sort` value (`-` for descending) and the creation window (Paris dates)."""

    sort: str
    created_since: date | None = None
    created_before: date | None = None


def list_query(sort: type[StrEnum], default: StrEnum, *, created: bool = False) -> Any:
    """`Depends` on a list's `sort` (the `StrEnum` `sort`, `default` when absent) and, with `created`, its
    `created_since`/`created_before`: `q: Annotated[ListQuery, list_query(PlacementSort, PlacementSort.CREATED_AT)]`.

    One declaration for every list, so that the same parameters read the same everywhere."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("sort", keyword, default=default, annotation=Annotated[sort, SortQuery])]
    if created:
        params += [
            inspect.Parameter("created_since", keyword, default=None, annotation=CreatedSinceQuery),
            inspect.Parameter("created_before", keyword, default=None, annotation=CreatedBeforeQuery),
        ]

    async def dependency(**values: Any) -> ListQuery:  # async: pure CPU, no thread-pool hop
        return ListQuery(str(values["sort"].value), values.get("created_since"), values.get("created_before"))

    dependency.__signature__ = inspect.Signature(params, return_annotation=ListQuery)  # type: ignore[attr-defined]
    dependency.__name__ = f"list_query_{sort.__name__}"
    return Depends(dependency)
