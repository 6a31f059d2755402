"""Exercises of lesson 08, deterministic races (the explorer, the puzzle, the detector)."""

from __future__ import annotations

from collections.abc import Sequence

from goqueue.lab.exercises.catalog import CheckResult, Exercise
from goqueue.lab.interleavings.explore import replay
from goqueue.lab.interleavings.instrumented import SharedDict, SharedList
from goqueue.lab.specimens.registries import UnsafeRegistry

__all__ = ["EXERCISES"]

#: Interleavings of three workers registering ``sms`` with at most one preemption, and
#: how many of them break the registry (counted by ``explore``; solution 08.1 recounts).
THREE_WORKERS_ONE_PREEMPTION = (72, 42)


def _check_three_workers(value: object) -> CheckResult:
    total, failing = THREE_WORKERS_ONE_PREEMPTION
    if isinstance(value, bool) or not isinstance(value, int):
        return False, f"give the number of failing interleavings, a whole number; got {value!r}"
    if value == failing:
        return True, (
            f"{failing} of {total}: one preemption is enough to break the registry with three"
            " workers as with two, and the bounded search answers in a fraction of a second"
        )
    if value == total:
        return False, f"{total} is every interleaving with at most one preemption; how many fail?"
    if value in (6, 10):
        return False, f"{value} is the two-worker count; this scenario has three workers"
    return False, (
        f"{value} is not what explore(..., preemption_bound=1) counts for three workers;"
        " does your invariant expect 3 registrations?"
    )


def _check_insert_step(value: object) -> CheckResult:
    text = value if isinstance(value, str) else ""
    if "write handlers['email']" in text or text.strip() == "handlers['email']":
        return True, (
            "the insert of 'email' changes the dict's size; the reader had already taken"
            " 'sms' from its iterator, so its next step finds the dict changed and raises"
        )
    if "order" in text or "check" in text:
        return False, (
            "that step does not change handlers: checking a key reads it, and the order"
            " list is a different object from the dict being iterated"
        )
    if "counts" in text:
        return False, "counts is a different dict; the reader iterates handlers"
    return False, (
        f"{value!r}: copy the writer's step from the timeline, as it is printed, e.g."
        " \"check 'email' in handlers\""
    )


def _puzzle_registry() -> UnsafeRegistry:
    return UnsafeRegistry(
        handlers=SharedDict("handlers"), order=SharedList("order"), counts=SharedDict("counts")
    )


def _register_sms(registry: UnsafeRegistry) -> None:
    registry.register_handler("sms", print)


def _check_twice_and_counted(value: object) -> CheckResult:
    if isinstance(value, str) or not isinstance(value, Sequence):
        return False, (
            "give the schedule, a list of thread names ('worker-1', 'worker-2') one per step,"
            f" e.g. result.first_failure.schedule; got {value!r}"
        )
    threads = {"worker-1": _register_sms, "worker-2": _register_sms}
    try:
        execution = replay(_puzzle_registry, threads, [str(name) for name in value])
    except ValueError as exc:
        return False, f"that schedule cannot be run: {exc}"
    state = execution.final_state
    twice = "order=['sms', 'sms']" in state
    counted = "counts={'registrations': 2}" in state
    if twice and counted:
        return True, (
            "both workers checked 'sms' before either stored it (check-then-act), and each"
            " read and wrote the counter without the other in between: " + state
        )
    if twice:
        return False, "sms is listed twice, but one registration was lost: " + state
    if counted:
        return False, "both registrations counted, but sms is listed once: " + state
    return False, "neither: this order is one of the harmless ones: " + state


def _check_false_alarm(value: object) -> CheckResult:
    locations = [value] if isinstance(value, str) else value
    if not isinstance(locations, (list, tuple, set)) or not locations:
        return False, f"give the reported location(s), e.g. race.location; got {value!r}"
    if all(isinstance(loc, str) and loc.startswith("counts") for loc in locations):
        return True, (
            "the lookup counter: two readers update it under the counters' lock, a plain"
            " threading.Lock the detector cannot see, so to it the updates look unordered"
        )
    return False, (
        f"{value!r}: the handlers dict is read under the instrumented RWLock, which the"
        " detector sees; which updates are guarded by a lock it does not see?"
    )


