"""Jobs per second against worker count: I/O-bound, CPU-bound and no-op jobs.

Runs ``goqueue.lab.measure_throughput`` at 1, 2, 4, 8, 16 and 32 workers for sleeping
(10 ms), pure-Python (a loop of 20,000 steps) and no-op jobs, with the CPU-bound job also
run in a ``ProcessPoolExecutor`` of as many processes. Each row is the best of
``--repeats`` runs. The "ideal" column is ``workers / io_seconds`` for I/O and the
one-worker rate times ``min(workers, cores)`` otherwise.

Run: ``.venv/bin/python bench/throughput.py`` (about a minute on two cores).
"""

from __future__ import annotations

import argparse
import sys

from goqueue.lab import measure_throughput


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per row (default 3)")
    args = parser.parse_args()

    def progress(line: str) -> None:
        print(f"... {line}", file=sys.stderr, flush=True)

    for job in ("io", "cpu", "noop"):
        result = measure_throughput(
            (1, 2, 4, 8, 16, 32), job, repeats=args.repeats, progress=progress
        )
        print(result.table(), end="\n\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
