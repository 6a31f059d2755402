#!/usr/bin/env bash
# Execute notebooks in place, each in a fresh kernel, and print how long each took.
#   scripts/execute-notebooks.sh                      every notebooks/NN_*.ipynb
#   scripts/execute-notebooks.sh notebooks/02_worker_pool.ipynb ...
# The saved outputs (execution counts 1..n) are what nbval compares against in `make test`,
# so run this after changing a notebook and commit the result. TIMEOUT (seconds per cell,
# default 120) bounds a hung cell.
set -euo pipefail
cd "$(dirname "$0")/.."

timeout=${TIMEOUT:-120}
if [ "$#" -eq 0 ]; then
    set -- notebooks/[0-9][0-9]_*.ipynb
fi
status=0
for notebook in "$@"; do
    start=$(date +%s%N)
    if .venv/bin/jupyter nbconvert --to notebook --execute --inplace \
        --ExecutePreprocessor.timeout="$timeout" --ExecutePreprocessor.kernel_name=python3 \
        --log-level=WARN "$notebook"; then
        result=ok
    else
        result=FAILED
        status=1
    fi
    end=$(date +%s%N)
    ms=$(((end - start) / 1000000))
    printf '%-45s %4d.%d s  %s\n' "$notebook" $((ms / 1000)) $((ms % 1000 / 100)) "$result"
done
exit $status