def _check_one_lock_order(value: object) -> CheckResult:
    if not isinstance(value, tuple) or len(value) != 2:
        return False, "give a pair: (result.schedules, result.deadlocks)"
    if value == (2, 0):
        return True, (
            "2 interleavings, no deadlock: whoever takes lock_a first also gets lock_b, and"
            " the other waits at lock_a holding nothing, so no cycle of waits can form"
        )
    if value[1] != 0:
        return False, (
            "with one lock order no thread holds one lock while it waits for the other:"
            " count the deadlocks again"
        )
    return False, (
        f"{value[0]!r} interleavings: a thread blocked at lock_a takes no step until it is"
        " free, which leaves only 'the first thread first' and 'the second first'"
    )


EXERCISES = (
    Exercise(
        key="08.1",
        title="Three workers",
        hint="""Make the workers dict with three entries, and an invariant that expects
3 registrations. Start from preemption_bound=0, then 1, then 2: each bound answers in
well under a second. Give the number of failing interleavings with bound 1:
check_answer("08.1", result.failures).""",
        code="""\
def consistent3(registry):
    stats = registry.statistics()
    return stats.registrations == 3 and list(stats.order) == ["sms"]

three = {f"worker-{n}": worker for n in (1, 2, 3)}
for bound in (0, 1, 2):
    bounded = explore(new_registry, three, consistent3, preemption_bound=bound)
    print(f"bound {bound}: {bounded.summary()}")
    if bound == 1:
        answer = bounded.failures""",
        explanation="""With at most one preemption there are 72 interleavings, 42 of them
broken; with two, 570 (420 broken); bound 3 gives 3,102 in a couple of seconds. The
unbounded search is another matter: each worker takes 4 or 5 steps, and three threads
of 5 steps have up to 15! / (5! 5! 5!) = 756,756 interleavings. At about a millisecond
each (every schedule re-runs the scenario in real threads), that is many minutes, and
explore() stops at its cap of 100,000 with no exact answer. The bound finds the bugs
in a fraction of that: CHESS's observation that most concurrency bugs need one or two
preemptions.""",
        check=_check_three_workers,
        wrong=(6, 72, 226),
    ),
    Exercise(
        key="08.2",
        title="A snapshot while registering",
        hint="""Register sms in the setup function (before the threads start), so the
reader has a key to iterate. Reader: registry.handlers_snapshot(); writer:
registry.register_handler("email", send_sms). explore() keeps the shortest failing
schedule in result.first_failure. In its timeline, after which of the writer's steps
does the reader's next step raise? check_answer("08.2", "that step, as printed").""",
        code="""\
def registry_with_sms():
    registry = new_registry()
    registry.register_handler("sms", send_sms)
    return registry

def reader(registry):
    registry.handlers_snapshot()

def writer(registry):
    registry.register_handler("email", send_sms)

snap = explore(registry_with_sms, {"reader": reader, "writer": writer})
print(snap.summary())
print(snap.first_failure.timeline())
inserts = [step.text for step in snap.first_failure.steps
           if step.thread == "writer" and step.text.startswith("write handlers")]
answer = inserts[0]""",
        explanation="""Read the reader's column: its first step, `iterate handlers ->
'sms'`, creates the dict's iterator and takes the first key; then it reads
handlers['sms'] into the copy. Before its next iteration step the writer registers
email, and its third step, `write handlers['email'] = send_sms`, inserts a key: the
dict's size changes under the live iterator. The reader's next `iterate handlers`
raises RuntimeError. The insert is the step that matters; the writer's check, its
append to order (another object) and its counter steps (another dict) are harmless to
the reader. An iteration that starts after the insert has finished never raises: the
window is the whole loop, from its first step to its last.""",
        check=_check_insert_step,
        wrong=("append 'email' to order", "write counts['registrations'] = 2", 3),
    ),
    Exercise(
        key="08.3",
        title="Listed twice, counted twice",
        hint="""Both workers must pass the check `'sms' in handlers` before either
writes handlers['sms']; and each worker's read and write of the counter must not
have the other's in between. You can also let explore() find one: an invariant that
is False exactly for such a final state makes it the 'failure'. Give the schedule:
check_answer("08.3", schedule).""",
        code="""\
def not_both(registry):
    stats = registry.statistics()
    return not (stats.registrations == 2 and list(stats.order) == ["sms", "sms"])

wanted = explore(new_registry, {"worker-1": worker, "worker-2": worker}, not_both)
print(wanted.first_failure.timeline())
answer = wanted.first_failure.schedule""",
        explanation="""A schedule such as worker-1 checks and appends, worker-2 runs its
whole registration, then worker-1 writes the handler and updates the counter. Both
checks come before either write of handlers['sms'] (check-then-act: sms is appended
twice), while the two counter updates do not overlap (each read-then-write finishes
before the other begins: both counted). The puzzle's two kinds of damage come from
two different windows, so a schedule can open one and keep the other shut. The
explorer finds 90 such orders of 240.""",
        check=_check_twice_and_counted,
        wrong=(["worker-1"] * 5 + ["worker-2"] * 5, "worker-1", ["nobody"]),
    ),
    Exercise(
        key="08.4",
        title="A false alarm",
        hint="""Leave out counts_lock=SharedLock(...) (LockedRegistry then makes a plain
threading.Lock for its counters), register sms in the setup, and run the detector on
two threads that each call registry.get_handler("sms"), with replay(..., []). Which
location does it report? check_answer("08.4", race.location).""",
        code="""\
def half_instrumented():
    registry = LockedRegistry(handlers=SharedDict("handlers"), order=SharedList("order"),
                              counts=SharedDict("counts"), lock=SharedRWLock("lock"))
    registry.register_handler("sms", send_sms)
    return registry

def lookup(registry):
    registry.get_handler("sms")

with race_detector() as detector:
    replay(half_instrumented, {"worker-1": lookup, "worker-2": lookup}, [])
print(detector.report())
answer = sorted({race.location for race in detector.races})""",
        explanation="""It reports counts['lookups:sms']: both lookups update the counter,
and the detector sees no order between the updates. But there is one: the counters'
plain threading.Lock, which the detector cannot see, because it only tracks the
instrumented objects. The handlers dict is read under the instrumented RWLock, so
those reads are fine. A happens-before detector reports what it cannot prove
ordered: every synchronisation it is not told about makes a false alarm (Go's
detector has the same limit with synchronisation outside Go's own primitives, such
as shared memory with another process).""",
        check=_check_false_alarm,
        wrong=("handlers['sms']", ["order"], []),
    ),
    Exercise(
        key="08.5",
        title="One lock order",
        hint="""Make both threads forward (or write backward with locks[0] first), and
explore again. Give the pair check_answer("08.5", (result.schedules,
result.deadlocks)).""",
        code="""\
same = explore(lambda: (SharedLock("lock_a"), SharedLock("lock_b")), [forward, forward])
print(same)
answer = (same.schedules, same.deadlocks)""",
        explanation="""Two interleavings remain, and neither deadlocks. Whoever takes
lock_a first goes on to take lock_b; the other thread waits at lock_a while holding
nothing, so no thread ever holds one lock while waiting for the other's: a cycle of
waits, the one thing a deadlock needs, cannot form. One global lock order is the
standard cure (Linux's lockdep checks it at run time).""",
        check=_check_one_lock_order,
        wrong=((6, 2), (6, 0), 2),
    ),
)
