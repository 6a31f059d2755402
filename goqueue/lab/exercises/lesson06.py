"""Exercises of lesson 06, retry with backoff."""

from __future__ import annotations

import math

from goqueue.lab.exercises.catalog import CheckResult, Exercise

__all__ = ["EXERCISES"]


def _status_name(value: object) -> str:
    """``JobStatus.FAILED`` or ``"failed"`` -> ``"failed"``; anything else -> its repr."""
    name = getattr(value, "value", value)
    return name.lower() if isinstance(name, str) else repr(value)


def _check_out_of_attempts(value: object) -> CheckResult:
    if not isinstance(value, tuple) or len(value) != 2:
        return False, "give a pair: (final status, attempts), e.g. (job.status, job.attempts)"
    status, attempts = _status_name(value[0]), value[1]
    if status == "failed" and attempts == 3:
        return True, (
            "three attempts, all failed: after the third, can_retry() is False (3 < 3 fails),"
            " so mark_failed moves the job to FAILED and keeps the last error"
        )
    if status == "completed":
        return False, (
            "the handler fails four times but max_retry=3 allows three attempts in all: it"
            " never reaches the attempt that would work"
        )
    if status == "failed":
        return False, (
            f"failed is right, but not after {attempts!r} attempts: max_retry counts every"
            " attempt, the first one included"
        )
    return False, f"got ({status}, {attempts!r}): a job out of attempts is not left {status}"


def _check_order_guaranteed(value: object) -> CheckResult:
    if value is False:
        return True, (
            "with Constant(0) the retry is due at once, so the scheduler puts it back in the"
            " buffer while the main thread is submitting the quick job: which id reaches"
            " the buffer first depends on how the threads happen to be scheduled"
        )
    if value is True:
        return False, (
            "nothing orders the scheduler's hand-back of the retry and the main thread's"
            " submit of the quick job; with a 0 s backoff either can come first"
        )
    return False, f"answer True or False (is the quick job sure to finish first?), got {value!r}"


def _check_minimum_wait(value: object) -> CheckResult:
    name = value if isinstance(value, str) else getattr(value, "__name__", type(value).__name__)
    word = name.lower().replace(" ", "").replace("_", "")
    if word in {"equal", "equaljitter"}:
        return True, (
            "equal jitter draws between half of the exponential delay and all of it, so every"
            " client waits at least half; full jitter can draw 0 and retry at once"
        )
    if word in {"full", "fulljitter"}:
        return False, (
            "full jitter draws anywhere from 0 to the exponential delay: a client may retry"
            " at once, so it guarantees no minimum"
        )
    return False, (
        f"{name}: compare the two jittered policies, EqualJitter and FullJitter; which one"
        " can never draw a delay near 0?"
    )


def _check_policy(value: object) -> CheckResult:
    if not callable(value):
        return False, f"give the policy itself, a function attempts -> seconds; got {value!r}"
    try:
        delays = [value(attempts) for attempts in range(1, 6)]
    except Exception as exc:  # a student's function: any failure is the answer's problem
        return False, f"calling it with attempts 1 to 5 raised {type(exc).__name__}: {exc}"
    for attempts, delay in enumerate(delays, start=1):
        if isinstance(delay, bool) or not isinstance(delay, (int, float)):
            return False, f"policy({attempts}) returned {delay!r}, not a number of seconds"
        if not (math.isfinite(delay) and delay >= 0):
            return False, f"policy({attempts}) returned {delay!r}: a wait must be >= 0 and finite"
    shown = ", ".join(f"{d:g}" for d in delays)
    return True, (
        f"a usable policy: after failed attempts 1 to 5 it waits {shown} s; the queue calls"
        " it with the number of attempts made so far"
    )


