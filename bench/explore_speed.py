"""How fast the interleaving explorer runs, and how much the race detector slows code down.

1. **Exhaustive exploration**: 2 threads x 6 independent steps (C(12, 6) = 924
   interleavings, goal < 2 s) and 3 threads x 3 steps (9!/(3!)^3 = 1,680, goal < 5 s),
   each interleaving re-run from setup() on real threads that the scheduler lets go one
   step at a time.
2. **Detector overhead**: 4 threads hammer a ``goqueue.Registry`` built over an
   instrumented ``RWLock`` and dict (95% lookups, 5% registrations), with and without the
   race detector watching. Goal: at most 20x slower (Go's detector costs 2-20x). The same
   run over a plain ``Registry`` is printed too, for the cost of instrumentation itself.

Each figure is the best of ``--repeat`` runs (the least disturbed on a shared machine).
Run: ``.venv/bin/python bench/explore_speed.py``.
"""

from __future__ import annotations

import argparse
import math
import threading
import time
from collections.abc import Callable

from goqueue import Registry
from goqueue.lab.interleavings.detector import race_detector
from goqueue.lab.interleavings.explore import explore
from goqueue.lab.interleavings.instrumented import SharedDict
from goqueue.lab.interleavings.shared_locks import SharedRWLock


def writer(name: str, steps: int) -> Callable[[SharedDict[str, int]], None]:
    def write(d: SharedDict[str, int]) -> None:
        for i in range(steps):
            d[f"{name}{i}"] = i

    return write


def explore_seconds(threads: int, steps: int) -> tuple[float, int]:
    names = [f"t{i}" for i in range(1, threads + 1)]
    start = time.perf_counter()
    result = explore(lambda: SharedDict("d"), {n: writer(n, steps) for n in names})
    return time.perf_counter() - start, result.schedules


def handler(ctx: object, payload: object) -> None:
    pass


def hammer_seconds(registry: Registry, threads: int, ops: int) -> tuple[float, float]:
    """(CPU, wall) seconds for *threads* threads doing *ops* registry calls each.

    The CPU time (of all threads) is the figure to compare: on a shared 2-core machine
    the wall clock mostly measures the other processes. Wall time is printed too.
    """
    for i in range(10):
        registry.register_handler(f"type-{i}", handler)
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        for i in range(ops):
            if i % 20 == 0:
                registry.register_handler(f"type-{i % 10}", handler)
            else:
                registry.get_handler(f"type-{i % 10}")

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    start, wall = time.process_time(), time.perf_counter()
    for worker in workers:
        worker.join()
    return time.process_time() - start, time.perf_counter() - wall


def instrumented() -> Registry:
    return Registry(SharedRWLock("lock"), handlers=SharedDict("handlers"))


def detector_seconds(threads: int, ops: int) -> tuple[float, float, int]:
    with race_detector() as detector:
        cpu, wall = hammer_seconds(instrumented(), threads, ops)
    return cpu, wall, len(detector.races)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ops", type=int, default=5000, help="registry calls per thread")
    args = parser.parse_args()

    print("exhaustive exploration (best of", args.repeat, "runs)")
    for threads, steps, goal in ((2, 6, 2.0), (3, 3, 5.0)):
        expected = math.factorial(threads * steps) // math.factorial(steps) ** threads
        runs = [explore_seconds(threads, steps) for _ in range(args.repeat)]
        best = min(seconds for seconds, _ in runs)
        count = runs[0][1]
        verdict = "ok" if best < goal and count == expected else "MISSED"
        print(
            f"  {threads} threads x {steps} steps: {count} interleavings (expected {expected})"
            f" in {best:.2f} s = {count / best:,.0f}/s   goal < {goal:.0f} s: {verdict}"
        )

    threads, ops = 4, args.ops
    print(f"\nrace detector overhead: {threads} threads x {ops} registry calls, CPU seconds")
    plain = [hammer_seconds(Registry(), threads, ops) for _ in range(args.repeat)]
    bare = [hammer_seconds(instrumented(), threads, ops) for _ in range(args.repeat)]
    watched = [detector_seconds(threads, ops) for _ in range(args.repeat)]
    rows = [
        ("plain Registry", min(c for c, _ in plain), min(w for _, w in plain)),
        ("instrumented, no detector", min(c for c, _ in bare), min(w for _, w in bare)),
        ("instrumented, detector on", min(c for c, _, _ in watched), min(w for _, w, _ in watched)),
    ]
    print(f"  {'':28}  {'CPU s':>7}  {'wall s':>7}  {'CPU vs plain':>12}")
    for name, cpu, wall in rows:
        print(f"  {name:28}  {cpu:7.3f}  {wall:7.3f}  {cpu / rows[0][1]:11.1f}x")
    ratio = rows[2][1] / rows[1][1]
    races = max(r for _, _, r in watched)
    print(f"  detector on / off (CPU): {ratio:.1f}x; races reported: {races}")
    print(f"  goal <= 20x instrumented: {'ok' if ratio <= 20 else 'MISSED'}")


if __name__ == "__main__":
    main()
