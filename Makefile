# goqueue: the two commands in the README, and the pieces they are made of.
#
#   make lab    create .venv if needed, install, start JupyterLab on notebooks/
#   make test   create/update .venv, lint, type-check, run every test (nbval included),
#               then the core and lab tests on each other CPython 3.10-3.13 present

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888

PG_BIN := $(lastword $(sort $(wildcard /usr/lib/postgresql/*/bin/initdb)))

.PHONY: postgres-check lab test lint typecheck unit notebooks test-e2e test-versions bench clean help

help:
	@echo "make lab        start JupyterLab on notebooks/ (http://127.0.0.1:$(PORT)/lab)"
	@echo "make test       lint, type-check, run all tests and nbval, then other Pythons"
	@echo "make test-e2e   run the notebooks in headless Chromium"
	@echo "make bench      run the benchmarks under bench/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

lab: $(STAMP)
	@echo "Starting JupyterLab on http://127.0.0.1:$(PORT)/lab (Ctrl-C to stop)"
	$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(PORT) --allow-root \
		--ServerApp.root_dir=notebooks

lint: $(STAMP)
	$(BIN)/ruff check goqueue tests bench
	$(BIN)/ruff format --check goqueue tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests --ignore=tests/e2e

notebooks: $(STAMP)
	@if ls notebooks/*.ipynb >/dev/null 2>&1; then \
		$(BIN)/pytest -p no:cacheprovider --nbval notebooks \
			--nbval-sanitize-with notebooks/sanitize.cfg -o testpaths=notebooks; \
	else echo "no notebooks yet: nbval skipped"; fi

test-e2e: $(STAMP)
	bash scripts/run-e2e.sh

test-versions:
	bash scripts/test-other-pythons.sh

# The PostgreSQL tests start their own server from Debian's binaries; without them they
# are skipped, and this says so loudly (.ci/run installs them).
postgres-check:
	@if [ -n "$(PG_BIN)" ]; then echo "== postgres: $(dir $(PG_BIN))"; \
	else echo "!! postgres: NOT installed: the PostgreSQL tests will be SKIPPED" \
		"(apt-get install postgresql)"; fi

test: postgres-check lint typecheck unit notebooks
	@$(MAKE) --no-print-directory postgres-check
	bash scripts/run-e2e.sh --if-available
	bash scripts/test-other-pythons.sh

bench: $(STAMP)
	$(BIN)/python bench/queue_vs_executor.py
	$(BIN)/python bench/gil_handoff.py
	$(BIN)/python bench/postgres_throughput.py

clean:
	rm -rf $(VENV) .venv-3.* .pytest_cache .mypy_cache .ruff_cache test-artifacts
