"""Exercises of lesson 04, locks and readers-writer locks."""

from __future__ import annotations

from goqueue.lab.exercises.catalog import CheckResult, Exercise

__all__ = ["EXERCISES"]

#: Lookups the threads of exercise 04.1 make: 4 threads × 50,000.
LOOKUPS_MADE = 4 * 50_000


def _check_lost_lookups(value: object) -> CheckResult:
    if isinstance(value, bool) or not isinstance(value, int):
        return False, f"give the number of lost lookups, a whole number; got {value!r}"
    if value < 0:
        return False, (
            "a negative loss means more lookups were counted than made: compare the"
            f" counter with the {LOOKUPS_MADE:,} lookups the threads really made"
        )
    if value > LOOKUPS_MADE:
        return False, f"more than the {LOOKUPS_MADE:,} lookups made cannot be lost"
    if value == 0:
        return False, (
            "0 lost: is increment_counter really after the with block? If it is, the"
            " switch interval hid the race: at the default 5 ms about one run in four"
            " loses nothing; with sys.setswitchinterval(1e-5), as in the solution, every"
            " run loses lookups"
        )
    return True, (
        f"{value:,} lookups lost: the counter's read-modify-write is outside the lock, so"
        " two lookups can both read the same count; registrations and the order list"
        " are still under the lock, so only the lookup counts go wrong"
    )


def _check_bound(value: object) -> CheckResult:
    if isinstance(value, bool) or not isinstance(value, int):
        return False, f"give a whole number of writes, got {value!r}"
    if value == 1:
        return True, (
            "one: a reader that arrives while a writer waits queues behind that writer, and"
            " when it leaves, every waiting reader goes in before the next writer"
        )
    if value == 0:
        return False, (
            "0 is what most runs show, not the bound: a reader that arrives while a writer"
            " is waiting (not yet inside) queues behind it, so that one write begins first"
        )
    return False, (
        f"{value} is too many: a leaving writer lets every waiting reader in before the"
        " next writer, however many writers are queued"
    )


def _check_upgrade(value: object) -> CheckResult:
    if isinstance(value, BaseException):
        value = type(value)
    name = value if isinstance(value, str) else getattr(value, "__name__", repr(value))
    if name == "RuntimeError" or "cannot upgrade a read lock" in name:
        return True, (
            "RWLock refuses at once (RuntimeError: cannot upgrade a read lock to a write"
            " lock) instead of waiting for a read lock that only this thread can release"
        )
    return False, (
        f"{name} is not what goqueue.RWLock raises; run it and pass the exception's class"
    )


