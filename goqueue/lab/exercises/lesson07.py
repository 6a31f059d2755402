"""Exercises of lesson 07, persistent storage."""

from __future__ import annotations

from goqueue.lab.exercises.catalog import CheckResult, Exercise

__all__ = ["EXERCISES"]


def _check_processing_at_kill(value: object) -> CheckResult:
    if isinstance(value, bool) or not isinstance(value, int):
        return False, f"give result.processing_at_kill, a whole number; got {value!r}"
    if value == 8:
        return True, (
            "8: the kill comes when every worker is mid-job, and a worker holds one job at a"
            " time, so 8 workers leave exactly 8 jobs processing; only those can run twice"
        )
    if value == 4:
        return False, "4 is the notebook's run with 4 workers; this one has 8"
    return False, (
        f"{value} jobs processing at the kill would need {value} workers busy at once;"
        " count the workers"
    )


def _check_sends_twice(value: object) -> CheckResult:
    if value is True:
        return True, (
            "yes: the email left before the record was written, so the re-run finds no"
            " record and sends again; a check before sending cannot see a send that was not"
            " recorded"
        )
    if value is False:
        return False, (
            "run the solution: the crash comes after the send and before the record, so the"
            " re-run finds no record of it"
        )
    return False, f"answer True or False (is it sent twice?), got {value!r}"


def _check_short_timeout(value: object) -> CheckResult:
    if value is False:
        return True, (
            "no: most writes still fail; SQLite's busy handler waits a little and tries"
            " again only until the timeout, and eight writers keep the lock taken far longer"
            " than 1 ms in total"
        )
    if value is True:
        return False, (
            "count the errors: with 8 writers most of the 1,600 writes still fail with"
            " 'database is locked'"
        )
    return False, f"answer True or False (is 1 ms enough?), got {value!r}"


def _check_what_full_buys(value: object) -> CheckResult:
    text = value.lower() if isinstance(value, str) else ""
    if any(word in text for word in ("durab", "power", "os crash", "operating system")):
        return True, (
            "durability against an OS crash or a power cut: FULL syncs the log to disk at"
            " every commit, so a commit that returned survives; NORMAL is already safe"
            " against a killed process"
        )
    if any(word in text for word in ("speed", "fast", "throughput")):
        return False, "FULL is slower, not faster: the question is what the lower rate buys"
    if "kill" in text:
        return False, (
            "a killed process loses nothing with NORMAL already (the notebook's crash test);"
            " FULL protects against more than that"
        )
    return False, (
        f"{value!r}: say what survives with FULL that NORMAL may lose (think of the whole"
        " machine going down)"
    )


EXERCISES = (
    Exercise(
        key="07.1",
        title="More workers at the kill",
        hint="""The kill comes when every worker is busy with a job. How many jobs can
one worker have in processing at once? Give result.processing_at_kill of a run with
8 workers: check_answer("07.1", result.processing_at_kill).""",
        code="""\
result = kill_mid_run(jobs=40, workers=8, work_seconds=0.01, kill_after=10)
print(result)
answer = result.processing_at_kill""",
        explanation="""With 8 workers the kill finds 8 jobs processing (it waits until all
workers are busy), the restart recovers those 8, and up to 8 run twice. No more than
`workers` can re-run: a worker claims one job at a time, so at any moment at most
`workers` jobs are processing, and only a job caught processing can have started
without finishing. Every other job is pending (never started) or completed (its
result saved). Fewer than 8 may re-run, when the kill lands between a claim and the
handler's first line.""",
        check=_check_processing_at_kill,
        wrong=(4, 200, "8"),
    ),
    Exercise(
        key="07.2",
        title="An idempotent handler",
        hint="""Write the handler as: if the job id is in the sent set, return; send;
add the id. Then play a crash by hand: run it once, stopping after the send (before
the add), and again as the recovered re-run. Is it sent twice?
check_answer("07.2", True or False).""",
        code="""\
sent_ids = set()   # job ids already sent (in real code, a table in the same database)
outbox = []        # what the mail server received

def send_email(job_id, crash_after_sending=False):
    if job_id in sent_ids:
        return              # already sent: the re-run does nothing
    outbox.append(job_id)   # the email leaves
    if crash_after_sending:
        return              # SIGKILL here: the record below is never written
    sent_ids.add(job_id)

send_email("job-1", crash_after_sending=True)   # the attempt the kill interrupts
send_email("job-1")                             # the re-run after recovery
send_email("job-1")                             # a third run does nothing
print(outbox)
answer = outbox.count("job-1") > 1""",
        explanation="""The check prevents a second send only once the first one was
recorded; a death between sending and recording still sends twice, because the send
(an email leaving) and the record (a row in a database) are not one atomic step. No
handler can close that gap alone. Exactly-once needs the other side's help: an
idempotency key the mail service remembers (send with key = job id, and it drops a
repeat), or a send that is itself a write in the same transaction as the record (an
outbox table another process delivers from, deduplicating by id).""",
        check=_check_sends_twice,
        wrong=(False, "no"),
    ),
    Exercise(
        key="07.3",
        title="A short busy timeout",
        hint="""Compare locked_errors(threads=8, writes=200, timeout=0.001) with the
no-timeout run of the notebook. Is a 1 ms busy timeout enough to rule the errors
out? check_answer("07.3", True or False).""",
        code="""\
errors = locked_errors(threads=8, writes=200, timeout=0.001)
print(f"{errors} of 1600 writes failed with a 1 ms busy timeout")
answer = errors == 0   # enough only if nothing failed""",
        explanation="""Not enough: most writes still fail. A busy timeout is how long a
writer keeps trying before it gives up, and SQLite retries by sleeping, not by being
woken. With 8 writers, a writer can find the lock taken for far longer than 1 ms in
total (7 others ahead of it). Choose a timeout from the longest time the lock can
stay taken under the worst load you accept, with a wide margin: seconds, not
milliseconds (SQLiteStorage's default is 30 s). The timeout only bounds a wait; it
costs nothing when there is no contention.""",
        check=_check_short_timeout,
        wrong=(True, 0),
    ),
    Exercise(
        key="07.4",
        title="synchronous=FULL",
        hint="""Measure two storages, the default and synchronous="FULL", with
measure_storage_throughput (each in its own file in folder.name). Then read the
notebook's throughput section again: what can NORMAL lose that FULL cannot? Answer in
a few words: check_answer("07.4", "...").""",
        code="""\
normal = SQLiteStorage(Path(folder.name, "normal.db"))
full = SQLiteStorage(Path(folder.name, "full.db"), synchronous="FULL")
rates = {name: measure_storage_throughput(s, jobs=1000, workers=8)
         for name, s in (("NORMAL", normal), ("FULL", full))}
normal.close()
full.close()
print({name: f"{rate:,.0f} jobs/s" for name, rate in rates.items()})
answer = "durability"   # commits survive an OS crash or a power cut""",
        explanation="""FULL runs at a fraction of NORMAL's rate (often a fifth, on a real
disk; on a RAM disk the two are close, since a sync costs nothing there). It buys
durability against the whole machine going down: with FULL, SQLite syncs its log to
disk at every commit, so a job that submit_job saved survives an OS crash or a power
cut. With NORMAL, in WAL mode, a killed process loses nothing (the notebook's crash
test), but the last commits before an OS crash or power cut can be lost.""",
        check=_check_what_full_buys,
        wrong=("speed", "nothing", "safety against kill -9"),
    ),
)
