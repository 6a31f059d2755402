"""``python -m goqueue.lab race``: hammer a registry and watch the anomalies add up live.

The hammer (``goqueue.lab.stress.hammer``) runs trial after trial; ``LiveDisplay`` shows
its progress reports, redrawn in place on a terminal or as a line now and then otherwise,
and the graded outcome table is printed at the end, with a one-line ``verdict``. A run too
short to show anything says so (``INCONCLUSIVE``, with its operation count) instead of
passing; Ctrl-C prints the trials that finished and exits with status 130.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TextIO

from goqueue.lab.cli.arguments import positive_float, positive_int
from goqueue.lab.cli.layout import DEFAULT_WIDTH, add_width_argument, fit, terminal_width
from goqueue.lab.stress.hammer import TARGETS, HammerInterrupted, HammerProgress, hammer
from goqueue.lab.stress.outcomes import Outcomes

__all__ = [
    "HELP",
    "MAX_THREADS",
    "MIN_OPERATIONS",
    "LiveDisplay",
    "add_arguments",
    "outcome_table",
    "run",
    "verdict",
]

#: The one-line help of the subcommand.
HELP = "hammer a registry from many threads and show the anomalies live"

#: The most threads a trial may start: 5,000 threads take seconds to start and about
#: 130 MB (measured: 133 MB resident with 5,000, 430 MB with 20,000).
MAX_THREADS = 5_000

#: With no anomaly, a run of fewer operations proves nothing: with the GIL the unsafe
#: registry showed no anomaly in 12,000 operations (4 threads, 3,000 each) in 2 of 4
#: runs, and showed some in every run of 40,000.
MIN_OPERATIONS = 20_000

_REGISTRY_HELP = {
    "unsafe": "UnsafeRegistry, no lock: anomalies expected",
    "locked": "LockedRegistry, the same bookkeeping under an RWLock and a Lock",
    "core": "goqueue.Registry, the package's own registry",
}


def _thread_count(text: str) -> int:
    value = positive_int(text)
    if value > MAX_THREADS:
        raise argparse.ArgumentTypeError(f"must be <= {MAX_THREADS:,}, got {value:,}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``race`` subcommand's options (and description) to *parser*."""
    parser.description = (
        "Hammer a handler registry from many threads at once, trial after trial, and "
        "show the anomalies (lost counter updates, types listed twice, exceptions) as "
        "they are found, then the graded outcome table and a verdict: FORBIDDEN (an "
        "anomaly was seen), CONSISTENT (none in at least "
        f"{MIN_OPERATIONS:,} operations) or INCONCLUSIVE (too few operations to tell)."
    )
    parser.epilog = (
        "registries: "
        + "; ".join(f"{k}: {v}" for k, v in _REGISTRY_HELP.items())
        + ". exit status: 0 the run finished (whatever its verdict), 2 bad arguments, "
        "130 interrupted (the finished trials are printed)."
    )
    parser.add_argument(
        "--registry",
        choices=sorted(TARGETS),
        default="unsafe",
        help="which registry to hammer (default: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=_thread_count,
        default=4,
        metavar="N",
        help=f"threads per trial, 1 to {MAX_THREADS:,} (default: %(default)s)",
    )
    parser.add_argument(
        "--seconds",
        type=positive_float,
        default=1.0,
        metavar="S",
        help="total run time, shared by the trials; starting the threads counts: a trial "
        "still starting its threads when the time is up is called off, with no operation "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--trials",
        type=positive_int,
        default=10,
        metavar="N",
        help="fresh registries to hammer (default: %(default)s)",
    )
    parser.add_argument(
        "--switch-interval",
        type=positive_float,
        default=None,
        metavar="X",
        help="sys.setswitchinterval(X) for the run, e.g. 1e-5 for more thread switches "
        "(default: leave the interpreter's, usually 0.005 s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the operation mix")
    add_width_argument(parser)


def verdict(outcomes: Outcomes) -> str:
    """The run in one line: ``FORBIDDEN``, ``INCONCLUSIVE`` or ``CONSISTENT``, with counts.

    A run with no anomaly is ``INCONCLUSIVE`` when it made fewer than ``MIN_OPERATIONS``
    operations, too few for a race to show, or ran one thread, with which nothing can
    interleave: its clean tables prove nothing.

    >>> from goqueue.lab.stress.hammer import hammer
    >>> print(verdict(hammer("locked", threads=2, iterations=10, trials=1))[:41])
    INCONCLUSIVE: only 20 operations, too few

    Args:
        outcomes: what a ``hammer`` run saw.

    Returns:
        The verdict line.
    """
    ops = outcomes.operations
    trials = len(outcomes.trials)
    if outcomes.anomalies:
        return (
            f"FORBIDDEN: {outcomes.anomalies:,} anomalies in {ops:,} operations "
            f"({outcomes.anomalous_trials} of {trials} trials)"
        )
    if outcomes.threads < 2:
        return (
            f"INCONCLUSIVE: one thread ({ops:,} operations): nothing ran at the same time, "
            "so no race could show; use --threads 2 or more"
        )
    if ops < MIN_OPERATIONS:
        return (
            f"INCONCLUSIVE: only {ops:,} operations, too few to show a race "
            f"(want >= {MIN_OPERATIONS:,}): run longer (--seconds) or with fewer threads"
        )
    return f"CONSISTENT: no anomaly in {ops:,} operations ({trials} trials)"


