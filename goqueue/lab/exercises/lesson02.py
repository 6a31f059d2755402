"""Exercises of lesson 02, the worker pool."""

from __future__ import annotations

from goqueue.lab.exercises.catalog import CheckResult, Exercise

__all__ = ["EXERCISES"]


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_buffer(value: object) -> CheckResult:
    if not _whole(value):
        return False, f"give the number of submit_job calls that returned, got {value!r}"
    if value == 3:
        return True, (
            "3: one job is running in the only worker, two wait in the buffer (2 × workers),"
            " and the fourth submit_job blocks until the worker takes one: backpressure"
        )
    if value == 2:
        return False, (
            "2 is the buffer alone; the worker took one job out of it first, and that job"
            " is still running, so one more submit found room"
        )
    return False, f"{value} is not it: count the running job and the buffer (2 × workers)"


def _check_drain_timeout(value: object) -> CheckResult:
    drained = getattr(value, "drained", None)
    cancelled = getattr(value, "cancelled", None)
    if drained is None or cancelled is None:
        return False, "pass the ShutdownReport that stop(drain=True, timeout=0.2) returned"
    if drained:
        return False, (
            "drained=True means every job finished within the timeout; the patient"
            " handlers run until cancelled, so did you stop the patient queue?"
        )
    if len(cancelled) != 6:
        return False, (
            f"{len(cancelled)} cancelled: with 3 workers busy and 9 jobs submitted, the"
            " 6 buffered jobs are the ones that never started"
        )
    return True, (
        "drained=False and the 6 buffered jobs cancelled: after 0.2 s of draining, stop"
        " gives up waiting, cancels what never started and sets ctx.cancelled for the rest"
    )


def _check_one_worker(value: object) -> CheckResult:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False, f"give the mean number of dropped jobs, a number; got {value!r}"
    if 8.5 <= value <= 9.5:
        return True, (
            f"{value:g}: one worker runs a job and flips a coin each time it comes back, so"
            " it runs about 1 job on average (1/2 + 1/4 + ...) and about 9 of 10 are lost"
        )
    if value < 8.5:
        return False, (
            f"{value:g} is too low: after cancel() a lone worker exits at its first 'exit'"
            " coin, and it has ten flips at most, each a fair coin"
        )
    return False, f"{value:g} is too high: the worker runs the first job half of the time"


def _check_rounds(value: object) -> CheckResult:
    if not _whole(value):
        return False, f"give the number of rounds, a whole number; got {value!r}"
    if value == 3:
        return True, "ceil(20 / 7) = 3: two full rounds of 7 jobs and a third of 6"
    return False, (
        f"{value} rounds is not it: 7 workers run 7 jobs per round, and 20 jobs need"
        " rounds until all are done (round up)"
    )


