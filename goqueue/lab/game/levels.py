"""The levels of "you are the scheduler": real Python threads, a goal, a win the engine checks.

A ``Level`` is a scenario (``goqueue.lab.interleavings.model.Scenario``) whose *failure* is
the player's win: an invariant broken, a thread that raised, or a deadlock. Its threads are
the small functions below, shown to the player line by line. Every step is an access to an
instrumented object (a dict, a list, a lock), so the explorer can count every schedule
that wins (``goqueue.lab.game.tally``).

The levels go from one line that is two steps to a lock order that deadlocks, and end with
code that is locked right: the explorer proves that no schedule breaks it.

>>> [level.key for level in LEVELS][:3]
['lost-update', 'listed-twice', 'changed-size']
>>> find_level(1) is find_level("lost-update")
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from goqueue.lab.game.reader_lock import SharedReaderPreferringLock
from goqueue.lab.interleavings.instrumented import SharedDict, SharedList, SharedVars
from goqueue.lab.interleavings.model import Scenario
from goqueue.lab.interleavings.shared_locks import SharedLock
from goqueue.lab.interleavings.shared_waits import SharedCondition

__all__ = ["LEVELS", "WIN_KINDS", "Level", "find_level"]

#: What a level's win is: the invariant broken, a thread raised, or every thread blocked.
WIN_KINDS = ("violated", "error", "deadlock")


@dataclass(frozen=True)
class Level:
    """One level: the code, the goal, and how the engine tells a win.

    Attributes:
        key: a short name (``lost-update``); ``number`` is its place in ``LEVELS``, from 1.
        title: the heading. goal: what the player must make happen, in one sentence.
        hint: a nudge for a stuck player. lesson: what a win shows, read after winning.
        win: the ``Execution.status`` that wins (one of ``WIN_KINDS``).
        build: makes the scenario: shared state, threads, invariant (False means won).
        winning: a schedule that wins, for tests and for "show me".
        breakable: False for the level no schedule can win.
    """

    key: str
    title: str
    goal: str
    hint: str
    lesson: str
    win: str
    build: Callable[[], Scenario[Any]]
    winning: tuple[str, ...] = ()
    breakable: bool = True

    @property
    def number(self) -> int:
        """1, 2, ...: the order in which levels unlock."""
        return LEVELS.index(self) + 1

    def scenario(self) -> Scenario[Any]:
        """A fresh scenario of this level."""
        return self.build()


# -- 1. one line, two steps ------------------------------------------------------------


def count_sms(shared: Any) -> None:
    counts = shared.counts
    counts["sms"] = counts.get("sms", 0) + 1


def _lost_update() -> Scenario[Any]:
    return Scenario.of(
        lambda: SimpleNamespace(counts=SharedDict("counts")),
        {"t1": count_sms, "t2": count_sms},
        lambda shared: shared.counts["sms"] == 2,
    )


# -- 2. check, then act ----------------------------------------------------------------


def send_sms(ctx: object, payload: object) -> None:
    """A handler (registered, never run)."""


def register_sms(shared: Any) -> None:
    if "sms" not in shared.handlers:
        shared.order.append("sms")
    shared.handlers["sms"] = send_sms


def _listed_twice() -> Scenario[Any]:
    return Scenario.of(
        lambda: SimpleNamespace(handlers=SharedDict("handlers"), order=SharedList("order")),
        {"t1": register_sms, "t2": register_sms},
        lambda shared: list(shared.order) == ["sms"],
    )


# -- 3. a dict that changes size while a loop walks it --------------------------------


def send_email(ctx: object, payload: object) -> None:
    """A handler (registered, never run)."""


def send_push(ctx: object, payload: object) -> None:
    """A handler (registered, never run)."""


def list_types(shared: Any) -> None:
    names = []
    for job_type in shared.handlers:
        names.append(job_type)


def register_email(shared: Any) -> None:
    shared.handlers["email"] = send_email


def _changed_size() -> Scenario[Any]:
    return Scenario.of(
        lambda: SimpleNamespace(
            handlers=SharedDict("handlers", {"sms": send_sms, "push": send_push})
        ),
        {"lister": list_types, "registrar": register_email},
    )


# -- 4. the job every thread may change (the Go tutorial's shared *Job) -----------------


def run_job(shared: Any) -> None:
    job = shared.job
    if job.status == "pending":
        job.status = "processing"
        job.attempts += 1
        job.status = "completed"


def cancel_job(shared: Any) -> None:
    job = shared.job
    if job.status == "pending":
        job.status = "cancelled"


def _job_ran_and_cancelled(shared: Any) -> bool:
    job = shared.job
    return not (job.status == "cancelled" and job.attempts == 1)


def _cancelled_after_run() -> Scenario[Any]:
    return Scenario.of(
        lambda: SimpleNamespace(job=SharedVars("job", status="pending", attempts=0)),
        {"worker": run_job, "canceller": cancel_job},
        _job_ran_and_cancelled,
    )


# -- 5. a lock around half the window ---------------------------------------------------


def count_sms_half_locked(shared: Any) -> None:
    with shared.lock:
        seen = shared.counts.get("sms", 0)
    shared.counts["sms"] = seen + 1


def _half_locked() -> Scenario[Any]:
    return Scenario.of(
        lambda: SimpleNamespace(lock=SharedLock("lock"), counts=SharedDict("counts")),
        {"t1": count_sms_half_locked, "t2": count_sms_half_locked},
        lambda shared: shared.counts["sms"] == 2,
    )


# -- 6. two locks taken in opposite orders ---------------------------------------------


def move_a_to_b(shared: Any) -> None:
    with shared.lock_a, shared.lock_b:
        shared.moves.append("a->b")


def move_b_to_a(shared: Any) -> None:
    with shared.lock_b, shared.lock_a:
        shared.moves.append("b->a")


def _lock_order() -> Scenario[Any]:
    return Scenario.of(
        lambda: SimpleNamespace(
            lock_a=SharedLock("lock_a"), lock_b=SharedLock("lock_b"), moves=SharedList("moves")
        ),
        {"t1": move_a_to_b, "t2": move_b_to_a},
    )


# -- 7. a wake-up meant for somebody else: `if` where `while` belongs ------------------


def take_job(shared: Any) -> None:
    with shared.ready:
        if not shared.jobs:
            shared.ready.wait()
        shared.jobs.pop()


def add_jobs(shared: Any) -> None:
    for job in ("a", "b"):
        with shared.ready:
            shared.jobs.append(job)
            shared.ready.notify()


def _if_not_while() -> Scenario[Any]:
    return Scenario.of(
        lambda: SimpleNamespace(ready=SharedCondition(name="ready"), jobs=SharedList("jobs")),
        {"c1": take_job, "c2": take_job, "producer": add_jobs},
    )


# -- 8. a reader-preferring lock starves its writer -------------------------------------


def read_report(shared: Any) -> None:
    shared.lock.acquire_read()
    # ... read the report ...
    shared.lock.release_read()


def write_report(shared: Any) -> None:
    shared.lock.acquire_write()
    # ... write the report ...
    shared.lock.release_write()


def _writer_starves() -> Scenario[Any]:
    return Scenario.of(
        lambda: SimpleNamespace(lock=SharedReaderPreferringLock("lock")),
        {"writer": write_report, "r1": read_report, "r2": read_report, "r3": read_report},
        lambda shared: shared.lock.readers_passed < 2,
    )


# -- 9. locked right: nothing to win ----------------------------------------------------


def count_sms_locked(shared: Any) -> None:
    counts = shared.counts
    step = shared.settings["step"]
    with shared.lock:
        counts["sms"] = counts.get("sms", 0) + step


def _locked_right() -> Scenario[Any]:
    return Scenario.of(
        lambda: SimpleNamespace(
            settings=SharedDict("settings", {"step": 1}),
            lock=SharedLock("lock"),
            counts=SharedDict("counts"),
        ),
        {"t1": count_sms_locked, "t2": count_sms_locked, "t3": count_sms_locked},
        lambda shared: shared.counts["sms"] == 3,
    )


LEVELS: tuple[Level, ...] = (
    Level(
        "lost-update",
        "One line, two steps",
        "Make the count end at 1 although both threads counted.",
        "A line that reads and writes is two steps: who reads before the other writes?",
        "counts['sms'] = counts.get('sms', 0) + 1 reads, then writes. Both threads read 0, "
        "both write 1: one update is lost.",
        "violated",
        _lost_update,
        winning=("t1", "t2", "t1", "t2"),
    ),
    Level(
        "listed-twice",
        "Check, then act",
        "Make 'sms' appear twice in the registration order.",
        "The check ('sms' not in handlers) and the act (append) are separate steps.",
        "Both threads checked before either registered, so both appended: a check is only "
        "true until another thread acts on the same thing.",
        "violated",
        _listed_twice,
        winning=("t1", "t2", "t1", "t2", "t2", "t1"),
    ),
    Level(
        "changed-size",
        "Changed size during iteration",
        "Make the lister's loop raise RuntimeError.",
        "A for loop over a dict takes one step per key: insert while it walks.",
        "A dict iterator checks the dict's size at every step; an insert from another "
        "thread between two steps breaks the loop. Copy under a lock, then iterate.",
        "error",
        _changed_size,
        winning=("lister", "registrar", "lister"),
    ),
    Level(
        "cancelled-after-run",
        "The shared job",
        "Make the job run and still end up cancelled.",
        "The canceller checks the status, then writes it: what if the job runs in between?",
        "Worker and canceller change one Job object with no lock, as the Go tutorial's "
        "workers change the *Job its caller holds. Each check is stale by the time it acts.",
        "violated",
        _cancelled_after_run,
        winning=("canceller", "worker", "worker", "worker", "worker", "worker", "canceller"),
    ),
    Level(
        "half-locked",
        "Too little lock",
        "Lose an update although the read is under the lock.",
        "The lock covers the read, not the write: where can the other thread slip in?",
        "A lock protects the whole read-modify-write or nothing: the window runs from the "
        "read to the write, and this lock closes only half of it.",
        "violated",
        _half_locked,
        winning=("t1", "t1", "t1", "t2", "t2", "t2", "t1", "t2"),
    ),
    Level(
        "lock-order",
        "The deadly embrace",
        "Get both threads stuck for ever.",
        "Each thread takes two locks, in opposite orders.",
        "t1 holds lock_a and waits for lock_b; t2 holds lock_b and waits for lock_a. Take "
        "locks in one global order and this cycle cannot form.",
        "deadlock",
        _lock_order,
        winning=("t1", "t2"),
    ),
    Level(
        "if-not-while",
        "The wake-up that was not yours",
        "Make a consumer pop from an empty list although it waited for a job.",
        "While a woken consumer waits to take the lock back, who else may get in first?",
        "A notify only says 'something changed'. Between the notify and the woken thread "
        "taking the lock back, another consumer took the job; with `if` the woken one does "
        "not look again. Wait in a `while` loop (or use wait_for).",
        "error",
        _if_not_while,
        winning=("c1",) * 3 + ("producer",) * 4 + ("c2",) * 5 + ("c1",) * 3 + ("producer",) * 4,
    ),
    Level(
        "writer-starves",
        "The writer who waits for ever",
        "Keep the writer waiting while two readers walk past it into the lock.",
        "This lock lets a reader in whenever readers are inside, even if a writer waits.",
        "A reader-preferring lock lets readers relay: while one is inside, the next gets in, "
        "and the writer waits as long as they keep coming. goqueue.RWLock holds new readers "
        "back while a writer waits.",
        "violated",
        _writer_starves,
        winning=("r1", "r2", "r1", "r3", "r3", "r2", "writer", "writer"),
    ),
    Level(
        "locked-right",
        "Locked right",
        "Try to make the count anything but 3.",
        "There is no way: the explorer has tried every schedule.",
        "With the whole read-modify-write under one lock, every schedule ends at 3; the "
        "unlocked read of settings is safe because nobody writes settings.",
        "violated",
        _locked_right,
        breakable=False,
    ),
)


def find_level(which: int | str) -> Level:
    """The level with this number or key.

    Raises:
        KeyError: no such level.
    """
    for level in LEVELS:
        if which in (level.number, level.key):
            return level
    raise KeyError(f"no level {which!r}; levels: {', '.join(lv.key for lv in LEVELS)}")
