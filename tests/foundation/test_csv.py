"""The CSV kit: French spreadsheet conventions, formula-injection guard, negotiation, streaming from PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from toit_emploi_api.core.csv import cell, csv_response, render, stream_rows, wants_csv


def _request(accept: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [(b"accept", accept.encode())]})


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/csv", True),
        ("text/csv; charset=utf-8", True),
        ("application/json", False),
        ("", False),
        ("*/*", False),
        ("application/json;q=0.5, text/csv", True),
        ("application/json, text/csv;q=0.5", False),
        ("text/csv;q=0", False),
    ],
)
def test_wants_csv_follows_the_accept_header(accept: str, expected: bool) -> None:
    assert wants_csv(_request(accept)) is expected


def test_cells_follow_french_spreadsheet_conventions() -> None:
    assert cell(None) == ""
    assert cell(True) == "oui"
    assert cell(False) == "non"
    assert cell(date(2026, 12, 2)) == "2026-12-02"
    assert cell(["K2204", "N1103"]) == "K2204 N1103"
    assert cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert cell("-2+3") == "'-2+3"
    assert cell(-2) == "-2"


def test_render_has_bom_semicolons_and_quotes() -> None:
    document = render(["Nom", "Note"], [["Dupont; fils", 'dit "le grand"']])
    assert document.startswith("\ufeffNom;Note\r\n")
    assert document.endswith('"Dupont; fils";"dit ""le grand"""\r\n')


async def test_csv_response_streams_rows_from_one_snapshot(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    rows = stream_rows(sessionmaker, text("SELECT g, g * 2 FROM generate_series(1, 1200) AS g ORDER BY g"))
    response = csv_response(["a", "b"], rows, filename="x.csv")
    assert response.media_type == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="x.csv"'
    body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[misc]
    lines = body.decode().removeprefix("\ufeff").split("\r\n")
    assert lines[0] == "a;b"
    assert lines[1200] == "1200;2400"
    assert len(lines) == 1202  # header, 1200 rows, and the empty string after the last line break
