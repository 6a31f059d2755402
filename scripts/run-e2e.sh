#!/usr/bin/env bash
# Run the notebooks in a real browser (JupyterLab in headless Chromium, driven by Playwright).
#   scripts/run-e2e.sh                 fail if Chromium is missing
#   scripts/run-e2e.sh --if-available  say so loudly and return 0 if Chromium is missing
# Extra arguments after the option go to pytest (e.g. -k 03). Screenshots land in
# test-artifacts/e2e/. The browser opens lab/, the working copy `make lab` serves (brought up
# to date with `make lab-copy` first); GOQUEUE_E2E_NOTEBOOKS=<dir> tests another folder.
set -euo pipefail
cd "$(dirname "$0")/.."

if_available=0
if [ "${1:-}" = "--if-available" ]; then
    if_available=1
    shift
fi

if [ ! -d tests/e2e ]; then
    echo "== e2e: no browser tests yet (tests/e2e is missing)"
    exit 0
fi
if ! command -v chromium >/dev/null 2>&1; then
    msg="!! e2e: chromium is NOT installed, the browser tests did NOT run (apt-get install chromium)"
    echo "$msg" >&2
    [ "$if_available" = 1 ] && exit 0
    exit 1
fi
if ! .venv/bin/python -c "import playwright.sync_api" >/dev/null 2>&1; then
    # Never a silent skip: without the package the tests would all be skipped.
    echo "!! e2e: the playwright package is missing from .venv (pip install -r requirements.txt)" >&2
    exit 1
fi

echo "== e2e: notebooks in JupyterLab in headless $(chromium --version 2>/dev/null || echo chromium)"
start=$(date +%s)
status=0
.venv/bin/pytest -p no:cacheprovider tests/e2e -m e2e --durations=0 --durations-min=1 "$@" || status=$?
echo "== e2e: finished in $(( $(date +%s) - start )) s (exit $status); screenshots in test-artifacts/e2e/"
exit $status
