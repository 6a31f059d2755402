"""Exercises of lesson 01, the synchronous queue."""

from __future__ import annotations

from goqueue.lab.exercises.catalog import CheckResult, Exercise

__all__ = ["EXERCISES"]


def _status_name(value: object) -> str:
    """``JobStatus.FAILED`` or ``"failed"`` -> ``"failed"``; anything else -> its repr."""
    name = getattr(value, "value", value)
    return name.lower() if isinstance(name, str) else repr(value)


def _check_twenty_jobs(value: object) -> CheckResult:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False, f"give the measured time in seconds, as a number; got {value!r}"
    if value < 1.0:
        return False, (
            f"{value:.2f} s is less than 20 × 0.05 s = 1.0 s: one job at a time cannot beat"
            " the sum of the jobs; did every submit run a 0.05 s job?"
        )
    if value > 2.0:
        return False, (
            f"{value:.2f} s is far above the 1.0 s of work; the queue adds well under a"
            " millisecond per job, so check the handler sleeps 0.05 s, not 0.1 s"
        )
    return True, (
        f"{value:.2f} s: 20 × 0.05 s = 1.0 s of waiting, one job after another, plus a"
        " little overhead; the same 1 s as ten 0.1 s jobs"
    )


def _check_retries(value: object) -> CheckResult:
    if not isinstance(value, tuple) or len(value) != 2:
        return False, "give a pair: (status with max_retry=1, status with max_retry=2)"
    once, twice = (_status_name(v) for v in value)
    if (once, twice) == ("failed", "completed"):
        return True, (
            "with one attempt allowed, the first failure is final (failed, error kept);"
            " with two, the retry succeeds (completed)"
        )
    if once == "completed":
        return False, (
            "max_retry counts attempts: max_retry=1 allows the first attempt only, and"
            " that one raises, so the job cannot complete"
        )
    return False, (
        f"got ({once}, {twice}): with max_retry=2 the handler runs a second time,"
        " and the second attempt succeeds"
    )


def _check_cancel_running(value: object) -> CheckResult:
    name = value if isinstance(value, str) else getattr(value, "__name__", type(value).__name__)
    if name == "InvalidTransition":
        return True, (
            "processing -> cancelled is not an arrow of the state machine: a running job"
            " is in a handler's hands, and only the handler can end it"
        )
    return False, (
        f"{name} is not it: cancel() on a running job raises the error the job raises for"
        " every move the state machine does not allow"
    )


def _check_copies(value: object) -> CheckResult:
    if value is False:
        return True, "each get_job returns a fresh copy, so changing one leaves the other alone"
    if value is True:
        return False, (
            "run it: the second copy keeps the stored payload, because the storage copies"
            " every job it hands out"
        )
    return False, f"answer True or False (does the second copy change?), got {value!r}"


EXERCISES = (
    Exercise(
        key="01.1",
        title="Predict, then measure",
        hint="""The synchronous queue runs one job at a time, in the caller's thread.
So the total is at least the sum of the jobs' times. Measure with
time.perf_counter() around the submits, as the timing cell does, and pass the
seconds to check_answer("01.1", seconds).""",
        code="""\
def short_email(ctx, payload):
    time.sleep(0.05)

queue = SyncQueue()
queue.register_handler("short_email", short_email)
start = time.perf_counter()
jobs = [queue.submit_job("short_email", {"n": n}) for n in range(20)]
answer = time.perf_counter() - start
print(f"20 jobs in {answer:.2f} s")""",
        explanation="""20 × 0.05 s = 1.0 s, the same total as ten 0.1 s jobs: a synchronous
queue's time is the sum of its jobs, whatever their sizes. The measurement lands a
few milliseconds above 1.0 s (the queue's own work), never below.""",
        check=_check_twenty_jobs,
        wrong=(0.05, 0.5, 5.0, "1 s"),
    ),
    Exercise(
        key="01.2",
        title="Retries",
        hint="""ctx.attempt is 1 on the first attempt. max_retry counts attempts in
total, not retries: max_retry=1 means one attempt. Answer with the pair of final
statuses, e.g. check_answer("01.2", (first.status, second.status)).""",
        code="""\
def flaky_once(ctx, payload):
    if ctx.attempt == 1:
        raise ConnectionError("smtp down")

queue = SyncQueue()
queue.register_handler("flaky", flaky_once)
first = queue.submit_job("flaky", max_retry=1)
second = queue.submit_job("flaky", max_retry=2)
print(first.status, repr(first.error), "|", second.status, second.attempts, second.error)
answer = (first.status, second.status)""",
        explanation="""With max_retry=1 the only attempt raises, and the job ends failed
with error 'ConnectionError: smtp down'. With max_retry=2 the failure sends the job
back to pending, the second attempt succeeds, and it ends completed after 2
attempts with error None: a completed job carries no error.""",
        check=_check_retries,
        wrong=(("completed", "completed"), ("failed", "failed"), "failed"),
    ),
    Exercise(
        key="01.3",
        title="The state machine",
        hint="""Look for an arrow from processing to cancelled in the drawing, and
at what JobStatus.PROCESSING.next_statuses() says. Pass the exception you get
(its class, or its name) to check_answer("01.3", ...).""",
        code="""\
job = Job(type="email")
job.mark_running()
try:
    job.cancel()
except InvalidTransition as e:
    print(f"{type(e).__name__}: {e}")
    answer = type(e)""",
        explanation="""cancel() raises InvalidTransition: processing -> cancelled is not an
arrow. A pending job is only data, and cancelling it is one status change. A running
job is inside a handler in some thread, halfway through sending an email; changing
its status would not stop the handler. The queue can only ask the handler to stop
(ctx.cancelled, notebook 02) and let it finish as completed or failed.""",
        check=_check_cancel_running,
        wrong=("ValueError", RuntimeError),
    ),
    Exercise(
        key="01.4",
        title="Copies",
        hint="""The storage copies every job it hands out, not only the ones it is
given. Does the second copy change? Answer True or False.""",
        code="""\
storage = MemoryStorage()
saved = Job(type="email", payload={"to": "ada@example.com"})
storage.save_job(saved)
one, two = storage.get_job(saved.id), storage.get_job(saved.id)
one.payload["to"] = "mallory@example.com"
print(two.payload)
answer = two.payload["to"] != "ada@example.com"   # did the second one change?""",
        explanation="""The second copy still says ada: each get_job returns a fresh copy.
If the storage returned its own object instead, the caller and a worker thread would
share it: the worker changes status and attempts while the caller reads them, with
no lock on the job's fields, so the caller can see a half-made change (a status
without its attempt count) or overwrite the worker's update. That is the Go
original's data race, which no lock on the registry can fix.""",
        check=_check_copies,
        wrong=(True, "no"),
    ),
)
