#!/usr/bin/env bash
# Run the core and lab tests on every CPython 3.10-3.13 on this machine other than the one
# that .venv uses. Race behaviour differs between versions, so each gets its own venv
# (.venv-3.X, with only pytest and the package) and its own run.
# Looks in pyenv's versions first, then for python3.X on PATH; says which it skips.
set -euo pipefail
cd "$(dirname "$0")/.."

main_version=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
pyenv_root=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}
status=0

find_python() {  # print a working interpreter for version $1, or nothing
    local v=$1 candidate
    for candidate in "$pyenv_root"/versions/"$v".*/bin/python"$v" "$(command -v "python$v" || true)"; do
        [ -x "$candidate" ] || continue
        if "$candidate" -c 'import sys, venv; assert sys.implementation.name == "cpython"' \
            >/dev/null 2>&1; then
            echo "$candidate"
            return
        fi
    done
}

for v in 3.10 3.11 3.12 3.13; do
    if [ "$v" = "$main_version" ]; then
        echo "== Python $v: already tested in .venv"
        continue
    fi
    py=$(find_python "$v")
    if [ -z "$py" ]; then
        echo "== Python $v: SKIPPED, no interpreter found (pyenv versions or python$v on PATH)"
        continue
    fi
    venv=".venv-$v"
    echo "== Python $v: $py"
    if [ ! -x "$venv/bin/python" ]; then
        "$py" -m venv "$venv"
    fi
    if [ ! -f "$venv/.installed" ] || [ requirements-core.txt -nt "$venv/.installed" ] \
        || [ pyproject.toml -nt "$venv/.installed" ]; then
        "$venv/bin/python" -m pip install --quiet -r requirements-core.txt
        touch "$venv/.installed"
    fi
    "$venv/bin/python" -m pytest -q -p no:cacheprovider tests -m "not e2e" \
        --ignore=tests/e2e --ignore=tests/test_notebooks.py || status=1
done
exit $status
