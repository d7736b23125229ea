# Two commands: `make run` and `make test`. Everything else they need is set up on the way.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint typecheck pytest openapi bench bench-privacy clean fuzz

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/toit-emploi serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy src tests bench

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

# Schemathesis for longer than `make test` (25 examples): every phase, coverage included; FUZZ_EXAMPLES to change.
FUZZ_EXAMPLES ?= 200
fuzz: install
	TOIT_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) TOIT_FUZZ_COVERAGE=1 $(BIN)/pytest -q tests/contract/test_fuzz.py

openapi: install
	$(BIN)/toit-emploi openapi

bench: install
	$(BIN)/python bench/api.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/matching.py

bench-privacy: install
	$(BIN)/python bench/privacy.py

clean:
	rm -rf $(VENV) .data
