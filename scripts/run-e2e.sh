#!/usr/bin/env bash
# Run the notebooks in a real browser (JupyterLab in headless Chromium, driven by Playwright).
#   scripts/run-e2e.sh                 fail if Chromium is missing
#   scripts/run-e2e.sh --if-available  say so loudly and return 0 if Chromium is missing
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d tests/e2e ]; then
    echo "== e2e: no browser tests yet (tests/e2e is missing)"
    exit 0
fi
if ! command -v chromium >/dev/null 2>&1; then
    msg="!! e2e: chromium is NOT installed, the browser tests did NOT run (apt-get install chromium)"
    if [ "${1:-}" = "--if-available" ]; then
        echo "$msg" >&2
        exit 0
    fi
    echo "$msg" >&2
    exit 1
fi
.venv/bin/pytest -p no:cacheprovider tests/e2e -m e2e
