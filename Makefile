# The two commands of the README: `make serve` and `make test`. Nothing else to install by hand:
# the first run creates .venv and installs the pinned dependencies (constraints.txt).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: serve test lint format install bench clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ymnotify needs Python >= 3.11; set PYTHON=python3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The bench extra (FastAPI/SQLAlchemy glue baseline, matplotlib, py-spy) only for `make bench`.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

## Run the receiver on SQLite (./ymnotify.db) at http://127.0.0.1:8080, loopback allowed (dev only).
serve: $(STAMP)
	$(BIN)/ymnotify serve --allow-network 127.0.0.0/8 --allow-network ::1/128

## Lint, type-check, then run the whole test suite.
test: lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests examples bench
	$(BIN)/ruff check --fix src tests examples bench

## Benchmarks: receiver, dispatch, Market side (about 5.5 minutes on 2 cores; BENCH_QUICK=1 about 2.5): writes docs/benchmarks.md.
## Installs the bench extra and Debian's wrk when missing (wrk needs root for apt-get).
bench: $(BENCH_STAMP)
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "make bench: wrk is missing; installing Debian's package (apt-get install -y wrk)"; \
	    apt-get update -qq && apt-get install -y -qq wrk >/dev/null || exit 1; \
	  else \
	    echo "make bench: wrk is missing; install it as root: apt-get install -y wrk" >&2; exit 1; \
	  fi; }
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build/bench
