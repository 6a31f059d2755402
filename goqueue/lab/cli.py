"""``python -m goqueue.lab``: the race lab from a terminal, for a class projector.

Subcommands:

* ``race``: hammer a registry and watch the anomalies add up live, then print the graded
  outcome table (``goqueue.lab.stress.hammer``);
* ``bench``: the throughput and lock tables (``goqueue.lab.benchmarks``);
* ``explore``: every interleaving of a small scenario (``goqueue.lab.explorer_cli``).

``bench`` and ``explore`` are imported only when asked for; each module provides
``add_arguments(parser)`` and ``run(args) -> int``. Bad arguments print one line of usage
and one error line and exit with status 2, as ``argparse`` does.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from goqueue.lab.stress.hammer import TARGETS, HammerProgress, hammer

__all__ = ["LiveDisplay", "build_parser", "main"]

PROG = "python -m goqueue.lab"

#: Subcommands that live in other modules: name -> (module, one-line help).
PLUGINS = {
    "bench": ("goqueue.lab.benchmarks", "print the throughput and Lock-vs-RWLock tables"),
    "explore": ("goqueue.lab.explorer_cli", "run every interleaving of a small race scenario"),
}

_REGISTRY_HELP = {
    "unsafe": "UnsafeRegistry, no lock: anomalies expected",
    "locked": "LockedRegistry, the same bookkeeping under an RWLock and a Lock",
    "core": "goqueue.Registry, the package's own registry",
}


def _int_at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m goqueue.lab`` parser (``bench`` and ``explore`` are listed only).

    Returns:
        The parser; its ``race`` subcommand has the hammer's options.
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The goqueue race lab: break a registry on purpose, measure, fix it.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    race = commands.add_parser(
        "race",
        help="hammer a registry from many threads and show the anomalies live",
        description=(
            "Hammer a handler registry from many threads at once, trial after trial, and "
            "show the anomalies (lost counter updates, types listed twice, exceptions) as "
            "they are found, then the graded outcome table."
        ),
        epilog="registries: " + "; ".join(f"{k}: {v}" for k, v in _REGISTRY_HELP.items()),
    )
    race.add_argument(
        "--registry",
        choices=sorted(TARGETS),
        default="unsafe",
        help="which registry to hammer (default: %(default)s)",
    )
    race.add_argument(
        "--threads",
        type=_int_at_least_one,
        default=4,
        metavar="N",
        help="threads per trial (default: %(default)s)",
    )
    race.add_argument(
        "--seconds",
        type=_positive_float,
        default=1.0,
        metavar="S",
        help="total run time, shared by the trials (default: %(default)s)",
    )
    race.add_argument(
        "--trials",
        type=_int_at_least_one,
        default=10,
        metavar="N",
        help="fresh registries to hammer (default: %(default)s)",
    )
    race.add_argument(
        "--switch-interval",
        type=_positive_float,
        default=None,
        metavar="X",
        help="sys.setswitchinterval(X) for the run, e.g. 1e-5 for more thread switches "
        "(default: leave the interpreter's, usually 0.005 s)",
    )
    race.add_argument("--seed", type=int, default=0, help="seed of the operation mix")
    for name, (_, text) in PLUGINS.items():
        commands.add_parser(name, help=text, add_help=False)
    return parser


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


def _run_race(args: argparse.Namespace) -> int:
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


def _run_plugin(name: str, argv: Sequence[str]) -> int:
    module_name = PLUGINS[name][0]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        print(
            f"{PROG} {name}: not available ({module_name} cannot be imported: {exc})",
            file=sys.stderr,
        )
        return 2
    parser = argparse.ArgumentParser(prog=f"{PROG} {name}", description=PLUGINS[name][1])
    module.add_arguments(parser)
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return _exit_code(exc)
    status: int = module.run(args)
    return status


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    return code if isinstance(code, int) else 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m goqueue.lab`` with *argv* (default: ``sys.argv[1:]``).

    Args:
        argv: the arguments after the program name.

    Returns:
        The exit status: 0 on success, 2 on bad arguments, otherwise the subcommand's.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in PLUGINS:
        return _run_plugin(arguments[0], arguments[1:])
    try:
        args = build_parser().parse_args(arguments)
    except SystemExit as exc:
        return _exit_code(exc)
    return _run_race(args)
