"""CSV answers: one way for every list or report to answer `Accept: text/csv`.

The programme's spreadsheets are French: `;` separator, UTF-8 with a byte-order mark (so spreadsheet software
detects the encoding), French column headers chosen by the caller, dates in ISO form, booleans as `oui`/`non`.
Cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return first) are prefixed
with `'` (CSV injection).

Streaming in constant memory: `stream_rows` reads the rows of a statement in chunks through its own session (the
request's session commits before the response is sent), inside one read-only REPEATABLE READ transaction, so the
file is one consistent snapshot however long the download takes.

    @router.get("/things", responses={200: CSV_CONTENT})
    async def things_list(request: Request, ...) -> Page[ThingOut] | StreamingResponse:
        if wants_csv(request):
            return csv_response(HEADER, (row_to_cells(r) for r in ...), filename="things.csv")
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Executable, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

CSV_MEDIA_TYPE = "text/csv"
BOM = "\ufeff"
SEPARATOR = ";"
CSV_CONTENT: dict[str, Any] = {
    "content": {
        CSV_MEDIA_TYPE: {
            "schema": {"type": "string"},
            "example": "\ufeffcolonne;autre\r\nvaleur;2026-12-02\r\n",
        }
    }
}
"""`responses={200: CSV_CONTENT}`: declares the CSV form of a 200 answer in the OpenAPI document."""

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def wants_csv(request: Request) -> bool:
    """True when the caller asks for CSV (`Accept: text/csv`, alone or preferred to JSON)."""
    accept = request.headers.get("accept", "")
    best: tuple[float, str] | None = None
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        if media not in (CSV_MEDIA_TYPE, "application/json", "application/problem+json"):
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if best is None or quality > best[0]:
            best = (quality, media)
    return best is not None and best[1] == CSV_MEDIA_TYPE and best[0] > 0


def cell(value: Any) -> str:
    """One value as a CSV cell (None → empty, dates ISO, booleans oui/non, lists space-separated)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, enum.Enum):
        return cell(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | Decimal | float | UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return " ".join(cell(v) for v in value)
    text_value = str(value)
    if text_value.startswith(_FORMULA_STARTS):
        return "'" + text_value
    return text_value


def _line(cells: Iterable[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=SEPARATOR, lineterminator="\r\n").writerow([cell(c) for c in cells])
    return buffer.getvalue()


def render(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A whole CSV document in memory (small answers: reports, templates)."""
    return BOM + _line(header) + "".join(_line(row) for row in rows)


async def _encode(
    header: Sequence[str], rows: AsyncIterable[Sequence[Any]] | Iterable[Sequence[Any]]
) -> AsyncIterator[bytes]:
    yield (BOM + _line(header)).encode()
    chunk: list[str] = []
    if isinstance(rows, AsyncIterable):
        async for row in rows:
            chunk.append(_line(row))
            if len(chunk) >= 500:
                yield "".join(chunk).encode()
                chunk = []
    else:
        for row in rows:
            chunk.append(_line(row))
    if chunk:
        yield "".join(chunk).encode()


def csv_response(
    header: Sequence[str],
    rows: AsyncIterable[Sequence[Any]] | Iterable[Sequence[Any]],
    *,
    filename: str,
    headers: dict[str, str] | None = None,
) -> StreamingResponse:
    """A streamed `text/csv; charset=utf-8` answer, offered for download as `filename`."""
    all_headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
    all_headers.update(headers or {})
    return StreamingResponse(_encode(header, rows), media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8", headers=all_headers)


async def stream_rows(
    maker: async_sessionmaker[AsyncSession], stmt: Executable, *, chunk_size: int = 1000
) -> AsyncIterator[Sequence[Any]]:
    """The rows of `stmt`, fetched `chunk_size` at a time through a server-side cursor, in one read-only snapshot."""
    async with maker() as session, session.begin():
        await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        result = await session.stream(stmt.execution_options(yield_per=chunk_size))
        async for row in result:
            yield tuple(row)
