"""``python -m goqueue.lab explore``: run every interleaving of a scenario from a terminal.

Prints "k of n interleavings violate the invariant", the final states seen, and the
shortest failing interleaving as a timeline. ``--race`` also runs the scenario's first
(serial, nothing-goes-wrong) interleaving under the race detector and prints its report.
Exits 0 when no interleaving failed (and, with ``--race``, no race was found), 1 otherwise,
2 on bad arguments.
"""

from __future__ import annotations

import argparse

from goqueue.lab.cli.arguments import non_negative_int, positive_int
from goqueue.lab.interleavings.detector import race_detector
from goqueue.lab.interleavings.explore import explore_scenario, replay_scenario
from goqueue.lab.specimens.scenarios import SCENARIOS

__all__ = ["HELP", "add_arguments", "run"]

#: The one-line help of the subcommand.
HELP = "run every interleaving of a small race scenario"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``explore`` subcommand's options to *parser*."""
    parser.description = (
        "Run every interleaving of a small scenario's steps on shared objects, report how "
        "many break its invariant, and show the shortest one that does."
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


def run(args: argparse.Namespace) -> int:
    """Run the ``explore`` subcommand; returns the exit status."""
    scenario = SCENARIOS[args.scenario]()
    result = explore_scenario(
        scenario, preemption_bound=args.preemption_bound, max_schedules=args.max_schedules
    )
    print(f"scenario: {args.scenario} (threads: {', '.join(scenario.threads)})")
    print(result)
    status = 1 if result.failures else 0
    if args.race:
        with race_detector() as detector:
            # An empty schedule runs without preemption: each thread to its end in turn.
            execution = replay_scenario(scenario, [])
        print()
        print(f"race detector, on the serial interleaving (result: {execution.status}):")
        print(detector.report())
        if detector.races:
            status = 1
    return status
