"""Exercises of lesson 03, discovering races."""

from __future__ import annotations

from goqueue.lab.exercises.catalog import CheckResult, Exercise

__all__ = ["EXERCISES"]

#: The statements of exercise 03.3, in the order the notebook lists them.
STATEMENTS = ("counter = counter + 1", "counter = abs(counter) + 1", "counter = 1 + counter")


def _check_one_thread(value: object) -> CheckResult:
    if not isinstance(value, dict) or not value:
        return False, "pass the dict that check(run_once(threads=1)) returns"
    if any(not isinstance(n, int) for n in value.values()):
        return False, f"every value of check's dict is a count; got {value!r}"
    if any(n < 0 for n in value.values()):
        return False, (
            "a negative count means check expected fewer calls than the threads made:"
            " check must take the calls from the run, not assume 4 threads"
        )
    if any(value.values()):
        return False, (
            f"{value}: with one thread nothing can interleave, so a non-zero count means"
            " check expected calls that no thread made (threads × calls must match the run)"
        )
    return True, (
        "all zero: one thread cannot race with itself; every read-modify-write finishes"
        " before the next begins, whatever the interpreter does"
    )


def _check_registrations(value: object) -> CheckResult:
    if isinstance(value, bool) or not isinstance(value, int):
        return False, f"give a whole number of registrations, got {value!r}"
    if value == 160_000:
        return True, (
            "8 threads × 20,000 calls: every register_handler call counts, even a"
            " re-registration of a known type; the lost ones are what check subtracts"
        )
    if value == 20_000:
        return False, (
            "20,000 is the number of distinct types; the counter counts calls,"
            " and each of the 8 threads registers every type"
        )
    return False, f"{value:,} is not it: count the register_handler calls all threads make"


def _check_window(value: object) -> CheckResult:
    picked = value
    if isinstance(value, str) and value.strip().lower() in ("a", "b", "c"):
        picked = STATEMENTS["abc".index(value.strip().lower())]
    elif isinstance(value, (list, tuple)) and len(value) == 1:
        picked = value[0]
    if picked == STATEMENTS[1]:
        return True, (
            "only abs(counter) puts a call between reading counter and writing it back;"
            " with the GIL a thread can switch only at calls, function entry and loop"
            " back-edges (3.10+), so only that window can be interrupted"
        )
    if isinstance(value, (list, tuple)) and len(value) > 1:
        return False, (
            "more than one picked: 1 + counter and counter + 1 have no call inside the"
            " window, so show_switch_points marks no >> between the read and the write"
        )
    return False, (
        f"{picked!r} has no switch point between the read and the write; look for the"
        " statement whose window holds a CALL marked >>"
    )


def _check_interval(value: object) -> CheckResult:
    if value == 1e-5:
        return True, (
            "a 10 µs interval asks the running thread to hand over the GIL a thousand"
            " times as often as 10 ms, so a thread is far more often caught inside a window"
        )
    if value == 1e-2:
        return False, (
            "at 10 ms a thread runs thousands of calls between switches, so it is rarely"
            " caught inside a window; more switches mean more chances to land in one"
        )
    return False, "answer with one of the two intervals the exercise runs: 1e-5 or 1e-2"


def _check_last_writer(value: object) -> CheckResult:
    if isinstance(value, bool) or not isinstance(value, int):
        return False, "give the number of interleavings that violate the invariant"
    if value == 0:
        return True, (
            "no interleaving breaks 'the handler is one of the two registered': whichever"
            " thread writes last wins, and that is allowed; this is the *interesting* grade"
        )
    return False, (
        f"{value} failing interleavings: with an invariant that accepts either thread's"
        " handler there should be none; did the invariant demand one particular thread's?"
    )


