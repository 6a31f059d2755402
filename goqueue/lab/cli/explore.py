"""``python -m goqueue.lab explore``: run every interleaving of a scenario from a terminal.

Prints "k of n interleavings violate the invariant", the final states seen, and the
shortest failing interleaving as a timeline. ``--race`` also runs the scenario's first
(serial, nothing-goes-wrong) interleaving under the race detector and prints its report.
Exits 0 when no interleaving failed (and, with ``--race``, no race was found), 1 otherwise,
2 on bad arguments, 130 on Ctrl-C. Everything printed fits ``--width`` columns (80 by
default): the final states and the timeline wrap at spaces, never inside a word.
"""

from __future__ import annotations

import argparse

from goqueue.lab.cli.arguments import non_negative_int, positive_int
from goqueue.lab.cli.layout import add_width_argument, fit, terminal_width
from goqueue.lab.interleavings.detector import race_detector
from goqueue.lab.interleavings.explore import ExploreResult, explore_scenario, replay_scenario
from goqueue.lab.interleavings.timeline import render_text
from goqueue.lab.specimens.scenarios import SCENARIOS

__all__ = ["HELP", "add_arguments", "render", "run"]

#: The one-line help of the subcommand.
HELP = "run every interleaving of a small race scenario"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``explore`` subcommand's options to *parser*."""
    parser.description = (
        "Run every interleaving of a small scenario's steps on shared objects, report how "
        "many break its invariant, and show the shortest one that does."
    )
    parser.epilog = (
        "exit status: 0 no interleaving broke the invariant (and, with --race, no data "
        "race was found); 1 at least one did: a violated invariant, an exception or a "
        "deadlock (or, with --race, a data race); 2 bad arguments; 130 interrupted."
    )
    parser.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        default="registry",
        help="what to explore: two workers registering a handler on the unsafe registry "
        "(registry) or the locked one (registry-fixed), two threads incrementing a counter "
        "(lost-update), or two threads taking two locks in opposite orders (lock-order); "
        "default: %(default)s",
    )
    parser.add_argument(
        "--preemption-bound",
        type=non_negative_int,
        default=None,
        metavar="N",
        help="only interleavings with at most N preemptions (default: all)",
    )
    parser.add_argument(
        "--max-schedules",
        type=positive_int,
        default=100_000,
        metavar="N",
        help="stop after N interleavings (default: %(default)s)",
    )
    parser.add_argument(
        "--race",
        action="store_true",
        help="also run the first, serial interleaving under the race detector",
    )
    add_width_argument(parser)


def render(result: ExploreResult, width: int) -> str:
    """What ``explore`` found, fitted to *width* columns.

    Args:
        result: the exploration.
        width: columns available.

    Returns:
        The summary, the final states (a table if it fits, else one entry per state), and
        the shortest failing interleaving's timeline.
    """
    table = result.outcome_table()
    if max(len(line) for line in table.split("\n")) > width:
        lines = ["final states (interleavings, verdict: state):"]
        lines += [f"{count:>5}  {v}: {state}" for (state, v), count in result.outcomes.items()]
        table = "\n".join(lines)
    parts = [result.summary(), "", table]
    if result.first_failure is not None:
        steps = len(result.first_failure.schedule)
        parts += ["", f"shortest failing interleaving ({steps} steps):"]
        parts.append(render_text(result.first_failure, width=width))
    return fit("\n".join(parts), width)


def run(args: argparse.Namespace) -> int:
    """Run the ``explore`` subcommand; returns the exit status."""
    width = args.width or terminal_width()
    scenario = SCENARIOS[args.scenario]()
    result = explore_scenario(
        scenario, preemption_bound=args.preemption_bound, max_schedules=args.max_schedules
    )
    print(fit(f"scenario: {args.scenario} (threads: {', '.join(scenario.threads)})", width))
    print(render(result, width))
    status = 1 if result.failures else 0
    if args.race:
        with race_detector() as detector:
            # An empty schedule runs without preemption: each thread to its end in turn.
            execution = replay_scenario(scenario, [])
        print()
        title = f"race detector, on the serial interleaving (result: {execution.status}):"
        print(fit(title, width))
        print(fit(detector.report(), width))
        if detector.races:
            status = 1
    return status
