# The two commands of the README: `make serve` and `make test`. Nothing else to install by hand:
# the first run creates .venv and installs the pinned dependencies (constraints.txt).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: serve test lint format install bench chaos clean

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

## Benchmarks: receiver, dispatch, Market side (about 6 minutes on 2 cores; BENCH_QUICK=1 about 3): writes docs/benchmarks.md.
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

## Reliability and security suite with large counts (about 4-5 minutes; needs root for the
## full-disk test and a PostgreSQL server): kill -9 loops, full disk, fuzzing, SSRF, the queue
## model. The figures go to build/chaos.log; docs/reliability.md quotes them.
CHAOS_TESTS := tests/chaos tests/acceptance/test_kill9.py tests/integration/test_postgres_faults.py \
	tests/acceptance/test_limits.py tests/acceptance/test_store_failure.py \
	tests/acceptance/test_source_check.py tests/receiver/test_sources.py tests/admin/test_access.py \
	tests/admin/test_admin_listener.py \
	tests/delivery
chaos: $(STAMP)
	@mkdir -p build
	bash -o pipefail -c 'YMNOTIFY_CHAOS=1 YMNOTIFY_KILL_ROUNDS=$${YMNOTIFY_KILL_ROUNDS:-100} \
	  $(BIN)/python -m pytest -s -o timeout=900 $(CHAOS_TESTS) 2>&1 | tee build/chaos.log'

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build/bench
