"""``python -m goqueue.lab bench``: the throughput, lock and starvation tables in a terminal.

``goqueue.lab.cli.main`` owns the command line and calls the two functions here:
``add_arguments(parser)`` for the ``bench`` options and ``run(args)`` to do the work.
Tables go to standard output; one progress line per measurement goes to standard error,
so ``bench > results.txt`` keeps only the tables.

The full run measures 1-32 workers and threads and takes about two minutes on two cores;
``--quick`` measures a small grid in a few seconds (for a smoke test or a class demo).
Everything printed fits ``--width`` columns (80 by default): a table too wide for it is
split into column groups. Ctrl-C stops the run (status 130); the tables already printed stay.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from goqueue.lab.cli.layout import add_width_argument, fit, terminal_width
from goqueue.lab.measure.locks import compare_locks
from goqueue.lab.measure.starvation import ReaderPreferringRWLock, starvation_demo
from goqueue.lab.measure.throughput import measure_throughput
from goqueue.rwlock import RWLock

__all__ = ["FULL", "HELP", "QUICK", "BenchSettings", "add_arguments", "run"]

#: The one-line help of the subcommand.
HELP = "print the throughput and Lock-vs-RWLock tables"

PARTS = ("throughput", "locks", "starvation")


@dataclass(frozen=True)
class BenchSettings:
    """The sizes of one bench run."""

    worker_counts: tuple[int, ...]
    cpu_jobs: int | None  # None: measure_throughput's default
    noop_jobs: int | None
    thread_counts: tuple[int, ...]
    hold_times: tuple[float, ...]
    lock_seconds: float
    repeats: int
    starvation_seconds: float


FULL = BenchSettings(
    worker_counts=(1, 2, 4, 8, 16, 32),
    cpu_jobs=None,
    noop_jobs=None,
    thread_counts=(1, 2, 4, 8, 16, 32),
    hold_times=(0.0, 10e-6, 50e-6, 200e-6, 1e-3),
    lock_seconds=0.2,
    repeats=3,
    starvation_seconds=1.0,
)
QUICK = BenchSettings(
    worker_counts=(1, 2, 4),
    cpu_jobs=60,
    noop_jobs=500,
    thread_counts=(1, 2, 4),
    hold_times=(0.0, 1e-3),
    lock_seconds=0.05,
    repeats=1,
    starvation_seconds=0.2,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench`` options to *parser*."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="measure a small grid in a few seconds instead of the full run (~2 minutes)",
    )
    parser.add_argument(
        "--only",
        choices=PARTS,
        help="run one part only: worker throughput, Lock vs RWLock, or writer starvation",
    )
    add_width_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Run the benchmarks that *args* ask for and print their tables.

    Args:
        args: parsed options with ``quick`` (bool), ``only`` (a part name or None) and
            ``width`` (columns, or None for the terminal's, at most 80).

    Returns:
        The exit status: 0.
    """
    settings = QUICK if args.quick else FULL
    parts = PARTS if args.only is None else (args.only,)
    width = getattr(args, "width", None) or terminal_width()

    def show(text: str) -> None:
        print(fit(text, width), end="\n\n", flush=True)

    def progress(line: str) -> None:
        print(fit(f"... {line}", width), file=sys.stderr, flush=True)

    started = time.monotonic()
    for part in parts:
        _RUNNERS[part](settings, progress, show)
    print(f"bench finished in {time.monotonic() - started:.1f} s")
    return 0


_Show = Callable[[str], None]


def _throughput(settings: BenchSettings, progress: _Show, show: _Show) -> None:
    for job, jobs in (("io", None), ("cpu", settings.cpu_jobs), ("noop", settings.noop_jobs)):
        result = measure_throughput(
            settings.worker_counts, job, jobs=jobs, repeats=settings.repeats, progress=progress
        )
        show(result.table())


def _locks(settings: BenchSettings, progress: _Show, show: _Show) -> None:
    result = compare_locks(
        settings.thread_counts,
        settings.hold_times,
        seconds=settings.lock_seconds,
        repeats=settings.repeats,
        progress=progress,
    )
    show(result.table())


def _starvation(settings: BenchSettings, progress: _Show, show: _Show) -> None:
    for factory in (RWLock, ReaderPreferringRWLock):
        progress(f"starvation: one writer against a stream of readers, {factory.__name__}")
        result = starvation_demo(factory, seconds=settings.starvation_seconds)
        show(f"writer starvation under {factory.__name__}\n{result}")


_RUNNERS: dict[str, Callable[[BenchSettings, _Show, _Show], None]] = {
    "throughput": _throughput,
    "locks": _locks,
    "starvation": _starvation,
}
