# One command each: `make demo` installs everything and starts the reference deployment;
# `make test` installs everything and runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOSO_DATABASE_URL ?= sqlite:///var/hoso.db
VNEID_PORT ?= 8765
export HOSO_DATABASE_URL

.PHONY: install browser demo layers lint test fuzz bench check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml plugins/legal_aid/pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' -e plugins/legal_aid
	touch $(STAMP)

install: $(STAMP)

check: install
	$(BIN)/hoso check

demo: install
	mkdir -p var
	$(BIN)/hoso migrate --yes --as demo
	$(BIN)/hoso demo --once
	@# VNeID's stand-in receives the case results the outbox sends (docs/legal-aid.md) while the server runs:
	@# without a receiver each result's delivery fails, is retried, and fills the console
	$(BIN)/python -m hoso_legal_aid.vneid_standin --port $(VNEID_PORT) & standin=$$!; \
	trap 'kill $$standin 2>/dev/null' EXIT INT TERM; \
	HOSO_VNEID_URL=$${HOSO_VNEID_URL:-http://127.0.0.1:$(VNEID_PORT)/results} \
	$(BIN)/hoso serve --host 127.0.0.1 --port 8000

# The admin's browser tests drive Debian's chromium (never Playwright's own downloads): install it when missing.
CHROMIUM := /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

# The import contract (.importlinter): layers only point down, no cycles, no deployment code in hoso. It runs on
# a one-directory view of the package (hoso is assembled from core/, admin/ and plugins/).
layers: install
	$(BIN)/python .ci/import_tree.py build/tree >/dev/null
	PYTHONPATH=build/tree $(BIN)/lint-imports --no-cache

# Style and common bugs (ruff, on the source folders) and static types (mypy, on the same one-directory view as
# `layers`; .ci/mypy_tree.py reports each finding at its real file). Configuration: pyproject.toml.
LINT_PATHS := core admin plugins tests bench docs/tutorial/example .ci
lint: install
	$(BIN)/python -m ruff check $(LINT_PATHS)
	$(BIN)/python .ci/mypy_tree.py

# Three test processes on two cores: many tests wait on the databases, so a third keeps the cores busy (the whole
# suite in about 13 minutes here instead of 17).
test: install browser layers lint
	$(BIN)/python -m pytest -q -n 3

# The fuzz and property tests deeper than `make test` runs them (schemathesis on both engines, the admin's JSON
# endpoints, the reference configuration mutated, four times the examples of the database-backed properties); with
# HOSO_TEST_POSTGRES_URL set, on PostgreSQL too.
fuzz: install
	HOSO_FUZZ_EXAMPLES=60 HOSO_CONFIG_FUZZ_CASES=1000 HOSO_PROPERTY_SCALE=2 $(BIN)/python -m pytest -q -n 3 \
		tests/api/test_schemathesis.py tests/admin/test_fuzz.py tests/config/test_config_robustness.py \
		tests/test_accounts_property.py tests/test_scope_property.py tests/reports/test_summary_property.py \
		tests/reports/test_report_property.py tests/records/test_list_units.py tests/model/test_unique_property.py

BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

# Report benchmark and deadline load test sizes; the figures of docs/benchmarks.md use REPORT_CASES=1000000,
# LOAD_USERS=200, LOAD_MINUTES=3.
REPORT_CASES ?= 100000
LOAD_USERS ?= 20
LOAD_MINUTES ?= 0.5
LOAD_CASES ?= 20000
# bench/jobs.py: jobs per round, drained by 1 and by 4 workers on PostgreSQL.
BENCH_JOBS ?= 300

# bench/lists.py: 1,000,000 cases in HOSO_BENCH_LISTS_URL (default: the database hoso_listadmin on the local
# PostgreSQL), loaded once and kept; lists through HTTP next to hand-written SQL, then the admin in Chromium.
bench: install $(BENCH_STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/restructure.py
	$(BIN)/python bench/report_structure.py
	$(BIN)/python bench/lists.py load
	$(BIN)/python bench/lists.py run
	$(BIN)/python bench/lists.py admin
	$(BIN)/python bench/reports.py --cases $(REPORT_CASES) --summary
	$(BIN)/python bench/loadtest.py --users $(LOAD_USERS) --minutes $(LOAD_MINUTES) --cases $(LOAD_CASES)
	$(BIN)/python bench/jobs.py --jobs $(BENCH_JOBS)
	$(BIN)/python bench/processes.py
	$(BIN)/python bench/imports.py --engine postgres
	$(BIN)/python bench/imports.py --engine sqlite

clean:
	rm -rf $(VENV) var .pytest_cache
