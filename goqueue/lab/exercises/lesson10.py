"""Exercises of lesson 10, races in the database.

Every solution needs the lesson's PostgreSQL; each starts with ``db.require()``, which
raises ``NoDatabase`` (a ``unittest.SkipTest``, so the tests skip it) where there is none.
"""

from __future__ import annotations

from goqueue.lab.exercises.catalog import CheckResult, Exercise

__all__ = ["EXERCISES"]


def _check_one_connection(value: object) -> CheckResult:
    if isinstance(value, bool) or not isinstance(value, int):
        return False, f"give the number of lost increments, a whole number; got {value!r}"
    if value == 0:
        return True, (
            "0: with one connection each transaction commits before the next one reads,"
            " so every read sees the last write; a race needs two transactions open at once"
        )
    return False, (
        f"{value} lost would need a second transaction to read between another's read and"
        " its commit; with one connection, is any other transaction open?"
    )


def _check_repeatable_read(value: object) -> CheckResult:
    if value is True:
        return True, (
            "yes: at REPEATABLE READ, B's UPDATE of a row that changed after B's snapshot"
            " fails with 40001, so B cannot write its stale value; like SERIALIZABLE, the"
            " application must retry the whole transaction, or B's increment is dropped"
        )
    if value is False:
        return False, (
            "run the solution: B's UPDATE fails with 'could not serialize access', so no"
            " stale value is written"
        )
    return False, f"answer True or False (does it stop the lost update?), got {value!r}"


EXERCISES = (
    Exercise(
        key="10.1",
        title="One connection",
        hint="""A lost update needs a second transaction that reads between the first
one's read and its commit. Count with count_lost_updates(db, ["select then update"],
connections=1, increments=100) and give the row's lost:
check_answer("10.1", trials.rows[0].lost).""",
        code="""\
db.require()   # raises NoDatabase, saying what to install, where there is no server
trials = count_lost_updates(db, ["select then update"], connections=1, increments=100)
print(trials)
answer = trials.rows[0].lost""",
        explanation="""None is lost: with a single connection the transactions run one
after another, each reading the value the one before committed. The read-then-write
code is not wrong by itself; it is wrong when two of it run at once, exactly like
`counter += 1` in one thread against many. That is why a test with one worker never
finds this bug, and why the notebook forces the second connection's read into the
window.""",
        check=_check_one_connection,
        wrong=(1, 50, "0"),
    ),
    Exercise(
        key="10.2",
        title="REPEATABLE READ",
        hint="""Replay the lost update with every transaction at REPEATABLE READ:
replay_sql(db, "lost update", isolation="REPEATABLE READ"). What happens at B's
UPDATE? Does the lost update survive? check_answer("10.2", True or False): True if
REPEATABLE READ stops it.""",
        code="""\
db.require()
run = replay_sql(db, "lost update", isolation="REPEATABLE READ")
print(run.timeline())
answer = run.status == "ok" and "40001" in run.steps[6].text""",
        explanation="""In PostgreSQL, REPEATABLE READ already refuses the lost update:
a transaction may not update a row that another transaction changed and committed
after its snapshot was taken, so B's UPDATE fails with SQLSTATE 40001 ("could not
serialize access due to concurrent update") and its COMMIT turns into a ROLLBACK.
The counter says 1, and only one increment committed: nothing written was lost, but
B's increment was not done. As with SERIALIZABLE, the application must catch 40001
and run the whole transaction again. (SERIALIZABLE also catches anomalies
REPEATABLE READ lets through, such as write skew, where two transactions each read
what the other writes.)""",
        check=_check_repeatable_read,
        wrong=(False, "yes"),
    ),
    Exercise(
        key="10.3",
        title="Why SKIP LOCKED",
        hint="""Replay "claim for update" and "skip locked" and compare B's claim in
both: does B wait, and for how long would it wait if A's transaction ran the job
before committing? Then think of 8 workers claiming at once.""",
        code="""\
db.require()
for name in ("claim for update", "skip locked"):
    run = replay_sql(db, name)
    print(name, "->", run.final_state)
    print([step.text.split(" -> ")[-1] for step in run.steps if step.thread == "B"])""",
        explanation="""Both are correct: each job goes to one worker. With FOR UPDATE
alone, B's claim finds job 1 locked and waits until A commits; then PostgreSQL checks
the row again, sees it is taken, and hands B job 2. Every worker waits for the one
ahead of it, so claims happen one at a time, and if A kept its transaction open while
running the job, B would wait for the whole job. With SKIP LOCKED, B passes over the
locked row at once and takes job 2: no claim waits for another, which is why
PostgresStorage claims with one UPDATE ... WHERE seq = (SELECT ... FOR UPDATE SKIP
LOCKED) and commits at once, before the job runs.""",
    ),
)