EXERCISES = (
    Exercise(
        key="02.1",
        title="Buffer size",
        hint="""The buffer holds 2 × workers job ids, and a worker takes a job out of the
buffer before it runs it. Submit in a thread (so a blocked submit_job cannot block the
notebook), wait until queue.statistics() shows 1 running and 2 buffered, and count
the submits that returned: check_answer("02.1", n).""",
        code="""\
release = threading.Event()
blocked = Queue(workers=1)
blocked.register_handler("block", lambda ctx, payload: release.wait(timeout=10))
blocked.start()
returned = []
submitter = threading.Thread(
    target=lambda: [returned.append(blocked.submit_job("block")) for _ in range(5)])
submitter.start()
deadline = time.monotonic() + 5
while time.monotonic() < deadline and not (
        len(returned) == 3 and blocked.statistics().running == 1
        and blocked.statistics().buffered == 2):
    time.sleep(0.01)
answer = len(returned)   # the fourth submit is blocked: the buffer is full
release.set()
submitter.join()
blocked.stop()
print(f"{answer} submits returned before one blocked")""",
        explanation="""Three. The worker takes the first job out of the buffer and blocks in
its handler; two more ids fill the buffer (2 × 1 worker); the fourth submit_job waits
for room, which only the worker can make by taking a job. That wait is backpressure: a
producer faster than the workers is slowed down instead of filling memory. Setting the
event lets every job run, and the submitter thread returns.""",
        check=_check_buffer,
        wrong=(2, 5, "3"),
    ),
    Exercise(
        key="02.2",
        title="Drain with a timeout",
        hint="""Rebuild the live queue of the graceful-shutdown section (three patient
workers busy, six jobs buffered), then call stop(drain=True, timeout=0.2) instead of
stop(drain=False), and pass the report to check_answer("02.2", report).""",
        code="""\
started = threading.Semaphore(0)
def patient(ctx, payload):
    started.release()
    ctx.cancelled.wait(timeout=10)

live = Queue(workers=3)
live.register_handler("patient", patient)
live.start()
jobs = [live.submit_job("patient") for _ in range(9)]
assert all(started.acquire(timeout=5) for _ in range(3))
report = live.stop(drain=True, timeout=0.2)
print(f"drained={report.drained}, cancelled {len(report.cancelled)}")
print(Counter(live.get_job(job.id).status.value for job in jobs))
answer = report""",
        explanation="""The report says drained=False and lists 6 cancelled ids: the six jobs
still in the buffer. stop first drains, but a patient handler runs until it is asked to
stop, so after 0.2 s stop gives up draining: it cancels the jobs that never started and
sets ctx.cancelled for the three running ones, which then return and complete. Every
job still ends final: 3 completed, 6 cancelled, none left pending.""",
        check=_check_drain_timeout,
        wrong=(None, "drained=False"),
    ),
    Exercise(
        key="02.3",
        title="The model",
        hint="""After cancel(), every time a worker comes back to its select it flips a
fair coin: take a job, or exit. With one worker, how many jobs does it run on average
before its first 'exit'? Compute mean_dropped with
go_shutdown_trials(buffered=10, workers=1, seed=SEED) and check it.""",
        code="""\
for workers in (1, 5, 20):
    go = go_shutdown_trials(buffered=10, workers=workers, trials=10_000, seed=SEED)
    print(f"{workers:>2} workers: {go.mean_dropped:.2f} of 10 jobs dropped per stop")
answer = go_shutdown_trials(buffered=10, workers=1, trials=10_000, seed=SEED).mean_dropped""",
        explanation="""About 9.0 with one worker: it runs a job with probability 1/2, a second
with 1/4, and so on, about 1 job in all, so about 9 of the 10 buffered jobs are never
run. With 20 workers each one still runs about one job before its coin says exit, and
20 workers together take about 20 jobs' worth of chances: the 10 buffered jobs are
nearly all taken (about 0.07 dropped). More workers lose fewer jobs because each worker
gets its own coin flips; the bug is still there, only rarer, which makes it harder to
catch in a test.""",
        check=_check_one_worker,
        wrong=(5.0, 0.5, 10.0),
    ),
    Exercise(
        key="02.4",
        title="Rounds",
        hint="""A worker runs one job at a time, so w workers finish at most w jobs per
0.05 s round. How many rounds do 20 jobs need with 7 workers? Check that number with
check_answer("02.4", rounds), then plot time_sleeping_jobs(range(1, 11), jobs=20,
seconds=0.05) with plot_timing.""",
        code="""\
rows = time_sleeping_jobs(range(1, 11), jobs=20, seconds=0.05)
print(format_timing(rows))
ax = plot_timing(rows)
answer = -(-20 // 7)   # ceil(20 / 7): rounds needed with 7 workers""",
        explanation="""The ideal is ceil(20 / w) × 0.05 s: 20, 10, 7, 5, 4, 4, 3, 3, 3, 2
rounds for 1 to 10 workers. It falls in steps because a round is only saved when the
extra worker removes a whole round: 7, 8 and 9 workers all need 3 rounds (the last
round half empty), and 10 workers need 2. The measurements follow the steps closely,
a few milliseconds above the ideal; on a busy machine the gap grows.""",
        check=_check_rounds,
        wrong=(2, 4, 2.86),
    ),
)