class LiveDisplay:
    """Shows ``HammerProgress`` reports: redrawn in place on a terminal, else a line a while.

    Args:
        stream: where to write.
        title: the first line of the live table.
        interval: seconds between progress lines when *stream* is not a terminal.
        clock: the time source (for tests).
        width: columns available; longer lines are cut (terminal) or wrapped.
    """

    def __init__(
        self,
        stream: TextIO,
        title: str,
        *,
        interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        width: int = DEFAULT_WIDTH,
    ) -> None:
        self._stream = stream
        self._title = title
        self._interval = interval
        self._clock = clock
        self._width = width
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._drawn = 0  # lines of the live table on screen (terminal only)
        self._last_line = float("-inf")

    @property
    def is_terminal(self) -> bool:
        """True if the stream is a terminal, so the table is redrawn in place."""
        return self._tty

    def __call__(self, progress: HammerProgress) -> None:
        if self._tty:
            self._redraw(progress)
        elif progress.done or self._clock() - self._last_line >= self._interval:
            self._last_line = self._clock()
            p = progress
            line = (
                f"trial {p.trial}/{p.trials}  {p.elapsed:5.1f} s  operations {p.operations:,}  "
                f"anomalies {p.anomalies:,}  exceptions {p.exceptions:,}"
            )
            self._stream.write(fit(line, self._width) + "\n")
            self._stream.flush()

    def _redraw(self, p: HammerProgress) -> None:
        lines = [
            self._title,
            f"  trial        {p.trial}/{p.trials}{'  done' if p.done else ''}",
            f"  elapsed      {p.elapsed:.1f} s",
            f"  operations   {p.operations:,}",
            f"  anomalies    {p.anomalies:,}   (exceptions live, rest per trial)",
            f"  exceptions   {p.exceptions:,}",
        ]
        # Move the cursor back to the table's first line, then rewrite each line in place;
        # a line is cut to the width, so that each takes exactly one row of the screen.
        up = f"\x1b[{self._drawn}F" if self._drawn else ""
        body = "".join(f"\r\x1b[K{line[: self._width]}\n" for line in lines)
        self._stream.write(up + body)
        self._stream.flush()
        self._drawn = len(lines)


def outcome_table(outcomes: Outcomes) -> str:
    """The outcome table with the final state last, so that a long state wraps alone.

    >>> from goqueue.lab.stress.hammer import hammer
    >>> print(outcome_table(hammer("locked", threads=1, iterations=10, trials=2)))
      trials  freq  grade       final state
           2  100%  ACCEPTABLE  consistent
    """
    graded = max([len("grade"), *(len(row.grade.name) for row in outcomes.rows())])
    lines = [f"  trials  freq  {'grade':<{graded}}  final state"]
    lines += [
        f"  {row.count:>6}  {row.frequency:>4.0%}  {row.grade.name:<{graded}}  {row.state}"
        for row in outcomes.rows()
    ]
    return "\n".join(lines)


def _report(outcomes: Outcomes, width: int) -> str:
    parts = [outcomes.summary(), outcome_table(outcomes)]
    parts += [f"  {label}: {value}" for label, value in outcomes.details()]
    parts.append(verdict(outcomes))
    return fit("\n".join(parts), width)


def run(args: argparse.Namespace) -> int:
    """Run the ``race`` subcommand; returns the exit status (130 when interrupted)."""
    width = args.width or terminal_width()
    title = (
        f"race: {args.registry} registry, {args.threads} threads, {args.seconds:g} s, "
        f"{args.trials} trials"
    )
    display = LiveDisplay(sys.stdout, title, width=width)
    if not display.is_terminal:
        print(fit(title, width), flush=True)
    try:
        outcomes = hammer(
            args.registry,
            threads=args.threads,
            seconds=args.seconds,
            trials=args.trials,
            switch_interval=args.switch_interval,
            seed=args.seed,
            progress=display,
        )
    except HammerInterrupted as interrupted:
        kept = interrupted.outcomes
        print()
        if not kept.trials:
            print("interrupted before the first trial finished", flush=True)
        else:
            print(fit(f"interrupted: the {len(kept.trials)} finished trial(s)", width))
            print(_report(kept, width), flush=True)
        return 130
    print()
    print(_report(outcomes, width))
    return 0
