# goqueue: the two commands in the README, and the pieces they are made of.
#
#   make lab    check python3 >= 3.10, create .venv if needed, install, copy notebooks/ to
#               lab/ (the working copy, ignored by git) on first run, start JupyterLab there
#   make test   create/update .venv, lint, type-check, run every test (nbval included),
#               then the core and lab tests on each other CPython 3.10-3.13 present and on
#               a free-threaded one (python3.13t, python3.14t) if there is one
#
# `make help` lists every target.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
# The students' working copy of the notebooks: `make lab` serves it, never notebooks/.
LAB    := lab

PG_BIN := $(lastword $(sort $(wildcard /usr/lib/postgresql/*/bin/initdb)))

.PHONY: check-python postgres-check lab lab-copy reset-lab test lint typecheck unit notebooks \
	test-e2e test-versions bench clean help

help:
	@echo "make lab          start JupyterLab on $(LAB)/, your copy of notebooks/ (made on first run)"
	@echo "make lab-copy     copy into $(LAB)/ the notebooks it lacks (never overwrites one)"
	@echo "make reset-lab    put fresh copies of the notebooks in $(LAB)/ (the old ones go to .lab-previous/)"
	@echo "make test         lint, type-check, all tests and nbval, then other and free-threaded Pythons"
	@echo "make unit         the tests only (no lint, no nbval, no browser)"
	@echo "make lint         ruff check and ruff format --check"
	@echo "make typecheck    mypy (strict)"
	@echo "make notebooks    nbval: the notebooks in notebooks/ against their stored outputs"
	@echo "make test-e2e     the lessons in JupyterLab in headless Chromium, on $(LAB)/"
	@echo "make test-versions  the core and lab tests on every other CPython 3.10-3.13 and 3.13t/3.14t"
	@echo "make bench        run the benchmarks under bench/"
	@echo "make clean        remove .venv*, caches and test-artifacts/ (never $(LAB)/)"
	@echo "make help         this list"
	@echo "options: PYTHON=python3.12 (the interpreter for .venv), PORT=9999 (for make lab)"

# First, in one line, whether the interpreter that builds .venv is recent enough (3.9
# used to give a wall of pip errors and leave a broken .venv behind).
check-python:
	@py="$(PYTHON)"; [ -x "$(BIN)/python" ] && py="$(BIN)/python"; \
	if ! command -v "$$py" >/dev/null 2>&1; then \
		echo "!! goqueue needs Python >= 3.10: '$$py' was not found (try make lab PYTHON=python3.12)"; \
		exit 1; \
	fi; \
	"$$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { \
		echo "!! goqueue needs Python >= 3.10: $$py is $$("$$py" -c 'import platform; print(platform.python_version())') (try make lab PYTHON=python3.12)"; \
		exit 1; }

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

$(STAMP): $(BIN)/python requirements.txt pyproject.toml | check-python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# Copy every notebook (and file beside them) that is not in lab/ yet: a new lesson after a
# git pull arrives; a notebook already there, with the student's work in it, is never
# overwritten. (sanitize.cfg is nbval's, not the students'.)
lab-copy:
	@mkdir -p $(LAB)
	@for f in notebooks/*; do \
		[ "$$f" = notebooks/sanitize.cfg ] && continue; \
		[ -e "$(LAB)/$${f#notebooks/}" ] || { cp -R "$$f" $(LAB)/ && echo "== $(LAB)/: copied $$f"; }; \
	done

# The URL printed is the one to open: it carries the token.
lab: check-python $(STAMP) lab-copy
	@token=$$($(BIN)/python -c 'import secrets; print(secrets.token_hex(24))'); \
	echo "== JupyterLab on $(LAB)/ (your copy; notebooks/ stays untouched). Open:"; \
	echo "   http://127.0.0.1:$(PORT)/lab?token=$$token"; \
	echo "   (Ctrl-C to stop; make reset-lab for fresh copies)"; \
	exec $(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(PORT) --allow-root \
		--ServerApp.port_retries=0 --IdentityProvider.token="$$token" \
		--ServerApp.root_dir=$(LAB)

reset-lab:
	@if [ -d $(LAB) ]; then \
		rm -rf .lab-previous && mv $(LAB) .lab-previous && \
		echo "== your old $(LAB)/ is now .lab-previous/ (until the next reset-lab)"; \
	fi
	@$(MAKE) --no-print-directory lab-copy

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

test-e2e: $(STAMP) lab-copy
	bash scripts/run-e2e.sh

test-versions:
	bash scripts/test-other-pythons.sh

# The PostgreSQL tests start their own server from Debian's binaries; without them they
# are skipped, and this says so loudly (.ci/run installs them).
postgres-check:
	@if [ -n "$(PG_BIN)" ]; then echo "== postgres: $(dir $(PG_BIN))"; \
	else echo "!! postgres: NOT installed: the PostgreSQL tests will be SKIPPED" \
		"(apt-get install postgresql)"; fi

test: check-python postgres-check lint typecheck unit notebooks
	@$(MAKE) --no-print-directory postgres-check
	@$(MAKE) --no-print-directory lab-copy
	bash scripts/run-e2e.sh --if-available
	bash scripts/test-other-pythons.sh

bench: $(STAMP)
	$(BIN)/python bench/queue_vs_executor.py
	$(BIN)/python bench/gil_handoff.py
	$(BIN)/python bench/postgres_throughput.py

clean:
	rm -rf $(VENV) .venv-3.* .pytest_cache .mypy_cache .ruff_cache test-artifacts
