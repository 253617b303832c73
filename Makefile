# Rapport — developer commands. A newcomer needs two: `make demo` and `make test`.
#
#   make demo    set up .venv, create ./rapport-demo (core objects + sample data) on first
#                run, serve it on http://127.0.0.1:8000/ (make demo SERVE=no PORT=8001 ...)
#   make tour    the command line on a sample model in ./demo-workspace (scripts/tour.sh)
#   make test    set up .venv, then run the test suite (SQLite; set
#                RAPPORT_TEST_DATABASE_URL=postgresql://... for PostgreSQL)
#   make lint    ruff
#   make bench   the timing runs in tests/benchmarks (on demand only)
#
# Extra pytest arguments: make test PYTEST_ARGS="-x -k formulas"

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# pip install -e runs again only when the packaging files change
STAMP := $(VENV)/.rapport-dev-installed
PYTEST_ARGS ?=
SERVE ?= yes
HOST ?= 127.0.0.1
PORT ?= 8000
# pytest exit code 5 means "no tests collected": that is a failure, not a pass
NO_TESTS_IS_FAILURE = rc=$$?; if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

.DEFAULT_GOAL := help
.PHONY: help demo tour test lint bench venv clean

help:
	@echo "make demo    set up .venv, create ./rapport-demo with sample data, serve it"
	@echo "             (SERVE=no: stop before serving; HOST=..., PORT=... where to serve)"
	@echo "make tour    the rapport command line on a sample model (./demo-workspace)"
	@echo "make test    set up .venv and run the tests (PYTEST_ARGS=... for more pytest options)"
	@echo "make lint    ruff check ."
	@echo "make bench   timing runs (tests/benchmarks)"
	@echo "make clean   remove rapport-demo/, demo-workspace/, build/ and dist/ (keeps .venv)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml setup.py | $(BIN)/python
	@echo "installing rapport and its dev tools into $(VENV) (pip install -e '.[dev]') ..."
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

venv: $(STAMP)

demo: $(STAMP)
	env -u RAPPORT_HOME -u RAPPORT_DATABASE_URL -u RAPPORT_READ_DATABASE_URL \
		$(BIN)/rapport demo rapport-demo --host "$(HOST)" --port "$(PORT)" $(if $(filter no,$(SERVE)),--no-serve)

tour: $(STAMP)
	RAPPORT="$(BIN)/rapport" SERVE="$(SERVE)" HOST="$(HOST)" PORT="$(PORT)" bash scripts/tour.sh

test: $(STAMP)
	@$(BIN)/python -m pytest -q -m "not benchmark and not e2e" $(PYTEST_ARGS); $(NO_TESTS_IS_FAILURE)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	@if [ ! -d tests/benchmarks ]; then echo "error: there are no benchmarks yet (tests/benchmarks)" >&2; exit 1; fi
	@$(BIN)/python -m pytest tests/benchmarks -m benchmark -s $(PYTEST_ARGS); $(NO_TESTS_IS_FAILURE)

clean:
	rm -rf demo-workspace rapport-demo build dist
