"""Races in SQL, on a real PostgreSQL (tests/pg.py): each schedule's verdict and its waits.

The schedules are driven one step at a time, so their timelines are exact: these tests pin
the verdict, the step where a connection waits for a row lock, and the state at the end.
Without the server binaries or psycopg the database tests skip, saying why; the argument
checks and the "no database" path run everywhere.
"""

from __future__ import annotations

import pg
import pytest

from goqueue.lab.measure.database import Database
from goqueue.lab.measure.sql_races import (
    SQL_RACES,
    count_lost_updates,
    replay_sql,
)

needs_postgres = pytest.mark.skipif(pg.unavailable() is not None, reason=str(pg.unavailable()))
NO_DATABASE = Database(None, reason="postgres: NOT installed")


@pytest.fixture
def db() -> Database:
    return Database(pg.shared_server().new_database())


def waits(run: object) -> list[int]:
    """The step numbers (from 1) whose statement waited for a row lock."""
    steps = run.steps  # type: ignore[attr-defined]
    return [i for i, step in enumerate(steps, 1) if "waits for a row lock" in step.text]


@needs_postgres
def test_the_lost_update_loses_the_first_commit(db: Database) -> None:
    run = replay_sql(db, "lost update")
    assert run is not None
    assert run.status == "violated"
    assert run.message == "lost update: 2 increments committed, but n = 1"
    assert [s.text for s in run.steps[3:5]] == [
        "SELECT n FROM counter -> 0",
        "UPDATE counter SET n = 1",
    ]
    assert [s.state for s in run.steps] == ["n = 0"] * 5 + ["n = 1"] * 3


@pytest.mark.parametrize(
    ("name", "waiting_steps", "final"),
    [
        ("atomic update", [4], "n = 2"),
        ("select for update", [4], "n = 2"),
        ("serializable", [], "n = 2"),
        ("claim for update", [4], "job 1: A, job 2: B"),
        ("skip locked", [], "job 1: A, job 2: B"),
        ("one lock order", [5], "job 1: B, job 2: B"),
    ],
)
@needs_postgres
def test_each_fix_ends_right_and_waits_where_a_lock_is_held(
    db: Database, name: str, waiting_steps: list[int], final: str
) -> None:
    run = replay_sql(db, name)
    assert run is not None
    assert (run.status, run.message, run.final_state) == ("ok", "", final)
    assert waits(run) == waiting_steps
    if waiting_steps:  # the waiting statement goes on right after the other one commits
        texts = [(s.thread, s.text) for s in run.steps]
        granted = next(i for i, (_, text) in enumerate(texts) if text.startswith("... lock"))
        assert granted > waiting_steps[0]
        assert texts[granted - 1] == ("A", "COMMIT")
        assert texts[granted][0] == "B"


@needs_postgres
def test_serializable_fails_the_stale_write_and_the_retry_reads_the_new_value(
    db: Database,
) -> None:
    run = replay_sql(db, "serializable")
    assert run is not None
    texts = [s.text for s in run.steps]
    assert texts[6] == (
        "UPDATE counter SET n = 1 -> ERROR 40001: could not serialize access due to"
        " concurrent update"
    )
    assert texts[7:] == [
        "ROLLBACK",
        "BEGIN ISOLATION LEVEL SERIALIZABLE",
        "SELECT n FROM counter -> 1",
        "UPDATE counter SET n = 2",
        "COMMIT",
    ]


@needs_postgres
def test_two_orders_deadlock_and_the_server_cancels_the_one_that_closes_the_cycle(
    db: Database,
) -> None:
    run = replay_sql(db, "deadlock")
    assert run is not None
    assert run.status == "violated"
    assert run.message == "deadlock: the server cancelled a transaction; 1 of 2 committed"
    assert waits(run) == [6, 7]  # A waits for B's row, then B for A's: a cycle
    assert [(s.thread, s.text) for s in run.steps[7:]] == [
        ("B", "... the wait ends -> ERROR 40P01: deadlock detected"),
        ("B", "ROLLBACK"),
        ("A", "... lock granted"),  # B's rollback let go of job 2
        ("A", "COMMIT"),
    ]
    assert run.final_state == "job 1: A, job 2: A"


@needs_postgres
def test_two_workers_claim_the_same_job_without_a_lock(db: Database) -> None:
    run = replay_sql(db, "double claim")
    assert run is not None
    assert run.message == "double claim: A and B both took job 1"
    assert run.final_state == "job 1: B, job 2: -"


@needs_postgres
def test_repeatable_read_refuses_the_stale_write_and_counts_one_commit(db: Database) -> None:
    run = replay_sql(db, "lost update", isolation="REPEATABLE READ")
    assert run is not None
    assert run.steps[0].text == "BEGIN ISOLATION LEVEL REPEATABLE READ"
    assert "ERROR 40001" in run.steps[6].text
    assert run.steps[7].text == "COMMIT -> ROLLBACK (the transaction had failed)"
    assert (run.status, run.final_state) == ("ok", "n = 1")


@needs_postgres
def test_the_fixes_lose_no_increment_in_threads(db: Database) -> None:
    methods = ["atomic update", "select for update", "serializable + retry"]
    trials = count_lost_updates(db, methods, connections=4, increments=20)
    assert trials is not None
    assert [(r.method, r.increments, r.final, r.lost) for r in trials.rows] == [
        (m, 80, 80, 0) for m in methods
    ]
    assert trials.by_method("atomic update").retries == 0
    assert "lost" in str(trials) and "<table>" in trials._repr_html_()


def test_without_a_database_each_experiment_says_it_skips(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert replay_sql(NO_DATABASE, "lost update") is None
    assert count_lost_updates(NO_DATABASE) is None
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == [
        "skipped (lost update)",
        "skipped (counting lost updates)",
    ]
    assert all("sudo apt-get install postgresql" in line for line in out)


def test_bad_arguments_are_refused_before_anything_runs() -> None:
    with pytest.raises(ValueError, match=r"^unknown sql race: 'lost'"):
        replay_sql(NO_DATABASE, "lost")
    with pytest.raises(
        ValueError,
        match=r"^isolation must be one of 'READ COMMITTED', 'REPEATABLE READ',"
        r" 'SERIALIZABLE', got 'SNAPSHOT'$",
    ):
        replay_sql(NO_DATABASE, "lost update", isolation="SNAPSHOT")
    with pytest.raises(ValueError, match=r"^unknown counter method: 'locked'$"):
        count_lost_updates(NO_DATABASE, ["locked"])
    with pytest.raises(ValueError, match=r"^connections must be >= 1, got 0$"):
        count_lost_updates(NO_DATABASE, connections=0)
    with pytest.raises(ValueError, match=r"^increments must be >= 1, got 0$"):
        count_lost_updates(NO_DATABASE, increments=0)


def test_every_schedule_uses_only_the_two_connections() -> None:
    for name, race in SQL_RACES.items():
        assert {who for who, _ in race.steps} == {"A", "B"}, name
