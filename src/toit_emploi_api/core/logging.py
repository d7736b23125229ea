"""Structured logging with the request id on every line. Never log names, birth dates or notes.

One format for every line the process writes, ours and uvicorn's (`uvicorn.error`; uvicorn's access lines are
replaced by ours, which never carry the query string):
JSON lines in production (or with `TOIT_EMPLOI_LOG_JSON=true`), text elsewhere; the time is ISO 8601 in UTC with
milliseconds (`2026-12-02T06:30:00.123Z`).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

from toit_emploi_api.core.request_context import current_request_id
from toit_emploi_api.core.settings import Settings

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s"


def iso_utc(created: float) -> str:
    """A record's time as ISO 8601 UTC with milliseconds and a `Z`."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


class TextFormatter(logging.Formatter):
    def __init__(self, fmt: str = TEXT_FORMAT, *args: Any, **kwargs: Any) -> None:
        super().__init__(fmt, *args, **kwargs)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return iso_utc(record.created)


def _json_formatter_class() -> type[logging.Formatter]:
    from pythonjsonlogger.json import JsonFormatter

    class JsonLineFormatter(JsonFormatter):
        """One JSON object a line: time (ISO 8601 UTC), level, logger, message, request_id, and any `extra`."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("rename_fields", {"levelname": "level", "asctime": "time"})
            super().__init__(JSON_FIELDS, *args, **kwargs)

        def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
            return iso_utc(record.created)

        def add_fields(
            self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
        ) -> None:
            super().add_fields(log_record, record, message_dict)
            log_record.setdefault("request_id", getattr(record, "request_id", "-"))
            # uvicorn's own records carry their arguments as `color_message`: not a field of ours.
            log_record.pop("color_message", None)

    return JsonLineFormatter


def make_formatter(json_lines: bool) -> logging.Formatter:
    return _json_formatter_class()() if json_lines else TextFormatter()


def make_handler(settings: Settings) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(make_formatter(settings.json_logs))
    return handler


def configure_logging(settings: Settings) -> None:
    """Our loggers and uvicorn's write through one handler, in one format (called by `create_app` in each worker,
    after uvicorn has set up its own logging)."""
    handler = make_handler(settings)
    level = settings.log_level.upper()
    # No line of ours shows the caller's file and line, the thread or the process: the record need not look them up
    # (the logging HOWTO's "Optimization"; measured, the caller's frame walk was half of the access line's cost).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger("toit_emploi_api")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    error_logger = logging.getLogger("uvicorn.error")  # "uvicorn" itself has no handler: its children write
    error_logger.handlers[:] = [handler]
    error_logger.setLevel(level)
    error_logger.propagate = False
    # uvicorn's access line would carry the query string (names, in a search) and the client's port: our own
    # access line (core.middleware, one a request, with the request id) replaces it, in every way of running.
    access_logger = logging.getLogger("uvicorn.access")
    access_logger.handlers[:] = []
    access_logger.propagate = False


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """A `logging.config.dictConfig` for uvicorn's `--log-config`, so that even the supervisor's lines (before any
    app exists, and the parent of several workers) have our format."""
    formatter: dict[str, Any] = (
        {"()": "toit_emploi_api.core.logging.json_formatter"}
        if settings.json_logs
        else {"()": "toit_emploi_api.core.logging.TextFormatter"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "toit_emploi_api.core.logging.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "loggers": {
            "uvicorn": {"handlers": [], "level": settings.log_level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": ["default"], "level": settings.log_level.upper(), "propagate": False},
            "uvicorn.access": {"handlers": [], "level": settings.log_level.upper(), "propagate": False},
        },
    }


def json_formatter() -> logging.Formatter:
    """Factory for `dictConfig` (`"()"`): the JSON line formatter."""
    return _json_formatter_class()()