EXERCISES = (
    Exercise(
        key="04.1",
        title="Too little lock",
        hint="""Copy OneLockRegistry.get_handler (changed_lines printed it) and move the
increment_counter line out of the with block. Then have four threads look up ONE type in
a tight loop. The race window is two steps wide, so at the default switch interval (5 ms)
about one run in four loses nothing; sys.setswitchinterval(1e-5) switches threads far
more often, and then every run loses lookups. (The lab's hammer spreads its lookups over
many types, so there it shows even less.)""",
        code="""\
import sys

class TooLittleLock(OneLockRegistry):
    def get_handler(self, job_type):
        with self._lock:
            handler = self._handlers[job_type]
        self.increment_counter("lookups:" + job_type)   # outside the lock
        return handler

def look_up(registry, barrier, calls=50_000):
    barrier.wait()
    for _ in range(calls):
        registry.get_handler("email")

def lost_lookups(registry_class, threads=4, calls=50_000):
    registry, barrier = registry_class(), threading.Barrier(threads)
    registry.register_handler("email", print)
    workers = [threading.Thread(target=look_up, args=(registry, barrier, calls))
               for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return threads * calls - registry.statistics().lookups["email"]

# What makes the race visible: threads switched every 10 us instead of every 5 ms, so a
# switch often lands between the counter's read and its write (at 5 ms, about one run in
# four loses nothing).
default = sys.getswitchinterval()
sys.setswitchinterval(1e-5)
try:
    runs = [lost_lookups(TooLittleLock) for _ in range(3)]
    locked = lost_lookups(OneLockRegistry)
finally:
    sys.setswitchinterval(default)
print("lost per run:", runs, "| with the lock held throughout:", locked)
answer = max(runs)
""",
        explanation="""Lookups are lost, often tens of thousands of them, and nothing else goes
wrong: the dict lookup, the registrations and the order list are still under the lock.
increment_counter reads the count (counts.get is a call, so a switch point), adds one
and writes it back; with the lock released before it, two threads can read the same
count and write back the same number. A lock protects only what runs while it is held.
How often it shows depends on how often threads switch: the solution switches them every
10 microseconds (sys.setswitchinterval), where the default 5 ms leaves about one run in
four with no loss at all. (With the lab's hammer the loss is rare: its lookups spread
over many types, so two threads seldom update the same counter at once. On a
free-threaded build it loses lookups at any setting.)""",
        check=_check_lost_lookups,
        wrong=(0, -5, 10**9),
    ),
    Exercise(
        key="04.2",
        title="The wrong lock for counters",
        hint="""Readers hold the read lock together. Write the two lookups' steps side by
side: t1 reads counts[k], t2 reads counts[k], ... For register_handler: what else does
it hold while it updates the counter, and who else could be inside at that moment?""",
        code="""\
print(changed_lines(UnsafeRegistry.register_handler, LockedRegistry.register_handler))""",
        explanation="""Two lookups both hold the read lock (that is what a read lock is for):
t1 reads counts[k] = 5, t2 reads 5, t1 writes 6, t2 writes 6. Two lookups, one
increment: the read lock excludes writers, not other readers. In register_handler the
thread holds the WRITE lock, so no other registration can run at the same time, and only
registrations touch the "registrations" counter: that update cannot be lost, lock or
not. The counters' lock is taken anyway because the rule "every access to the counts
goes through one lock" is easy to check and stays true when the code changes (lookups
update their counters under it after leaving the read lock, so a registration and a
lookup can be touching the counts at the same moment). It is always taken after the
RWLock, never before, so the two locks cannot deadlock.""",
    ),
    Exercise(
        key="04.3",
        title="Writer streams",
        hint="""reader_starvation_demo(RWLock, writers=5).writes_while_reader_waited counts the
writes that began while the reader waited. Think about a reader that arrives while one
writer is inside and another is already waiting, and one that arrives just after a
writer left while the next one is waiting but not yet inside.""",
        code="""\
most = 0
for writers in (2, 5):
    for _ in range(3):
        run = reader_starvation_demo(RWLock, writers=writers, seconds=0.1, hold=0.001)
        most = max(most, run.writes_while_reader_waited)
print("most writes begun while the reader waited, in 6 runs:", most)
answer = 1   # the bound; runs show 0 or 1""",
        explanation="""At most one. A reader that arrives while a writer is inside waits for it,
and when that writer leaves, the reader goes in before the next writer: no write begins
during its wait (most runs show 0). A reader that arrives while a writer is waiting but
not yet inside queues behind that one writer, which begins first: 1. The number of
writers does not matter, because a leaving writer always lets every waiting reader in
first. Under WriterPreferringRWLock the count grows with the length of the stream.""",
        check=_check_bound,
        wrong=(0, 5, "1"),
    ),
    Exercise(
        key="04.4",
        title="Upgrades",
        hint="""Use acquire_write(timeout=1) so that a lock that did wait could not hang the
notebook. Then imagine two threads, each holding a read lock, each asking for the write
lock: what is each one waiting for?""",
        code="""\
lock = RWLock()
with lock.read_lock():
    try:
        lock.acquire_write(timeout=1)
    except RuntimeError as e:
        print(f"{type(e).__name__}: {e}")
        answer = type(e)""",
        explanation="""RWLock raises RuntimeError: cannot upgrade a read lock to a write lock. A
writer must wait until no reader is inside. If two threads each hold a read lock and
each asks for the write lock, each waits for the other to release its read lock, which
it will never do while it waits: a deadlock. Go's RWMutex does not check, and such a
program simply hangs. To upgrade, release the read lock, take the write lock, and check
again what you read, since another writer may have changed it in between.""",
        check=_check_upgrade,
        wrong=("TimeoutError", ValueError),
    ),
)
