# The only entry points a newcomer needs: make up, make down, make test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers: 3 on the 2-core machines the suite runs on, whose tests wait on the processes
# they start (servers, workers, Chromium) about a fifth of the time (vmstat: 16-45 % idle with 2).
TEST_WORKERS ?= 3
PYTEST_ARGS ?=

.PHONY: up down logs test bench fuzz openapi lint lock clean demo-sync

# The pinned versions of requirements-dev.lock (CI installs the same), then the project itself.
$(STAMP): pyproject.toml requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

up: $(STAMP)  ## start every service detached, wait for /health, print the URLs
	$(BIN)/python -m deploy.stack up

down: $(STAMP)  ## stop what `make up` started
	$(BIN)/python -m deploy.stack down

logs: $(STAMP)  ## follow the processes' output
	$(BIN)/python -m deploy.stack logs

test: $(STAMP)  ## the whole suite (PostgreSQL too when TEST_DATABASE_URL is set); e2e last, on one stack
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal --ignore=tests/e2e $(PYTEST_ARGS)
	$(BIN)/python -m pytest tests/e2e -n 0 $(PYTEST_ARGS)

bench: $(STAMP)  ## benchmarks: print figures, write bench/results.md (needs wrk and PostgreSQL; Datasette, the trials peer, goes in var/bench-datasette)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get install -y -q wrk >/dev/null; } || { echo "make bench needs wrk: apt-get install wrk"; exit 1; }
	$(BIN)/python -m bench $(BENCH)

demo-sync: $(STAMP)  ## after make up: an order made and changed on orders B arrives on A (timed)
	$(BIN)/python -m services.orders.demo

fuzz: $(STAMP)  ## schemathesis against every service of a fresh stack for FUZZ_SECONDS in all (600)
	FUZZ_SECONDS=$${FUZZ_SECONDS:-600} $(BIN)/python -m pytest tests/e2e/test_zz_fuzz_openapi.py -n 0 -s

openapi: $(STAMP)  ## rewrite docs/openapi/<service>.json (CI fails when they are stale)
	$(BIN)/python -m deploy.openapi

lint: $(STAMP)  ## ruff, then the import contracts of pyproject.toml (layers, shared/, services apart)
	$(BIN)/ruff check shared services deploy tests bench
	$(BIN)/lint-imports

# uv only here, never to install: requirements.lock (the image) and requirements-dev.lock (make, CI) from
# pyproject.toml, keeping the versions already pinned; LOCK_ARGS=--upgrade moves every pin to the newest allowed.
LOCK = $(BIN)/python -m uv pip compile pyproject.toml --universal --python-version 3.11 --quiet \
	--custom-compile-command "make lock" $(LOCK_ARGS)
lock:  ## rewrite requirements.lock and requirements-dev.lock after a change to pyproject.toml's dependencies
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'uv>=0.9,<1'
	$(LOCK) -o requirements.lock
	$(LOCK) --extra dev -o requirements-dev.lock

clean:
	rm -rf $(VENV) var .pytest_cache
