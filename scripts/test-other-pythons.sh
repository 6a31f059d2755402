#!/usr/bin/env bash
# Run the core and lab tests on every CPython 3.10-3.13 on this machine other than the one
# that .venv uses, then on a free-threaded CPython (python3.13t, python3.14t) if there is
# one. Race behaviour differs between versions, and more without the GIL, so each gets its
# own venv (.venv-3.X or .venv-3.Xt, with only pytest and the package) and its own run.
# Looks in pyenv's versions first, then for python3.X(t) on PATH; says SKIPPED for each one
# it cannot find. The tests marked slow (the million-operation hammers, 100k-job memory
# runs: about a minute) run once, in .venv, to keep `make test` well under 15 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

main_version=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
pyenv_root=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}
status=0

# A free-threaded build says so in its build config; a regular one must not pass for it.
check_cpython='import sys, venv; assert sys.implementation.name == "cpython"'
check_free_threaded='import sysconfig; assert sysconfig.get_config_var("Py_GIL_DISABLED")'

find_python() {  # print a working interpreter for version $1 (3.12, 3.13t...), or nothing
    local v=$1 base=${1%t} candidate check=$check_cpython
    [ "$v" != "$base" ] && check="$check_cpython; $check_free_threaded"
    for candidate in "$pyenv_root"/versions/"$base".*[0-9]"${v#"$base"}"/bin/python"$v" \
        "$(command -v "python$v" || true)"; do
        [ -x "$candidate" ] || continue
        if "$candidate" -c "$check" >/dev/null 2>&1; then
            echo "$candidate"
            return
        fi
    done
}

for v in 3.10 3.11 3.12 3.13 3.13t 3.14t; do
    if [ "$v" = "$main_version" ]; then
        echo "== Python $v: already tested in .venv"
        continue
    fi
    label="Python $v"
    gil=()
    if [ "${v%t}" != "$v" ]; then
        label="Python $v (free-threaded)"
        gil=(env PYTHON_GIL=0)  # keep the GIL off even if an extension asks for it
    fi
    py=$(find_python "$v")
    if [ -z "$py" ]; then
        echo "== $label: SKIPPED, no interpreter found (pyenv versions or python$v on PATH)"
        continue
    fi
    venv=".venv-$v"
    echo "== $label: $py"
    if [ ! -x "$venv/bin/python" ]; then
        "$py" -m venv "$venv"
    fi
    if [ ! -f "$venv/.installed" ] || [ requirements-core.txt -nt "$venv/.installed" ] \
        || [ pyproject.toml -nt "$venv/.installed" ]; then
        "$venv/bin/python" -m pip install --quiet -r requirements-core.txt
        touch "$venv/.installed"
    fi
    "${gil[@]}" "$venv/bin/python" -m pytest -q -p no:cacheprovider tests -m "not e2e and not slow" \
        --ignore=tests/e2e --ignore=tests/test_notebooks.py || status=1
done
exit $status
