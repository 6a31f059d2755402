"""``python -m goqueue.lab race``: hammer a registry and watch the anomalies add up live.

The hammer (``goqueue.lab.stress.hammer``) runs trial after trial; ``LiveDisplay`` shows
its progress reports, redrawn in place on a terminal or as a line now and then otherwise,
and the graded outcome table is printed at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TextIO

from goqueue.lab.cli.arguments import positive_float, positive_int
from goqueue.lab.stress.hammer import TARGETS, HammerProgress, hammer

__all__ = ["HELP", "LiveDisplay", "add_arguments", "run"]

#: The one-line help of the subcommand.
HELP = "hammer a registry from many threads and show the anomalies live"

_REGISTRY_HELP = {
    "unsafe": "UnsafeRegistry, no lock: anomalies expected",
    "locked": "LockedRegistry, the same bookkeeping under an RWLock and a Lock",
    "core": "goqueue.Registry, the package's own registry",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``race`` subcommand's options (and description) to *parser*."""
    parser.description = (
        "Hammer a handler registry from many threads at once, trial after trial, and "
        "show the anomalies (lost counter updates, types listed twice, exceptions) as "
        "they are found, then the graded outcome table."
    )
    parser.epilog = "registries: " + "; ".join(f"{k}: {v}" for k, v in _REGISTRY_HELP.items())
    parser.add_argument(
        "--registry",
        choices=sorted(TARGETS),
        default="unsafe",
        help="which registry to hammer (default: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=4,
        metavar="N",
        help="threads per trial (default: %(default)s)",
    )
    parser.add_argument(
        "--seconds",
        type=positive_float,
        default=1.0,
        metavar="S",
        help="total run time, shared by the trials (default: %(default)s)",
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


class LiveDisplay:
    """Shows ``HammerProgress`` reports: redrawn in place on a terminal, else a line a while.

    Args:
        stream: where to write.
        title: the first line of the live table.
        interval: seconds between progress lines when *stream* is not a terminal.
        clock: the time source (for tests).
    """

    def __init__(
        self,
        stream: TextIO,
        title: str,
        *,
        interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._title = title
        self._interval = interval
        self._clock = clock
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
            self._stream.write(
                f"trial {p.trial}/{p.trials}  {p.elapsed:5.1f} s  operations {p.operations:,}  "
                f"anomalies {p.anomalies:,}  exceptions {p.exceptions:,}\n"
            )
            self._stream.flush()

    def _redraw(self, p: HammerProgress) -> None:
        lines = [
            self._title,
            f"  trial        {p.trial}/{p.trials}{'  done' if p.done else ''}",
            f"  elapsed      {p.elapsed:.1f} s",
            f"  operations   {p.operations:,}",
            f"  anomalies    {p.anomalies:,}   (in finished trials)",
            f"  exceptions   {p.exceptions:,}",
        ]
        # Move the cursor back to the table's first line, then rewrite each line in place.
        up = f"\x1b[{self._drawn}F" if self._drawn else ""
        self._stream.write(up + "".join(f"\r\x1b[K{line}\n" for line in lines))
        self._stream.flush()
        self._drawn = len(lines)


def run(args: argparse.Namespace) -> int:
    """Run the ``race`` subcommand; returns the exit status (130 when interrupted)."""
    title = (
        f"race: {args.registry} registry, {args.threads} threads, {args.seconds:g} s, "
        f"{args.trials} trials"
    )
    display = LiveDisplay(sys.stdout, title)
    if not display.is_terminal:
        print(title, flush=True)
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
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    print()
    print(outcomes)
    return 0
