"""Text helpers: search folding and bounded, sanitised free-text types for pydantic v2 models.

``fold`` gives the case- and accent-insensitive normal form used for search and duplicate detection.

The annotated text types strip surrounding whitespace, reject NUL bytes and other control characters,
and carry their length bounds into the JSON schema (``minLength`` / ``maxLength``):

============  ==========  ==========================================================================
alias         length      use
============  ==========  ==========================================================================
``Name``      1..100      person and organisation names; single line (no tab or line break)
``ShortText`` 0..200      titles, short labels, addresses, reasons; tab and line feed allowed
``BriefText`` 0..500      a paragraph: consent scope; tab and line feed allowed
``MediumText`` 0..1000    needs/constraints, qualifications; tab and line feed allowed
``Title``     1..200      job titles, legal names of companies; single line
``LongText``  0..2000     descriptions, needs/constraints; tab and line feed allowed
``NoteText``  0..4000     follow-up notes, closure notes; tab and line feed allowed
============  ==========  ==========================================================================

Every one of them is built by ONE factory, the ``BoundedText(max_length, min_length=0, multiline=True)`` metadata:
``Annotated[str, BoundedText(200)]`` is a type ``mypy --strict`` accepts in an annotation, and other metadata may
follow it (``Annotated[str, BoundedText(40, 1, multiline=False), AfterValidator(check), Field(description=...)]``).
``bounded_text(max_length, min_length, multiline=)`` returns that same type at runtime (for ``TypeAdapter``).

Line endings are normalised before validation: ``\\r\\n`` and a lone ``\\r`` become ``\\n`` (browsers submit
text areas with CRLF), so they never count as forbidden control characters nor as two characters.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any, Final

from pydantic import AfterValidator, GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

__all__ = [
    "BRIEF_TEXT_MAX",
    "FOLDED_MAX",
    "LONG_TEXT_MAX",
    "MEDIUM_TEXT_MAX",
    "NAME_MAX",
    "NOTE_TEXT_MAX",
    "SHORT_TEXT_MAX",
    "TITLE_MAX",
    "BoundedText",
    "BriefText",
    "FoldableName",
    "LongText",
    "MediumText",
    "Name",
    "NoteText",
    "PersonName",
    "ShortText",
    "Title",
    "bounded_text",
    "fold",
    "reject_control_characters",
    "reject_nul",
]

SHORT_TEXT_MAX: Final = 200
# Longest folded form kept in a `*_folded` column: folding can lengthen text ("ß" → "ss", "ﷺ" → 18 characters).
FOLDED_MAX: Final = 400
BRIEF_TEXT_MAX: Final = 500
MEDIUM_TEXT_MAX: Final = 1000
NAME_MAX: Final = 100
LONG_TEXT_MAX: Final = 2000
NOTE_TEXT_MAX: Final = 4000

# Apostrophes, quotes and hyphen/dash variants that separate words in French names ("Jean-Pierre",
# "N'Diaye", "d’Artagnan"): folded to a space.
_WORD_SEPARATORS: Final = (
    "'"  # apostrophe
    "`"  # grave accent used as apostrophe
    "\u00b4"  # acute accent
    "\u02bc"  # modifier letter apostrophe
    "\u2018\u2019\u201b"  # single quotation marks
    "-"  # hyphen-minus
    "\u00ad"  # soft hyphen
    "\u2010\u2011\u2012\u2013\u2014\u2015"  # hyphen, non-breaking hyphen, figure/en/em dashes, bar
    "\u2212"  # minus sign
    "_"
)
# Letters that Unicode does not decompose but French readers treat as two letters or a plain letter.
_LIGATURES: Final = {"œ": "oe", "æ": "ae", "ø": "o", "ß": "ss", "ł": "l", "đ": "d"}
_FOLD_TABLE: Final = str.maketrans({**dict.fromkeys(_WORD_SEPARATORS, " "), **_LIGATURES})


def fold(value: str) -> str:
    """Case- and accent-insensitive normal form for search and duplicate detection.

    ``fold("Benoît") == "benoit"``, ``fold("ÉLODIE") == "elodie"``,
    ``fold("  Jean-Pierre  ") == fold("jean pierre") == "jean pierre"``, ``fold("Cœur") == "coeur"``.
    Steps: casefold, NFKD, drop combining marks, fold apostrophes/hyphens and ligatures, collapse whitespace.
    """
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.translate(_FOLD_TABLE).split())


def reject_nul(value: str) -> str:
    """Return ``value`` unchanged, or raise ``ValueError`` if it contains a NUL character."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def reject_control_characters(value: str, *, allow: str = "\n\t") -> str:
    """Return ``value`` unchanged, or raise ``ValueError`` on NUL or a control character not in ``allow``.

    Control characters are Unicode category ``Cc`` (C0, DEL and C1).
    """
    reject_nul(value)
    for ch in value:
        if ch not in allow and unicodedata.category(ch) == "Cc":
            raise ValueError(f"must not contain control characters (found U+{ord(ch):04X})")
    return value


