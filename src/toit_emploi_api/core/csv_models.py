"""CSV rows from the output models of a list: one column per field (nested models flattened), headers chosen by the
caller, so that a CSV export shows exactly the view the caller may see in JSON.

    paths = columns(JobOpeningPublicOut, LABELS)          # [("employer.legal_name", "Employeur"), ...]
    rows = (cells(JobOpeningPublicOut.model_validate(o), paths) async for (o,) in stream_rows(maker, stmt))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel


def columns(view: type[BaseModel], labels: Mapping[str, str], prefix: str = "") -> list[tuple[str, str]]:
    """(dotted path, header) of every field of `view`, nested models flattened; the header is `labels[path]` or the
    path itself."""
    out: list[tuple[str, str]] = []
    for name, field in view.model_fields.items():
        path = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += columns(annotation, labels, f"{path}.")
        else:
            out.append((path, labels.get(path, path)))
    return out


def cells(obj: BaseModel, paths: list[tuple[str, str]]) -> list[Any]:
    """The values of `obj` at each path (None where a nested model is missing)."""
    values: list[Any] = []
    for path, _ in paths:
        value: Any = obj
        for part in path.split("."):
            value = getattr(value, part, None) if value is not None else None
        values.append(value)
    return values
