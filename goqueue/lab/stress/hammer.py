"""The hammer: many threads calling one registry at once, trial after trial.

Each trial builds a fresh registry, starts *threads* threads that wait at a
``threading.Barrier`` so they really start together, and lets each run a seeded mix of
calls for a number of seconds or iterations:

* register a **new** job type (every thread walks the same list of names, so threads
  register the same new type at about the same time: the check-then-act window), then read
  its handler back;
* re-register a type already known, then read it back;
* ``get_handler`` of a known type (the lookup counter's read-modify-write window);
* ``job_types()``, and ``handlers_snapshot()`` where the registry has one (the iteration
  window).

Each thread counts what it did in its own variables. After the join, on one thread, the
registry is compared with those counts (see ``goqueue.lab.stress.outcomes``): a correct registry
must agree exactly. Exceptions inside the threads are caught and counted, never printed.

>>> outcomes = hammer("locked", threads=2, iterations=200, trials=2)
>>> outcomes.anomalies, outcomes.operations
(0, 800)
"""

from __future__ import annotations

import math
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from goqueue.errors import UnknownJobType
from goqueue.lab.measure.machine import gil_enabled
from goqueue.lab.specimens.registries import LockedRegistry, RegistryStatistics, UnsafeRegistry
from goqueue.lab.stress.outcomes import Outcomes, TrialResult
from goqueue.registry import Handler, Registry

__all__ = ["HammerInterrupted", "HammerProgress", "RegistryLike", "hammer"]

# Share of each operation in a thread's mix (cumulative thresholds for random()).
_REGISTER_NEW = 0.10
_REGISTER_AGAIN = 0.20
_LOOKUP = 0.85
_JOB_TYPES = 0.95  # the rest: handlers_snapshot() (or job_types() if there is none)

_HOT_TYPES = 4
# New types per trial stop here (later "new" registrations re-register a known type), so
# that long trials do not spend their time copying an ever larger map.
_MAX_TYPES = 1024

#: How often (seconds) the calling thread reports progress while a trial runs.
PROGRESS_INTERVAL = 0.1
#: Threads started between two looks at the clock (see ``hammer``'s *seconds*).
START_BATCH = 64
#: The switch interval (seconds) while the threads of a trial that was called off (or
#: cut short by Ctrl-C) are woken and joined; see ``_end_trial``.
END_INTERVAL = 1.0


class RegistryLike(Protocol):
    """What the hammer calls: the public API of ``goqueue.Registry``."""

    def register_handler(self, job_type: str, handler: Handler) -> None: ...

    def get_handler(self, job_type: str) -> Handler: ...

    def job_types(self) -> list[str]: ...


@dataclass(frozen=True)
class HammerProgress:
    """Live counts, passed to the ``progress`` callback while the hammer runs.

    Attributes:
        trial: the trial running (1-based), or the last one when ``done``.
        trials: trials in the run.
        operations: operations so far, the running trial included.
        anomalies: forbidden events in the finished trials, plus the exceptions of the
            running trial (its other anomalies are known only when it is judged).
        exceptions: exceptions raised so far, the running trial included.
        elapsed: seconds since the run started.
        done: True on the last call, after every thread was joined.
    """

    trial: int
    trials: int
    operations: int
    anomalies: int
    exceptions: int
    elapsed: float
    done: bool = False


class HammerInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``hammer``: the trials that finished before it, graded.

    A ``KeyboardInterrupt``, so code that does not know it stops as before; the trial that
    was running is dropped (it was never judged).

    Attributes:
        outcomes: the graded ``Outcomes`` of the finished trials (possibly none).
    """

    def __init__(self, outcomes: Outcomes) -> None:
        super().__init__(f"interrupted after {len(outcomes.trials)} finished trial(s)")
        self.outcomes = outcomes


TARGETS: dict[str, Callable[[], RegistryLike]] = {
    "unsafe": UnsafeRegistry,
    "locked": LockedRegistry,
    "core": Registry,
}


@dataclass
class _ThreadLog:
    """What one thread did; written only by that thread until it is joined."""

    operations: int = 0
    registrations: int = 0
    registered: set[str] = field(default_factory=set)
    lookups: Counter[str] = field(default_factory=Counter)
    exceptions: Counter[str] = field(default_factory=Counter)
    exception_count: int = 0  # sum of exceptions, readable while the thread runs
    overlaps: int = 0


def _make_handler(thread: int) -> Handler:
    def handler(ctx: Any, payload: dict[str, Any]) -> object:
        return thread

    handler.__name__ = f"handler_of_thread_{thread}"
    return handler


def _worker(
    registry: RegistryLike,
    index: int,
    log: _ThreadLog,
    barrier: threading.Barrier,
    deadlines: list[float],
    rng: random.Random,
    iterations: int | None,
    called_off: threading.Event,
) -> None:
    mine = _make_handler(index)
    snapshot: Callable[[], object] | None = getattr(registry, "handlers_snapshot", None)
    known: list[str] = []
    cursor = 0
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        if not called_off.is_set():  # a start failed: not the registry's fault, but shown
            log.exceptions["BrokenBarrierError"] += 1
            log.exception_count += 1
        return
    limit = sys.maxsize if iterations is None else iterations
    n = 0
    while n < limit:
        # deadlines[0] is the trial's end (inf with *iterations*); Ctrl-C moves it to -inf.
        if n % 32 == 0 and time.monotonic() >= deadlines[0]:
            break
        n += 1
        roll = rng.random()
        try:
            if roll < _REGISTER_AGAIN or not known:
                if (roll < _REGISTER_NEW or not known) and cursor < _MAX_TYPES:
                    job_type = f"job-{cursor}"
                    cursor += 1
                else:
                    job_type = known[rng.randrange(len(known))]
                registry.register_handler(job_type, mine)
                log.registrations += 1
                if job_type not in log.registered:
                    log.registered.add(job_type)
                    known.append(job_type)
                # Read it back: another thread's handler here is allowed (it registered
                # the same type after us), and is the trace of a real interleaving.
                if registry.get_handler(job_type) is not mine:
                    log.overlaps += 1
                log.lookups[job_type] += 1
            elif roll < _LOOKUP:
                # Half the lookups go to the first few types (most jobs are of a few
                # types), the rest to any type this thread registered.
                pick = _HOT_TYPES if rng.random() < 0.5 else len(known)
                job_type = known[rng.randrange(min(pick, len(known)))]
                registry.get_handler(job_type)
                log.lookups[job_type] += 1
            elif roll < _JOB_TYPES or snapshot is None:
                registry.job_types()
            else:
                snapshot()
        except Exception as exc:  # counted, never printed: the outcome table reports it
            log.exceptions[type(exc).__name__] += 1
            log.exception_count += 1
        log.operations = n


def _judge(registry: RegistryLike, logs: list[_ThreadLog]) -> TrialResult:
    """Compare the registry with what the (joined) threads did."""
    registered: set[str] = set().union(*(log.registered for log in logs))
    exceptions: Counter[str] = Counter()
    for log in logs:
        exceptions.update(log.exceptions)
    lost = 0
    statistics = getattr(registry, "statistics", None)
    if statistics is not None:
        stats: RegistryStatistics = statistics()
        lost += abs(sum(log.registrations for log in logs) - stats.registrations)
        expected: Counter[str] = Counter()
        for log in logs:
            expected.update(log.lookups)
        for job_type in expected.keys() | stats.lookups.keys():
            lost += abs(expected[job_type] - stats.lookups.get(job_type, 0))
    job_types = registry.job_types()
    duplicates = len(job_types) - len(set(job_types))
    missing = len(registered ^ set(job_types))
    for job_type in registered:
        try:
            registry.get_handler(job_type)
        except UnknownJobType:
            missing += 1
        except Exception as exc:  # a broken registry: report it in the table, do not crash
            exceptions[type(exc).__name__] += 1
    return TrialResult(
        operations=sum(log.operations for log in logs),
        lost_updates=lost,
        duplicates=duplicates,
        missing=missing,
        exceptions=dict(exceptions),
        overlaps=sum(log.overlaps for log in logs),
    )


def _resolve(target: str | Callable[[], RegistryLike]) -> tuple[str, Callable[[], RegistryLike]]:
    if isinstance(target, str):
        if target not in TARGETS:
            names = ", ".join(repr(name) for name in sorted(TARGETS))
            raise ValueError(f"unknown registry: {target!r} (expected one of {names})")
        return target, TARGETS[target]
    if not callable(target):
        raise TypeError(f"target must be a registry name or a callable, got {target!r}")
    return getattr(target, "__name__", repr(target)), target


def _check_positive(name: str, value: float | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def hammer(
    target: str | Callable[[], RegistryLike] = "unsafe",
    *,
    threads: int = 4,
    seconds: float = 1.0,
    iterations: int | None = None,
    trials: int = 10,
    switch_interval: float | None = None,
    seed: int = 0,
    progress: Callable[[HammerProgress], object] | None = None,
) -> Outcomes:
    """Hammer a registry from *threads* threads and grade what every trial left behind.

    Args:
        target: ``"unsafe"`` (``UnsafeRegistry``), ``"locked"`` (``LockedRegistry``),
            ``"core"`` (``goqueue.Registry``), or a callable returning a fresh registry
            with that API (``statistics()`` and ``handlers_snapshot()`` are used if present).
        threads: threads per trial, released together by a barrier.
        seconds: total run time, shared equally by the trials (ignored with *iterations*).
            Starting threads counts: a trial whose threads are still starting when the
            time is up (checked every ``START_BATCH`` threads) is called off, with no
            operation, and graded ``INCONCLUSIVE``; a later trial then starts no more
            than one batch. With fewer threads than a batch every trial runs, as before.
        iterations: if given, each thread makes exactly this many steps per trial.
        trials: how many fresh registries to hammer.
        switch_interval: if given, ``sys.setswitchinterval`` for the run (restored after).
        seed: seeds each thread's operation mix.
        progress: called on this thread with a ``HammerProgress`` about every 0.1 s while
            threads run, after each trial, and once more with ``done=True`` at the end
            (after the switch interval was restored).

    Returns:
        The graded ``Outcomes`` of all trials.

    Raises:
        ValueError: a count or duration is not positive, or *target* names no registry.
        TypeError: *target* is neither a name nor a callable.
        HammerInterrupted: Ctrl-C (a ``KeyboardInterrupt``); it carries the finished
            trials. The running trial's threads are stopped and joined first.
    """
    name, factory = _resolve(target)
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    if iterations is not None and iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    _check_positive("seconds", seconds)
    _check_positive("switch_interval", switch_interval)
    results: list[TrialResult] = []
    start = time.monotonic()
    old_interval = sys.getswitchinterval()
    used_interval = old_interval

    def graded() -> Outcomes:
        return Outcomes(
            target=name,
            trials=tuple(results),
            threads=threads,
            seconds=seconds if iterations is None else None,
            iterations=iterations,
            elapsed=time.monotonic() - start,
            switch_interval=used_interval,
            seed=seed,
            python_version=".".join(map(str, sys.version_info[:3])),
            gil_enabled=gil_enabled(),
        )

    try:
        if switch_interval is not None:
            sys.setswitchinterval(switch_interval)
        used_interval = sys.getswitchinterval()
        for trial in range(trials):
            registry = factory()
            logs = [_ThreadLog() for _ in range(threads)]
            # Each trial gets an equal share of the time left, so the run as a whole takes
            # about *seconds* even though threads notice a deadline a little late.
            per_trial = math.inf
            if iterations is None:
                per_trial = max(0.0, start + seconds - time.monotonic()) / (trials - trial)
            # deadlines[0]: set by the barrier's action before any thread reads it; -inf
            # on Ctrl-C so the threads stop within 32 steps.
            deadlines = [math.inf]
            called_off = threading.Event()  # set: time ran out while threads were starting

            def start_clock(duration: float = per_trial, box: list[float] = deadlines) -> None:
                box[0] = time.monotonic() + duration

            barrier = threading.Barrier(threads, action=start_clock)
            workers: list[threading.Thread] = []  # made as they start: a called-off trial
            try:  # of 5,000 threads builds only the ones it started
                for i in range(threads):
                    timed = iterations is None and i and i % START_BATCH == 0
                    if timed and time.monotonic() >= start + seconds:
                        called_off.set()
                        break
                    worker = threading.Thread(
                        target=_worker,
                        args=(
                            registry,
                            i,
                            logs[i],
                            barrier,
                            deadlines,
                            random.Random(f"{seed}/{trial}/{i}"),
                            iterations,
                            called_off,
                        ),
                        name=f"hammer-{trial}-{i}",
                        daemon=True,
                    )
                    workers.append(worker)
                    worker.start()
                # A trial called off leaves its threads waiting at the barrier:
                # _end_trial frees and joins them.
                running = [] if called_off.is_set() else workers
                for worker in running:
                    while worker.is_alive():
                        worker.join(PROGRESS_INTERVAL)
                        if progress is not None and worker.is_alive():
                            progress(_progress(trial, trials, results, logs, start))
            except BaseException:  # Ctrl-C, or a progress callback that raised
                deadlines[0] = -math.inf  # the threads stop within 32 steps
                raise
            finally:
                _end_trial(barrier, workers, used_interval)
            results.append(_judge(registry, logs))
            if progress is not None:
                progress(_progress(trial, trials, results, [], start))
    except KeyboardInterrupt as exc:
        raise HammerInterrupted(graded()) from exc
    finally:
        sys.setswitchinterval(old_interval)
    if progress is not None:
        progress(_progress(trials - 1, trials, results, [], start, done=True))
    return graded()


def _end_trial(
    barrier: threading.Barrier, workers: list[threading.Thread], interval: float
) -> None:
    """Free the threads still waiting at *barrier* (a trial called off, a start that
    failed, Ctrl-C), join every started thread, then set the switch interval back to the
    run's *interval*.

    The waiting threads all wake at once, only to return. With a switch interval of
    milliseconds, thousands of them take the GIL from one another and from this thread
    every few milliseconds: ending 4,000-5,000 of them took 1-12 s (``--threads 5000
    --seconds 0.5`` took 1.1-5 s in all, and one run in a dozen longer). None of them
    touches the registry any more, so they may as well run one after another, each until
    it blocks or ends: with ``END_INTERVAL`` (1 s) the whole run took 0.9-1.1 s in 35 runs.
    """
    sys.setswitchinterval(END_INTERVAL)
    try:
        barrier.abort()
        for worker in workers:
            if worker.ident is not None:
                worker.join()
    finally:
        sys.setswitchinterval(interval)


def _progress(
    trial: int,
    trials: int,
    results: list[TrialResult],
    logs: list[_ThreadLog],
    start: float,
    *,
    done: bool = False,
) -> HammerProgress:
    # Reading other threads' logs while they run gives a slightly stale count; it is only
    # a display, and the final numbers come from the joined threads.
    return HammerProgress(
        trial=trial + 1,
        trials=trials,
        operations=sum(r.operations for r in results) + sum(log.operations for log in logs),
        anomalies=sum(r.anomalies for r in results) + sum(log.exception_count for log in logs),
        exceptions=sum(sum(r.exceptions.values()) for r in results)
        + sum(log.exception_count for log in logs),
        elapsed=time.monotonic() - start,
        done=done,
    )