def _prepare_text(value: Any) -> Any:
    # Non-strings are passed on untouched so that pydantic reports its usual "valid string" error.
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n").strip()
    return value


def _check_multiline(value: str) -> str:
    return reject_control_characters(value, allow="\n\t")


def _check_single_line(value: str) -> str:
    if "\n" in value or "\t" in value:
        reject_nul(value)
        raise ValueError("must be a single line (no line break or tab)")
    return reject_control_characters(value, allow="")


@dataclass(frozen=True, slots=True)
class BoundedText:
    """The one text-field factory: ``Annotated[str, BoundedText(max_length, min_length, multiline=...)]``.

    The text is normalised first (line endings to ``\\n``, surrounding whitespace stripped), then checked as a string
    of ``min_length..max_length`` characters (pydantic's own length errors, and ``minLength``/``maxLength`` in the
    JSON schema), then refused when it holds NUL or a control character: with ``multiline`` line feeds and tabs are
    allowed, without it the text must be one line."""

    max_length: int
    min_length: int = 0
    multiline: bool = True

    def __post_init__(self) -> None:
        if self.min_length < 0 or self.max_length < self.min_length:
            raise ValueError(f"invalid text bounds: min_length={self.min_length}, max_length={self.max_length}")

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        schema = handler(source)
        if schema.get("type") == "str":
            schema = {**schema, "max_length": self.max_length}
            if self.min_length:
                schema["min_length"] = self.min_length
        check = _check_multiline if self.multiline else _check_single_line
        return core_schema.no_info_before_validator_function(
            _prepare_text, core_schema.no_info_after_validator_function(check, schema)
        )


def bounded_text(max_length: int, min_length: int = 0, *, multiline: bool = True) -> Any:
    """``Annotated[str, BoundedText(max_length, min_length, multiline=multiline)]``, built at runtime (for
    ``TypeAdapter(bounded_text(50))``); in annotations checked by mypy, write the ``Annotated`` form itself."""
    return Annotated[str, BoundedText(max_length, min_length, multiline=multiline)]


Name = Annotated[str, BoundedText(NAME_MAX, 1, multiline=False)]
"""A name: 1..100 characters, surrounding whitespace stripped, single line, no control characters."""


def check_foldable(value: str) -> str:
    """Refuse text whose folded form (kept for search) would exceed ``FOLDED_MAX`` characters."""
    if len(fold(value)) > FOLDED_MAX:
        raise ValueError(f"too long once normalised for search (more than {FOLDED_MAX} characters)")
    return value


FoldableName = Annotated[Name, AfterValidator(check_foldable)]
"""A ``Name`` also stored folded (search, duplicates): its folded form fits ``FOLDED_MAX`` characters."""


def require_letter(value: str) -> str:
    """Refuse text without any letter (only punctuation, digits or symbols): it would fold to nothing."""
    if not any(unicodedata.category(ch).startswith("L") for ch in value):
        raise ValueError("must contain at least one letter")
    return value


PersonName = Annotated[FoldableName, AfterValidator(require_letter)]
"""A person's first or last name: a ``FoldableName`` with at least one letter (any script)."""

ShortText = Annotated[str, BoundedText(SHORT_TEXT_MAX)]
"""Short free text: at most 200 characters, stripped, no control characters except line feed and tab."""

BriefText = Annotated[str, BoundedText(BRIEF_TEXT_MAX)]
"""A paragraph: at most 500 characters, stripped, no control characters except line feed and tab."""

MediumText = Annotated[str, BoundedText(MEDIUM_TEXT_MAX)]
"""Medium free text: at most 1000 characters, stripped, no control characters except line feed and tab."""

LongText = Annotated[str, BoundedText(LONG_TEXT_MAX)]
"""Long free text: at most 2000 characters, stripped, no control characters except line feed and tab."""

NoteText = Annotated[str, BoundedText(NOTE_TEXT_MAX)]
"""A note: at most 4000 characters, stripped, no control characters except line feed and tab."""

TITLE_MAX: Final = 200

Title = Annotated[str, BoundedText(TITLE_MAX, 1, multiline=False)]
"""A title or legal name: 1..200 characters, surrounding whitespace stripped, single line, no control characters."""
