"""Reading CSV files that partners and landlords send: one way for the vacancy sync and the imports.

- **Encoding**: UTF-8 (a byte-order mark is dropped) unless the request declares another charset
  (`Content-Type: text/csv; charset=windows-1252`, what French spreadsheet software writes).
- **Separator**: `;` (French spreadsheets) or `,`, whichever the header line has more of.
- **Records**: blank lines are skipped; a malformed record (an unclosed quote, …) stops the reading with the number
  of the last good record.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator, Sequence


class CsvInputError(Exception):
    """The file as a whole cannot be read: `message` says why, `field` where (`body` or `header`)."""

    def __init__(self, message: str, *, field: str = "body") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def charset_of(content_type: str) -> str | None:
    """The `charset` parameter of a Content-Type header, if any."""
    _, _, params = content_type.partition(";")
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None


def media_type_of(content_type: str) -> str:
    """The media type of a Content-Type header, lower-cased, without parameters."""
    return content_type.partition(";")[0].strip().lower()


def decode(body: bytes, charset: str | None) -> str:
    """The text of a CSV body: UTF-8 by default (BOM dropped), or the declared charset; NUL characters refused."""
    try:
        encoding = codecs.lookup(charset or "utf-8").name  # utf_8, UTF8, utf-8 … are one codec
        if encoding == "utf-8":
            encoding = "utf-8-sig"  # a byte-order mark is dropped
        text = body.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        raise CsvInputError(
            f"The CSV cannot be decoded as {charset or 'UTF-8'}; send UTF-8 or declare text/csv; charset=windows-1252."
        ) from None
    if "\x00" in text:
        raise CsvInputError("The CSV must not contain NUL characters.")
    return text


def delimiter_of(text: str) -> str:
    """`;` when the header line has more semicolons than commas, else `,`."""
    first_line = text.split("\n", 1)[0]
    return ";" if first_line.count(";") > first_line.count(",") else ","


def reader(text: str, delimiter: str | None = None) -> Iterator[list[str]]:
    """A strict `csv.reader` over the text, with the separator found by `delimiter_of` unless given."""
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter or delimiter_of(text), strict=True)


def header(rows: Iterator[list[str]]) -> list[str]:
    """The header line's cells, stripped (a missing or unreadable header is a `CsvInputError` on `header`)."""
    try:
        return [cell.strip() for cell in next(rows)]
    except StopIteration:
        raise CsvInputError("The CSV is empty: a header line is required.", field="header") from None
    except csv.Error as exc:
        raise CsvInputError(f"unreadable CSV header: {exc}", field="header") from None


def records(rows: Iterable[list[str]]) -> Iterator[list[str]]:
    """The data records, blank lines skipped; a malformed one is a `CsvInputError` naming the last good record."""
    iterator = iter(rows)
    count = 0
    while True:
        try:
            cells = next(iterator)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvInputError(f"unreadable CSV after data row {count}: {exc}") from None
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # blank line
        count += 1
        yield cells


def check_header(names: Sequence[str], required: Sequence[str], optional: Sequence[str], *, joiner: str = ";") -> None:
    """Refuse a header (a `CsvInputError` on `header`) that misses a required column, names one that is neither
    required nor optional, or repeats one; the message lists every problem and the expected columns."""
    known = {*required, *optional}
    problems: list[str] = []
    missing = [h for h in required if h not in names]
    unknown = [h for h in names if h not in known]
    repeated = sorted({h for h in names if names.count(h) > 1})
    if missing:
        problems.append("missing column(s) " + ", ".join(missing))
    if unknown:
        problems.append("unknown column(s) " + ", ".join(repr(h[:40]) for h in unknown[:10]))
    if repeated:
        problems.append("repeated column(s) " + ", ".join(repeated))
    if problems:
        raise CsvInputError(
            f"{'; '.join(problems)}. Expected: {joiner.join(required)} (optional: {joiner.join(optional)}).",
            field="header",
        )
