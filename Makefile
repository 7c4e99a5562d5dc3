# LineMES — the two commands: `make run` (demo server on SQLite) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app

.PHONY: run test test-sqlite test-postgresql browsers venv venv-test check clean help bench acceptance \
	translations translations-extract

help:
	@echo "make run   - set up (venv, install, migrate, seed demo data) and serve http://127.0.0.1:5000"
	@echo "make test  - install test requirements (and Chromium if root) and run the whole suite"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements-test.txt requirements.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@

venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-test

# The interface's languages (app/translations/README.md): compile the .po catalogues into .mo files;
# translations-extract refreshes messages.pot (Python, templates, the error catalogue) and merges it
# into each language's .po (translate the new entries, then `make translations`).
translations: venv
	$(BIN)/pybabel compile -d app/translations

translations-extract: venv
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k N_ -k M --no-location --sort-output -w 100 \
	  --project LineMES --copyright-holder LineMES -o app/translations/messages.pot .
	$(BIN)/python -m app.web.i18n_extract app/translations/messages.pot
	$(BIN)/pybabel update -N --ignore-obsolete -w 100 -i app/translations/messages.pot -d app/translations

run: venv translations
	@mkdir -p instance
	$(BIN)/flask db upgrade
	$(BIN)/flask mes seed --demo
	@echo ""
	@echo "  LineMES is starting on http://$${MES_HOST:-127.0.0.1}:$${MES_PORT:-5000}"
	@echo "  demo logins (password Demo-Pass-2026): planner engineer quality leader material operator operator2 manager (line boards: board)"
	@if [ -n "$$MES_ADMIN_PASSWORD" ]; then echo "  admin password: from MES_ADMIN_PASSWORD"; \
	  elif [ -f instance/admin_password.txt ]; then echo "  admin password: $$(cat instance/admin_password.txt)"; fi
	@if [ -z "$$MES_INTEGRATION_API_KEY" ] && [ -f instance/integration_api_key.txt ]; then \
	  echo "  integration API key: in instance/integration_api_key.txt (flask mes acceptance finds it there)"; fi
	@echo ""
	@if [ "$${MES_DEBUG:-0}" = "1" ]; then exec $(BIN)/flask run --debug --host $${MES_HOST:-127.0.0.1} --port $${MES_PORT:-5000}; \
	  else exec $(BIN)/gunicorn -c python:app.gunicorn_conf 'app:create_app()'; fi

# Debian's chromium + chromium-driver for the browser tests: installed when missing and we are root;
# otherwise the browser tests skip with the reason. A Chinese font (fonts-wqy-microhei) too: the zh-CN
# screenshots would show empty boxes without one.
browsers:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium and chromium-driver (browser tests)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null \
	    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; }; \
	else echo "chromium/chromedriver missing and not root: browser tests will be skipped"; fi
	@if ! command -v fc-list >/dev/null || [ -n "$$(fc-list :lang=zh 2>/dev/null)" ]; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  echo "installing a Chinese font (fonts-wqy-microhei, zh-CN screenshots)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-wqy-microhei >/dev/null \
	    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-wqy-microhei >/dev/null; } \
	    || echo "no Chinese font: zh-CN screenshots show boxes"; \
	else echo "no Chinese font and not root: zh-CN screenshots show boxes"; fi

test: venv-test browsers translations test-sqlite test-postgresql

# Each pass runs on PYTEST_WORKERS pytest-xdist worker processes (2: CI's machine has 2 cores),
# tests handed out one by one as workers free up (--dist worksteal). PYTEST_WORKERS=0 runs serially
# (xdist's own meaning of -n 0), e.g. `make test-sqlite PYTEST_WORKERS=0`; PYTEST_WORKERS=4 for four.
PYTEST_WORKERS ?= 2
PYTEST_ARGS := -q -n $(PYTEST_WORKERS) --dist worksteal

test-sqlite: venv-test
	cd tests && ../$(BIN)/python -m pytest $(PYTEST_ARGS)

# The PostgreSQL pass (all but the browser tests); skipped with the reason when
# MES_TEST_DATABASE_URL is unset or unreachable (.ci/run sets it).
test-postgresql: venv-test
	cd tests && MES_TEST_BACKEND=postgresql ../$(BIN)/python -m pytest $(PYTEST_ARGS)

# The acceptance runner (flask mes acceptance, S1–S10) against a live gunicorn server on a fresh demo
# install, twice in a row; reports in tests/artifacts/ (.ci/run runs it after `make test`).
acceptance: venv
	./.ci/acceptance

check: venv
	$(BIN)/flask mes check

clean:
	rm -rf $(VENV) tests/artifacts

# Performance benchmark (tests/perf/README.md): TrackIn/TrackOut throughput (1-4 workers, 1-8 clients, CPU
# per pair), the load with invariants (3 minutes each on PostgreSQL and SQLite; fails when one breaks),
# unit-trace and report latency, over HTTP against gunicorn; prints a table and writes
# tests/perf/results/bench-<timestamp>.json.
bench: venv-test
	$(BIN)/python tests/perf/bench.py
