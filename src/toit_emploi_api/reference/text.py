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

Use them directly in class annotations (``name: Name``), which ``mypy --strict`` accepts.
``bounded_text(max_length, min_length)`` builds the same kind of type for other bounds at runtime; as a call
it cannot appear in an annotation checked by mypy, so bind it to a module-level alias first
(``Title = bounded_text(150, 1)``) and, for mypy, prefer declaring a new explicit alias like the ones below.

Line endings are normalised before validation: ``\\r\\n`` and a lone ``\\r`` become ``\\n`` (browsers submit
text areas with CRLF), so they never count as forbidden control characters nor as two characters.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, StringConstraints

__all__ = [
    "BRIEF_TEXT_MAX",
    "FOLDED_MAX",
    "LONG_TEXT_MAX",
    "MEDIUM_TEXT_MAX",
    "NAME_MAX",
    "NOTE_TEXT_MAX",
    "SHORT_TEXT_MAX",
    "TITLE_MAX",
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


def bounded_text(max_length: int, min_length: int = 0, *, multiline: bool = True) -> Any:
    """Build an ``Annotated[str, ...]`` type: stripped, no NUL/control characters, ``min..max`` length.

    With ``multiline=True`` line feeds and tabs are allowed; with ``False`` the text must be one line.
    The returned object is a runtime type for pydantic (``TypeAdapter(bounded_text(50))``, model fields
    declared through a module-level alias); mypy cannot check calls in annotations, so typed code should use
    the explicit aliases ``Name``, ``ShortText``, ``LongText`` and ``NoteText``.
    """
    if min_length < 0 or max_length < min_length:
        raise ValueError(f"invalid text bounds: min_length={min_length}, max_length={max_length}")
    check = _check_multiline if multiline else _check_single_line
    # StringConstraints comes first so that pydantic applies it to the core str schema (native length errors
    # and minLength/maxLength in the JSON schema); the BeforeValidator still runs first at validation time.
    return Annotated[
        str,
        StringConstraints(min_length=min_length or None, max_length=max_length),
        BeforeValidator(_prepare_text),
        AfterValidator(check),
    ]


Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=NAME_MAX),
    BeforeValidator(_prepare_text),
    AfterValidator(_check_single_line),
]
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

ShortText = Annotated[
    str,
    StringConstraints(max_length=SHORT_TEXT_MAX),
    BeforeValidator(_prepare_text),
    AfterValidator(_check_multiline),
]
"""Short free text: at most 200 characters, stripped, no control characters except line feed and tab."""

BriefText = Annotated[
    str,
    StringConstraints(max_length=BRIEF_TEXT_MAX),
    BeforeValidator(_prepare_text),
    AfterValidator(_check_multiline),
]
"""A paragraph: at most 500 characters, stripped, no control characters except line feed and tab."""

MediumText = Annotated[
    str,
    StringConstraints(max_length=MEDIUM_TEXT_MAX),
    BeforeValidator(_prepare_text),
    AfterValidator(_check_multiline),
]
"""Medium free text: at most 1000 characters, stripped, no control characters except line feed and tab."""

LongText = Annotated[
    str,
    StringConstraints(max_length=LONG_TEXT_MAX),
    BeforeValidator(_prepare_text),
    AfterValidator(_check_multiline),
]
"""Long free text: at most 2000 characters, stripped, no control characters except line feed and tab."""

NoteText = Annotated[
    str,
    StringConstraints(max_length=NOTE_TEXT_MAX),
    BeforeValidator(_prepare_text),
    AfterValidator(_check_multiline),
]
"""A note: at most 4000 characters, stripped, no control characters except line feed and tab."""

TITLE_MAX: Final = 200

Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=TITLE_MAX),
    BeforeValidator(_prepare_text),
    AfterValidator(_check_single_line),
]
"""A title or legal name: 1..200 characters, surrounding whitespace stripped, single line, no control characters."""
