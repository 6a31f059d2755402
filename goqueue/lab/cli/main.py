"""``python -m goqueue.lab``: the race lab from a terminal, for a class projector.

One ``argparse`` parser with a subcommand per module of this package:

* ``race``: hammer a registry and watch the anomalies add up live, then print the graded
  outcome table (``cli.race``);
* ``explore``: every interleaving of a small scenario (``cli.explore``);
* ``bench``: the throughput, lock and starvation tables (``cli.bench``).
* ``play``: the scheduler game, level by level (``cli.play``).

Each module provides ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``. Bad
arguments print one line of usage and one error line and exit with status 2, as
``argparse`` does. Ctrl-C ends any subcommand with status 130 and one line, no traceback
(``race`` prints the trials that finished first).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from goqueue.lab.cli import bench, explore, play, race

__all__ = ["COMMANDS", "PROG", "build_parser", "main"]

PROG = "python -m goqueue.lab"

#: The subcommands: name -> module with ``HELP``, ``add_arguments`` and ``run``.
COMMANDS: dict[str, ModuleType] = {
    "race": race,
    "bench": bench,
    "explore": explore,
    "play": play,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m goqueue.lab`` parser, with every subcommand and its options.

    Returns:
        The parser; the parsed namespace's ``command`` names the subcommand.
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The goqueue race lab: break a registry on purpose, measure, fix it.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        sub = commands.add_parser(name, help=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(parser=sub)
    return parser


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
        The exit status: 0 on success, 2 on bad arguments, 130 on Ctrl-C, otherwise the
        subcommand's.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        args, extra = build_parser().parse_known_args(arguments)
        if extra:  # reported by the subcommand's parser, which names the subcommand
            args.parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:
        return _exit_code(exc)
    del args.parser
    try:
        status: int = COMMANDS[args.command].run(args)
    except KeyboardInterrupt:
        print(f"\n{PROG} {args.command}: interrupted", file=sys.stderr, flush=True)
        return 130
    return status
