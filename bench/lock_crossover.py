"""Lock against RWLock for the read-heavy registry: the full grid and the crossover.

Runs ``goqueue.lab.compare_locks`` over 1-32 threads and read hold times from 0 (a pure
in-memory lookup) to 1 ms of I/O (``time.sleep``, which releases the GIL), with no lock, a
plain ``threading.Lock`` and ``goqueue.RWLock``; then the same grid with the hold spent
computing (the GIL held), where the RWLock has nothing to win back. Each cell is the best of
``--repeats`` runs (the least disturbed by other processes on a shared machine).
Prints both tables, the crossover (the smallest hold time, then the fewest threads, where
the RWLock did at least 1.2x the operations of the plain lock), and the rwlock/lock ratio
at each hold time for the largest thread count.

Run: ``.venv/bin/python bench/lock_crossover.py`` (about two minutes on two cores).
"""

from __future__ import annotations

import argparse
import sys

from goqueue.lab import LockComparison, compare_locks


def summary(result: LockComparison) -> str:
    most = result.thread_counts[-1]
    found = result.crossover()
    lines = [
        "crossover: " + (str(found) if found else "none: the RWLock never won by 1.2x"),
        f"rwlock / lock at {most} threads, by hold time:",
    ]
    for hold_time, real in zip(result.hold_times, result.real_holds, strict=True):
        ratio = result.ratio(most, hold_time)
        lines.append(f"  {hold_time * 1e6:7.0f} us (really {real * 1e6:7.1f} us): {ratio:6.2f}x")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.2, help="per cell (default 0.2)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per cell (default 3)")
    parser.add_argument("--no-spin", action="store_true", help="skip the computing grid")
    args = parser.parse_args()

    def progress(line: str) -> None:
        print(f"... {line}", file=sys.stderr, flush=True)

    threads = (1, 2, 4, 8, 16, 32)
    for hold, holds in (
        ("sleep", (0.0, 10e-6, 50e-6, 200e-6, 1e-3)),
        ("spin", (0.0, 10e-6, 50e-6, 200e-6, 1e-3)),
    ):
        if hold == "spin" and args.no_spin:
            continue
        result = compare_locks(
            threads,
            holds,
            hold=hold,
            seconds=args.seconds,
            repeats=args.repeats,
            progress=progress,
        )
        print(result.table(), summary(result), sep="\n", end="\n\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
