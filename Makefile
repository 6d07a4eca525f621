# One command each: `make demo` installs everything and starts the reference deployment;
# `make test` installs everything and runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOSO_DATABASE_URL ?= sqlite:///var/hoso.db
export HOSO_DATABASE_URL

.PHONY: install browser demo test bench check clean

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
	$(BIN)/hoso serve --host 127.0.0.1 --port 8000

# The admin's browser tests drive Debian's chromium (never Playwright's own downloads): install it when missing.
CHROMIUM := /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

test: install browser
	$(BIN)/python -m pytest -q -n 2

bench: install
	$(BIN)/python bench/run.py
	$(BIN)/python bench/restructure.py

clean:
	rm -rf $(VENV) var .pytest_cache
