# The two commands of the README: `make serve` and `make test`. Nothing else to install by hand:
# the first run creates .venv and installs the pinned dependencies (constraints.txt).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test lint format install clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ymnotify needs Python >= 3.11; set PYTHON=python3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## Run the receiver on SQLite (./ymnotify.db) at http://127.0.0.1:8080, loopback allowed (dev only).
serve: $(STAMP)
	$(BIN)/ymnotify serve --allow-network 127.0.0.0/8 --allow-network ::1/128

## Lint, type-check, then run the whole test suite.
test: lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests examples
	$(BIN)/ruff format --check src tests examples
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests examples
	$(BIN)/ruff check --fix src tests examples

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
