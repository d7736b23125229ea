"""The refusal of a bulk file with invalid lines, one shape for the households import and the history import: a 422
`import-invalid-rows` naming every line at fault (up to a limit), nothing written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn, Protocol

from toit_emploi_api.core.errors import FieldError, ProblemError
from toit_emploi_api.vocab.problems import IMPORT_INVALID_ROWS


class LineError(Protocol):
    line: int
    field: str
    message: str

    def model_dump(self) -> dict[str, Any]: ...


def refuse_invalid_lines(errors: Sequence[LineError], *, of: str, limit: int) -> NoReturn:
    """Raise the problem for `errors` (every one found), showing the first `limit`; `of` names the file in the
    detail ("the file", "the history")."""
    shown = errors[:limit]
    lines = len({e.line for e in errors})
    raise ProblemError(
        IMPORT_INVALID_ROWS,
        f"{lines} line(s) of {of} are invalid: nothing was imported. Fix them and send the whole file again.",
        errors=[FieldError(field=f"lines.{e.line}.{e.field}", message=e.message) for e in shown],
        extra={
            "invalid_lines": lines,
            "row_errors": [e.model_dump() for e in shown],
            "errors_truncated": len(errors) > len(shown),
        },
    )
