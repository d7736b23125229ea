"""Operability: Makefile installs, Ctrl-C on serve, no warning from the embedded server, log format."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from toit_emploi_api.cli import serve_exit_code
from toit_emploi_api.core.logging import configure_logging, uvicorn_log_config
from toit_emploi_api.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _dry_run(target: str) -> str:
    out = subprocess.run(
        ["make", "-n", "-B", target, "PYTHON=python3", f"VENV={ROOT / '.data' / 'dry-venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def test_make_run_installs_the_runtime_only_and_make_test_adds_dev_tools() -> None:
    run = _dry_run("run")
    assert "-e '.[embedded]'" in run
    assert ".[dev]" not in run
    assert "--quiet -e" not in run  # the long install shows its progress
    assert "toit-emploi serve" in run
    assert "-e '.[dev]'" in _dry_run("pytest")


@pytest.mark.parametrize(
    ("status", "stopped", "expected"),
    [(-signal.SIGINT, True, 0), (-signal.SIGTERM, True, 0), (0, True, 0), (3, True, 3), (-signal.SIGKILL, False, 137)],
)
def test_serve_exits_0_when_asked_to_stop(status: int, stopped: bool, expected: int) -> None:
    assert serve_exit_code(status, stopped) == expected


def test_embedded_server_import_prints_no_warning() -> None:
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env["PYTHONPATH"] = str(ROOT / "src")
    out = subprocess.run(
        [sys.executable, "-W", "default", "-c", "from toit_emploi_api.core import embedded; embedded.import_package()"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert out.stderr == ""


def test_json_logs_have_iso_utc_time_and_uvicorn_lines_share_the_format(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(log_json=True, log_level="INFO")
    try:
        configure_logging(settings)
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
        logging.getLogger("uvicorn.access").info('1.2.3.4:5 - "GET /api/v1/households?q=Traore HTTP/1.1" 200')
        logging.getLogger("toit_emploi_api.access").info("GET /healthz 200", extra={"status": 200})
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        configure_logging(Settings(log_level="WARNING"))
    assert [line["name"] for line in lines] == ["uvicorn.error", "toit_emploi_api.access"]
    for line in lines:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"]), line
        assert line["level"] == "INFO"
        assert "request_id" in line
    assert lines[0]["message"] == "Started server process [42]"
    assert lines[1]["status"] == 200
    # The supervisor's own lines (uvicorn --log-config) use the same formatter.
    config = uvicorn_log_config(settings)
    assert config["formatters"]["default"]["()"] == "toit_emploi_api.core.logging.json_formatter"
    assert set(config["loggers"]) == {"uvicorn", "uvicorn.error", "uvicorn.access"}