EXERCISES = (
    Exercise(
        key="06.1",
        title="Out of attempts",
        hint="""max_retry counts attempts in total, the first one included. Read
Job.mark_failed and Job.can_retry in goqueue/job.py. Give the pair
check_answer("06.1", (job.status, job.attempts)).""",
        code="""\
def flaky_four(ctx, payload):
    if ctx.attempt <= 4:
        raise ConnectionError(f"smtp down (attempt {ctx.attempt})")

with Queue(workers=2, backoff=Quadratic(base=0.01)) as q:
    q.register_handler("email", flaky_four)
    job = q.wait(q.submit_job("email", max_retry=3).id, timeout=10)
print(job.status, job.attempts, job.error)
answer = (job.status, job.attempts)""",
        explanation="""The job ends FAILED after 3 attempts, with the last error kept:
"ConnectionError: smtp down (attempt 3)". The line that decides is in
Job.mark_failed: `if retry and self.can_retry()` sends the job back to PENDING only
while attempts < max_retry; after the third attempt 3 < 3 is false, so it goes to
FAILED instead. The fourth failure the handler had in store never happens.""",
        check=_check_out_of_attempts,
        wrong=(("completed", 4), ("failed", 4), ("pending", 3)),
    ),
    Exercise(
        key="06.2",
        title="A backoff of zero",
        hint="""With Constant(0) the retry is due as soon as the attempt fails. Who
puts it back in the buffer, and what is the main thread doing at that moment? Run
the scenario many times and count which job finished first. Is the order sure?
check_answer("06.2", True or False).""",
        code="""\
firsts = {"quick": 0, "flaky": 0}
for _ in range(30):
    with Queue(workers=1, backoff=Constant(0)) as q:
        q.register_handler("email", flaky)
        q.register_handler("quick", lambda ctx, payload: None)
        slow, quick = q.submit_job("email", max_retry=3), q.submit_job("quick")
        q.join()
        done = {"flaky": q.get_job(slow.id).updated_at, "quick": q.get_job(quick.id).updated_at}
    firsts[min(done, key=done.get)] += 1
print(firsts)
answer = False   # the order is not guaranteed, whatever this run counted""",
        explanation="""Usually the quick job still finishes first, but nothing guarantees
it. With a 30 s backoff the retry was certain to come after the quick job. With 0 s
the scheduler thread hands the retry back to the buffer at once, while the main
thread is submitting the quick job: two threads racing to put an id in the same
buffer. Depending on which wins, the single worker runs the retries or the quick job
first. The outcome may come out the same in every run on your machine; a race is
about what can happen, not what did.""",
        check=_check_order_guaranteed,
        wrong=(True, "yes"),
    ),
    Exercise(
        key="06.3",
        title="Equal jitter",
        hint="""Compare peak_load(herd_schedule(policy, clients=100, retries=4)) for the
two jittered policies of the notebook. Then read how each draws its delay: which one
can never draw a delay close to 0? Give its name: check_answer("06.3", "...").""",
        code="""\
exp = Exponential(base=0.05, cap=1.0)
for name, policy in {"full": FullJitter(exp, seed=1), "equal": EqualJitter(exp, seed=1)}.items():
    times = herd_schedule(policy, clients=100, retries=4)
    print(f"{name:>5} jitter: peak {peak_load(times)} retries in 10 ms,"
          f" first retry after {times[0] * 1000:.1f} ms")
answer = "equal"   # the one with a minimum wait""",
        explanation="""Equal jitter's peak is a little higher than full jitter's (its
delays are squeezed into the upper half of the range), but it guarantees a minimum:
every client waits at least half the exponential delay, while full jitter can draw
almost 0 and retry at once. A service that has just failed may want that minimum: it
gets a moment to recover before the first wave, and no client hammers it straight
away.""",
        check=_check_minimum_wait,
        wrong=("full", "exponential", 0.5),
    ),
    Exercise(
        key="06.4",
        title="A policy of your own",
        hint="""A policy is any function of the number of attempts made so far (1 after
the first failure) that returns seconds. Index a list, and keep the last delay for
any later attempt. Scale it down (0.01, 0.05, 0.3) to watch it quickly, register it
with register_handler(..., backoff=policy), and pass the function itself to
check_answer("06.4", policy).""",
        code="""\
def stepped(attempts):
    # 1 s, then 5 s, then 30 s, scaled down 100 times so the run takes a third of a second
    return [0.01, 0.05, 0.3][min(attempts, 3) - 1]

with Queue(workers=1) as q:
    q.register_handler("sms", flaky, backoff=stepped)
    print(q.wait(q.submit_job("sms", max_retry=3).id, timeout=10).status)
records, final = record_attempts([3], stepped, workers=1)
plot_attempts(records)
answer = stepped""",
        explanation="""Any function attempts -> seconds will do; the queue calls it with
the attempts made so far and schedules the retry that long after the failure.
`register_handler("sms", send_sms, backoff=stepped)` makes it the policy of that type
only; the others keep the queue's. On the timeline the gaps of the job that failed
three times are 0.01, 0.05 and 0.3 s (a little more on a busy machine, never less).
A fixed ladder like this is easy to reason about, but gives no jitter: add it if many
clients fail together.""",
        check=_check_policy,
        wrong=(5, "stepped"),
    ),
)
