"""How reliably does the hammer show the race? Anomaly rates per Python version.

For the interpreter running it: RUNS default one-second hammers of ``UnsafeRegistry``
(the fraction that showed at least one anomaly, and which kinds), then one-second hammers
of ``LockedRegistry`` and ``goqueue.Registry`` until each has made at least a million
operations (anomalies must stay 0), then the classic ``counter += 1`` demo.

    .venv/bin/python bench/race_rates.py              # this Python, 100 runs
    .venv/bin/python bench/race_rates.py --all        # every .venv*/bin/python here, in turn
    .venv/bin/python bench/race_rates.py --runs 20    # a quicker look
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from goqueue.lab.specimens.counter import count_in_threads
from goqueue.lab.stress.hammer import hammer

ROOT = Path(__file__).resolve().parent.parent


def unsafe_rates(runs: int, seconds: float, switch_interval: float | None) -> None:
    with_anomaly = lost = dup = exc = 0
    counts: list[int] = []
    started = time.monotonic()
    for seed in range(runs):
        o = hammer("unsafe", seconds=seconds, seed=seed, switch_interval=switch_interval)
        counts.append(o.anomalies)
        with_anomaly += o.anomalies > 0
        lost += o.lost_updates > 0
        dup += o.invariant_violations > 0
        exc += bool(o.exceptions)
    interval = "default" if switch_interval is None else f"{switch_interval:g}"
    print(
        f"  unsafe, {seconds:g} s runs, switch interval {interval}: {with_anomaly}/{runs} runs "
        f"with >= 1 anomaly ({with_anomaly / runs:.0%}); runs with lost updates {lost}, "
        f"duplicate types {dup}, exceptions {exc}; anomalies per run median "
        f"{statistics.median(counts):g}, min {min(counts)} "
        f"[{time.monotonic() - started:.0f} s]",
        flush=True,
    )


def clean_operations(target: str, seconds: float, minimum: int) -> None:
    operations = anomalies = runs = 0
    started = time.monotonic()
    while operations < minimum:
        o = hammer(target, seconds=seconds, seed=runs)
        operations += o.operations
        anomalies += o.anomalies
        runs += 1
    print(
        f"  {target}: {anomalies} anomalies in {operations:,} operations ({runs} runs of "
        f"{seconds:g} s) [{time.monotonic() - started:.0f} s]",
        flush=True,
    )


def classic(trials: int) -> None:
    for variant in ("plain", "call"):
        for interval in (None, 1e-6):
            print(f"  {count_in_threads(variant, trials=trials, switch_interval=interval)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="unsafe runs (default 100)")
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per run")
    parser.add_argument("--all", action="store_true", help="run under every .venv*/bin/python")
    args = parser.parse_args()
    if args.all:
        status = 0
        for python in sorted(ROOT.glob(".venv*/bin/python")):
            command = [str(python), __file__, "--runs", str(args.runs)]
            command += ["--seconds", str(args.seconds)]
            status |= subprocess.run(command, check=False).returncode
        return status
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"Python {sys.version.split()[0]} (GIL {'on' if gil else 'off'})", flush=True)
    unsafe_rates(args.runs, args.seconds, None)
    unsafe_rates(max(1, args.runs // 5), args.seconds, 1e-5)
    for target in ("locked", "core"):
        clean_operations(target, args.seconds, 1_000_000)
    classic(trials=20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