EXERCISES = (
    Exercise(
        key="03.1",
        title="One thread",
        hint="""With one thread, can another thread run between a read and the write that
follows it? Run check(run_once(threads=1)) and pass the dict to
check_answer("03.1", result).""",
        code="""\
result = check(run_once(threads=1))
print(result)
answer = result""",
        explanation="""Every number is 0. A race needs two threads inside the same window; a
single thread finishes each read-modify-write before it starts the next, so no update
can be lost and no type listed twice. (check takes the number of calls from the run
itself, so a run with any number of threads is judged against what it really did.)""",
        check=_check_one_thread,
        wrong=(
            {"lost registrations": 60_000, "lost lookups": 60_000, "types listed twice": 0},
            {"lost registrations": -80_000, "lost lookups": 0, "types listed twice": 0},
            "0",
        ),
    ),
    Exercise(
        key="03.2",
        title="More threads, more calls",
        hint="""First the number: how many register_handler calls do 8 threads make, if each
calls it 20,000 times? Then run check(run_once(threads=2)) and
check(run_once(threads=8)) a few times each and compare the columns.""",
        code="""\
answer = 8 * 20_000   # register_handler calls of an 8-thread run
for threads in (2, 8):
    for _ in range(3):
        print(threads, "threads:", check(run_once(threads=threads)))""",
        explanation="""A correct registry counts 160,000 registrations for 8 threads (every call
counts, re-registrations included). Lost registrations grow most with the thread count:
every thread increments the one shared "registrations" counter, and a thread paused
inside increment_counter for a switch interval writes back a stale count, erasing every
increment the others made meanwhile: with 7 others running that is many more than with
1. Lost lookups stay small: each type has its own lookup counter, and two threads rarely
update the same one at once. Duplicate types stay rare too: they need two threads in
the check-then-act window of the same type at the same moment. No number is ever
negative: a race loses counts, it never invents them.""",
        check=_check_registrations,
        wrong=(20_000, 80_000, "160000"),
    ),
    Exercise(
        key="03.3",
        title="Shrink the window",
        hint="""Run show_switch_points on each statement. A lost update needs a switch
point (>>) inside the window marked |, between the read of counter and its write.
Pass the statement (or its letter) to check_answer("03.3", ...).""",
        code="""\
statements = ["counter = counter + 1", "counter = abs(counter) + 1", "counter = 1 + counter"]
for statement in statements:
    show_switch_points(statement)
answer = [s for s in statements if switch_points(s).window_has_switch_point]
print(answer)""",
        explanation="""Only (b), counter = abs(counter) + 1: the call to abs lies between the
read and the write, and since Python 3.10 a thread holding the GIL hands it over only
at calls, function entry and loop back-edges. That is exactly increment_counter's
window: counts.get(key, 0) is a call. (a) and (c) have no switch point inside, so with
the GIL they lose nothing today, but no language rule promises it: Python 3.9 could
switch at any instruction, and on a free-threaded build (3.13t, 3.14t) all three lose
updates, since threads really run at the same time.""",
        check=_check_window,
        wrong=("a", ["counter = counter + 1", "counter = abs(counter) + 1"], "c"),
    ),
    Exercise(
        key="03.4",
        title="Switch interval",
        hint="""The switch interval is how long a thread may keep the GIL before it is asked
to hand it over. Which interval gives another thread more chances to run while the
first is inside a window? Answer with the interval: check_answer("03.4", 1e-5) or 1e-2.
Then think about how long a thread caught in a window stays paused at each interval.
(On a free-threaded build the interval matters little: threads run in parallel.)""",
        code="""\
for interval in (1e-5, 1e-2):
    for _ in range(3):
        run = hammer("unsafe", threads=4, seconds=0.5, trials=5, switch_interval=interval)
        print(f"{interval:g} s: {run.anomalous_trials} of 5 trials red, "
              f"{run.lost_updates} lost updates, exceptions {run.exceptions}")
answer = 1e-5""",
        explanation="""At 1e-5 s (10 µs) the running thread is asked to give up the GIL a
thousand times as often as at 1e-2 s, so threads are caught inside the registry's
windows far more often: usually more red trials and more separate events. But a
thread caught in the read-modify-write window at 1e-2 stays paused for up to 10 ms
while the others keep counting, so a single event there can erase hundreds of
increments at once: compare red trials and exceptions, not only the anomaly total.
The races are the same in both runs; only how often, and how hard, they show changes.""",
        check=_check_interval,
        wrong=(1e-2, 0.005),
    ),
    Exercise(
        key="03.5",
        title="The explorer",
        hint="""Give the two threads different handlers, e.g. with two functions. An
invariant that accepts either handler asks "is it one of the two?"; one that demands
t2's asks "did t2 write last?". Explore the first and pass its number of failing
interleavings (result.failures) to check_answer("03.5", n).""",
        code="""\
def first(ctx, payload): return 1
def second(ctx, payload): return 2

threads = [lambda r: r.register_handler("email", first),
           lambda r: r.register_handler("email", second)]
either = explore(setup, threads, lambda r: r.get_handler("email") in (first, second))
t2_wins = explore(setup, threads, lambda r: r.get_handler("email") is second)
print(either.summary(), t2_wins.summary(), sep="\\n")
answer = either.failures""",
        explanation="""Whatever the interleaving, get_handler("email") returns the handler of the
thread that wrote handlers["email"] last: "one of the two" fails in no interleaving.
Demanding t2's handler fails in every interleaving where t1 writes last: that is not a
bug, it is two registrations racing, and the last writer wins. This is what the
hammer grades *interesting*: the threads visibly overlapped, and the state is still
one a correct registry can reach.""",
        check=_check_last_writer,
        wrong=(3, "0"),
    ),
)
