"""PostgresStorage beyond the contract: claims, leases, wake-ups, errors, schema.

Runs against a real PostgreSQL (tests/pg.py); skipped, saying why, when the server
binaries or psycopg are missing. Two storages on one schema stand for two hosts (each
has its own connections and owner id).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import pg
import pytest
from support import FAILURE_BOUND, join_all, run_in_thread, start_all, wait_until

from goqueue import (
    Job,
    JobCorrupted,
    JobNotFound,
    JobProcessor,
    JobStatus,
    LeaseLost,
    QueueStateError,
    StorageBusy,
    StorageError,
)
from goqueue.processor import RunOutcome

pytestmark = pytest.mark.skipif(pg.unavailable() is not None, reason=str(pg.unavailable()))

if pg.unavailable() is None:
    import psycopg

    from goqueue.postgres_storage import (
        INTERRUPTED,
        PENDING_BATCH,
        PostgresStorage,
    )

_T = TypeVar("_T")


@pytest.fixture
def storage(dsn: str, schema: str) -> Iterator[PostgresStorage]:
    store = PostgresStorage(dsn, schema=schema, lease=5.0)
    try:
        yield store
    finally:
        store.close()


def sql(dsn: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run *query* on a connection of our own (autocommit); return its rows, if any."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(query, params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def lease_of(dsn: str, schema: str, job_id: str) -> tuple[str, str | None, float | None]:
    """Status, owner, and seconds until the lease ends (by the server's clock)."""
    [(status, owner, left)] = sql(
        dsn,
        f"SELECT status, owner, extract(epoch FROM lease_expires_at - clock_timestamp())"
        f" FROM {schema}.jobs WHERE id = %s",
        job_id,
    )
    return status, owner, None if left is None else float(left)


# -- claims ---------------------------------------------------------------------------


def test_two_hosts_claim_each_job_exactly_once(dsn: str, schema: str) -> None:
    hosts = [PostgresStorage(dsn, schema=schema, pool_size=4) for _ in range(2)]
    try:
        jobs = [Job(type="a") for _ in range(150)]
        for job in jobs:
            hosts[0].save_job(job)
        threads_per_host = 4
        barrier = threading.Barrier(threads_per_host * len(hosts))
        claims: list[tuple[str, str]] = []  # (job id, owner); list.append is atomic

        def claimer(host: PostgresStorage) -> None:
            barrier.wait()
            for job in jobs:
                claimed = host.claim_job(job.id)
                if claimed is not None:
                    claims.append((claimed.id, host.owner))

        threads = [
            threading.Thread(target=claimer, args=(host,))
            for host in hosts
            for _ in range(threads_per_host)
        ]
        join_all(start_all(threads, barrier=barrier), timeout=60)
        assert sorted(job_id for job_id, _ in claims) == sorted(job.id for job in jobs)
        owners = dict(claims)
        for job_id, owner in sql(dsn, f"SELECT id, owner FROM {schema}.jobs"):
            assert owners[job_id] == owner  # the row names the host that got the claim
    finally:
        for host in hosts:
            host.close()


def test_a_claim_skips_a_row_another_claim_holds_instead_of_waiting(
    storage: PostgresStorage, dsn: str, schema: str
) -> None:
    job = Job(type="a")
    storage.save_job(job)
    with psycopg.connect(dsn) as other:  # a transaction holding the row's lock
        other.execute(f"SELECT 1 FROM {schema}.jobs WHERE id = %s FOR UPDATE", (job.id,))
        started = time.monotonic()
        assert storage.claim_job(job.id) is None
        assert time.monotonic() - started < FAILURE_BOUND / 2  # did not wait for the lock
        other.rollback()
    claimed = storage.claim_job(job.id)  # the lock is gone: the job is still pending
    assert claimed is not None and claimed.attempts == 1


def test_a_full_list_prefers_due_jobs_to_later_retries(storage: PostgresStorage) -> None:
    later = Job(type="a", next_attempt_at=datetime.now(timezone.utc) + timedelta(hours=1))
    due = Job(type="a", next_attempt_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    fresh = Job(type="b")
    for job in (later, due, fresh):
        storage.save_job(job)
    assert [p.id for p in storage.list_pending()] == [later.id, due.id, fresh.id]
    newer = [Job(type="c") for _ in range(PENDING_BATCH)]
    for job in newer:
        storage.save_job(job)
    # 1,002 jobs are due: the list holds the 1,000 oldest due ones, in saving order; the
    # retry that is not due yet waits outside it.
    oldest_due = [due.id, fresh.id] + [job.id for job in newer[:-2]]
    assert [p.id for p in storage.list_pending()] == oldest_due


def test_no_statement_is_compiled_before_it_runs(
    dsn: str, schema: str, storage: PostgresStorage
) -> None:
    # The storage turns sorting off (enable_sort, see _configure), which prices a sort
    # over jit_above_cost: a statement that must sort was JIT-compiled on every call,
    # 0.1-0.5 s of server CPU for a 0.1 ms query (list_pending; pools then read it at start).
    if not sql(dsn, "SELECT pg_jit_available()")[0][0]:
        pytest.skip("this server has no JIT: nothing to check")
    for n in range(20):
        job = Job(type="a", next_attempt_at=datetime.now(timezone.utc) + timedelta(hours=n))
        storage.save_job(job)
    queries = [
        (storage._sql.pending, (PENDING_BATCH,)),
        (storage._sql.list_status, ("pending",)),
        (storage._sql.list_status, ("completed",)),
        (storage._sql.list_all, ()),
    ]
    with psycopg.connect(dsn, autocommit=True) as conn:  # the check can fail: with
        conn.execute("SET enable_sort = off")  # sorting off, jit compiles list_pending
        assert "JIT" in explain(conn, *queries[0])
    with storage._pool.connection() as conn:  # the storage's own connection
        for query, params in queries:
            assert "JIT" not in explain(conn, query, params), query


def explain(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...]) -> str:
    """The plan PostgreSQL ran *query* with, as its JSON text."""
    [(plan,)] = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}", params).fetchall()
    return json.dumps(plan)


# -- leases ---------------------------------------------------------------------------


def test_a_claim_leases_the_job_and_the_heartbeat_renews_it(dsn: str, schema: str) -> None:
    with (
        PostgresStorage(dsn, schema=schema, lease=0.6) as storage,
        PostgresStorage(dsn, schema=schema) as other,
    ):
        job = Job(type="a")
        storage.save_job(job)
        assert lease_of(dsn, schema, job.id) == ("pending", None, None)
        assert storage.claim_job(job.id) is not None
        status, owner, left = lease_of(dsn, schema, job.id)
        assert (status, owner) == ("processing", storage.owner)
        assert left is not None and 0 < left <= 0.6
        # Three lease lengths later the job is still this storage's: renewed, never
        # taken by the other host, however often it looks.
        deadline = time.monotonic() + 1.8
        while time.monotonic() < deadline:
            assert other.recover_expired() == 0
            time.sleep(0.05)  # how often the other host looks; not an ordering
        status, owner, left = lease_of(dsn, schema, job.id)
        assert (status, owner) == ("processing", storage.owner)
        assert left is not None and left > 0


def test_only_expired_leases_are_taken_back(dsn: str, schema: str) -> None:
    with (
        PostgresStorage(dsn, schema=schema, lease=30) as live,
        PostgresStorage(dsn, schema=schema) as rescuer,
    ):
        kept, dead = Job(type="a"), Job(type="a")
        live.save_job(kept)
        live.save_job(dead)
        assert live.claim_job(kept.id) is not None
        assert live.claim_job(dead.id) is not None
        # *dead* belongs to a host that stopped renewing a second ago.
        sql(
            dsn,
            f"UPDATE {schema}.jobs SET owner = 'gone', lease_expires_at ="
            " clock_timestamp() - interval '1 second' WHERE id = %s",
            dead.id,
        )
        assert rescuer.recover_expired() == 1
        back = rescuer.get_job(dead.id)
        assert back is not None
        assert (back.status, back.error, back.attempts) == (JobStatus.PENDING, INTERRUPTED, 1)
        assert lease_of(dsn, schema, dead.id) == ("pending", None, None)
        assert lease_of(dsn, schema, kept.id)[:2] == ("processing", live.owner)


def test_opening_takes_back_expired_leases_only(dsn: str, schema: str) -> None:
    first = PostgresStorage(dsn, schema=schema, lease=30)
    job = Job(type="a")
    first.save_job(job)
    assert first.claim_job(job.id) is not None
    with PostgresStorage(dsn, schema=schema) as second:
        assert second.recovered == 0  # the lease of a live host
    first.close()  # ends its leases at once
    with PostgresStorage(dsn, schema=schema) as third:
        assert third.recovered == 1
        back = third.get_job(job.id)
        assert back is not None and back.status is JobStatus.PENDING


def test_a_recovery_wakes_a_waiting_host(dsn: str, schema: str) -> None:
    with (
        PostgresStorage(dsn, schema=schema) as waiter,
        PostgresStorage(dsn, schema=schema) as rescuer,
    ):
        waiter.wait_for_jobs(0.0)  # listening from here on
        job = Job(type="a")
        rescuer.save_job(job)
        waiter.wait_for_jobs(FAILURE_BOUND)  # the save's notice
        assert rescuer.claim_job(job.id) is not None
        sql(dsn, f"UPDATE {schema}.jobs SET lease_expires_at = clock_timestamp()")
        sql(dsn, f"UPDATE {schema}.jobs SET owner = 'gone'")
        assert rescuer.recover_expired() == 1
        started = time.monotonic()
        waiter.wait_for_jobs(FAILURE_BOUND)
        assert time.monotonic() - started < FAILURE_BOUND / 2


# -- wake-ups -------------------------------------------------------------------------


def test_a_save_on_another_host_wakes_wait_for_jobs(dsn: str, schema: str) -> None:
    with (
        PostgresStorage(dsn, schema=schema) as waiter,
        PostgresStorage(dsn, schema=schema) as saver,
    ):
        waiter.wait_for_jobs(0.0)  # opens the LISTEN connection
        listening = threading.Event()
        woke_after: list[float] = []

        def wait() -> None:
            listening.set()
            started = time.monotonic()
            assert waiter.wait_for_jobs(FAILURE_BOUND) is True  # news
            woke_after.append(time.monotonic() - started)

        thread = threading.Thread(target=wait)
        thread.start()
        try:
            assert listening.wait(FAILURE_BOUND)
            saver.save_job(Job(type="a"))
        finally:
            join_all([thread])
        assert woke_after and woke_after[0] < FAILURE_BOUND / 2


def test_wait_for_jobs_times_out_when_nothing_is_saved(storage: PostgresStorage) -> None:
    # The call that opens the LISTEN connection cannot know what came before it: "look".
    assert storage.wait_for_jobs(0.0) is True
    started = time.monotonic()
    assert storage.wait_for_jobs(0.2) is False  # listened all along, and nothing came
    assert 0.15 <= time.monotonic() - started < FAILURE_BOUND


def test_after_a_lost_listen_connection_wait_for_jobs_says_look(
    dsn: str, schema: str, storage: PostgresStorage, caplog: pytest.LogCaptureFixture
) -> None:
    # Notices sent while the LISTEN connection was gone are lost: the calls that find it
    # broken and that open a new one cannot say "nothing came", so the pool looks.
    assert storage.wait_for_jobs(0.0) is True  # opens it
    assert storage.wait_for_jobs(0.05) is False
    [(pid,)] = sql(
        dsn, "SELECT pid FROM pg_stat_activity WHERE query = %s", f"LISTEN {storage.channel}"
    )
    sql(dsn, "SELECT pg_terminate_backend(%s)", pid)
    wait_until(
        lambda: not sql(dsn, "SELECT 1 FROM pg_stat_activity WHERE pid = %s", pid), poll=0.01
    )
    storage.save_job(Job(type="a"))  # its notice goes to nobody
    assert storage.wait_for_jobs(0.05) is True  # finds the connection broken
    assert "could not listen for new jobs" in caplog.text
    assert storage.wait_for_jobs(0.05) is True  # listens again, from now on
    assert storage.wait_for_jobs(0.05) is False


def test_a_finished_job_sends_no_notice(dsn: str, schema: str) -> None:
    with (
        PostgresStorage(dsn, schema=schema) as waiter,
        PostgresStorage(dsn, schema=schema) as saver,
    ):
        waiter.wait_for_jobs(0.0)
        job = Job(type="a")
        job.cancel()
        saver.save_job(job)  # not pending: nobody needs waking
        started = time.monotonic()
        assert waiter.wait_for_jobs(0.3) is False
        assert time.monotonic() - started >= 0.25


# -- errors ---------------------------------------------------------------------------


def test_a_refused_login_names_the_server_and_never_the_password() -> None:
    server = pg.shared_server()
    for dsn in (
        f"host={server.folder} dbname={pg.DATABASE} user={pg.SECRET_USER}"
        f" password=wrong-{pg.SECRET_PASSWORD}",
        f"postgresql://{pg.SECRET_USER}:wrong-{pg.SECRET_PASSWORD}@/{pg.DATABASE}"
        f"?host={server.folder}",
    ):
        with pytest.raises(StorageError) as info:
            PostgresStorage(dsn)
        message = str(info.value)
        assert message.startswith(
            f"postgres storage host={server.folder} port=5432 dbname={pg.DATABASE}: "
        )
        assert "password authentication failed" in message
        assert pg.SECRET_PASSWORD not in message
        assert pg.SECRET_PASSWORD not in repr(info.value.__cause__)
        assert not isinstance(info.value, StorageBusy)


def test_the_right_password_opens_and_the_repr_shows_no_password(schema: str) -> None:
    server = pg.shared_server()
    dsn = (
        f"host={server.folder} dbname={pg.DATABASE} user={pg.SECRET_USER}"
        f" password={pg.SECRET_PASSWORD}"
    )
    with PostgresStorage(dsn, schema=schema) as storage:
        assert repr(storage) == (
            f"<PostgresStorage host={server.folder} port=5432 dbname={pg.DATABASE}"
            f" schema={schema} jobs=0>"
        )
    assert repr(storage).endswith(" closed>")


def test_a_lost_connection_is_busy_and_the_next_call_works(
    storage: PostgresStorage, dsn: str
) -> None:
    job = Job(type="a")
    storage.save_job(job)
    sql(
        dsn,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = '' AND pid <> pg_backend_pid()"
        " AND datname = current_database() AND backend_type = 'client backend'",
    )
    # Every pooled connection is dead now: each fails once, as transient, then is
    # replaced by the pool.
    outcomes: list[str] = []
    deadline = time.monotonic() + FAILURE_BOUND
    while not outcomes or outcomes[-1] != "ok":
        assert time.monotonic() < deadline, outcomes
        try:
            storage.get_job(job.id)
        except StorageBusy as err:
            assert str(err).startswith(f"postgres storage {storage.server}: ")
            outcomes.append("busy")
        else:
            outcomes.append("ok")
    assert "busy" in outcomes


def test_a_newer_schema_is_refused(dsn: str, schema: str) -> None:
    PostgresStorage(dsn, schema=schema).close()
    sql(dsn, f"UPDATE {schema}.version SET version = 99")
    with pytest.raises(StorageError, match=rf"^postgres storage .*: schema '{schema}' has"):
        PostgresStorage(dsn, schema=schema)


def test_hosts_opening_at_once_create_the_schema_once(dsn: str, schema: str) -> None:
    count = 6
    barrier = threading.Barrier(count)
    opened: list[PostgresStorage] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        barrier.wait()
        try:
            opened.append(PostgresStorage(dsn, schema=schema, pool_size=1))
        except BaseException as err:
            errors.append(err)

    join_all(start_all([threading.Thread(target=open_one) for _ in range(count)], barrier=barrier))
    for storage in opened:
        storage.close()
    assert errors == []
    assert sql(dsn, f"SELECT version FROM {schema}.version") == [(1,)]


def test_an_unreadable_pending_row_is_failed_and_named(
    storage: PostgresStorage, dsn: str, schema: str
) -> None:
    good, bad = Job(type="a"), Job(type="a")
    storage.save_job(good)
    storage.save_job(bad)
    sql(dsn, f"UPDATE {schema}.jobs SET payload = '[1, 2]' WHERE id = %s", bad.id)
    with pytest.raises(JobCorrupted, match=rf"^postgres storage .*: job {bad.id} cannot be read:"):
        storage.list_jobs()
    assert sql(dsn, f"SELECT status, error FROM {schema}.jobs WHERE id = %s", bad.id) == [
        ("failed", "unreadable: payload is a JSON array, not an object")
    ]
    assert [p.id for p in storage.list_pending()] == [good.id]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"lease": 0}, ValueError, "lease must be a finite number of seconds > 0, got 0"),
        ({"lease": "5"}, TypeError, "lease must be a number of seconds, got str"),
        (
            {"timeout": float("nan")},
            ValueError,
            "timeout must be a finite number of seconds > 0, got nan",
        ),
        ({"pool_size": 0}, ValueError, "pool_size must be >= 1, got 0"),
        ({"pool_size": 2.0}, TypeError, "pool_size must be an int, got float"),
        (
            {"schema": "Jobs; DROP"},
            ValueError,
            "schema must be lowercase letters, digits and _ (at most 40, not starting with"
            " a digit), got 'Jobs; DROP'",
        ),
    ],
)
def test_bad_arguments_are_refused_before_connecting(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        PostgresStorage("host=/nonexistent dbname=x", **kwargs)
    assert str(info.value) == message


def test_a_dsn_that_does_not_parse_is_refused_without_quoting_it() -> None:
    with pytest.raises(ValueError, match=r"^dsn is not a valid libpq connection string or URL$"):
        PostgresStorage(f"host=x password={pg.SECRET_PASSWORD} =broken")


def test_a_closed_storage_refuses_calls(storage: PostgresStorage) -> None:
    storage.close()
    storage.close()  # idempotent
    with pytest.raises(QueueStateError, match=r"^postgres storage is closed: host="):
        storage.get_job("x")
    with pytest.raises(QueueStateError, match=r"^postgres storage is closed: host="):
        storage.wait_for_jobs(0.0)


def test_goqueue_imports_without_psycopg() -> None:
    code = (
        "import sys\n"
        "sys.modules['psycopg'] = None\n"  # import psycopg now raises ImportError
        "sys.modules['psycopg_pool'] = None\n"
        "import goqueue\n"
        "from goqueue import PostgresStorage\n"
        "try:\n"
        "    PostgresStorage('dbname=x')\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == (
        "PostgresStorage needs psycopg and psycopg_pool: pip install 'goqueue[postgres]'\n"
    )


# -- batches: reserve_due, release_reserved, hand_over_jobs ---------------------------


def test_hosts_reserving_at_once_take_each_job_once(dsn: str, schema: str) -> None:
    hosts = [PostgresStorage(dsn, schema=schema, pool_size=2) for _ in range(3)]
    try:
        jobs = [Job(type="a") for _ in range(150)]
        for job in jobs:
            hosts[0].save_job(job)
        barrier = threading.Barrier(len(hosts))
        taken: list[list[str]] = [[] for _ in hosts]

        def reserve_all(n: int) -> None:
            barrier.wait()
            while batch := hosts[n].reserve_due(7):
                taken[n] += [entry.id for entry in batch]

        join_all(start_all([threading.Thread(target=reserve_all, args=(n,)) for n in range(3)]))
        everything = [job_id for ids in taken for job_id in ids]
        assert sorted(everything) == sorted(job.id for job in jobs)  # all, none twice
        assert all(taken), "a host reserved nothing"
        for host, ids in zip(hosts, taken, strict=True):
            query = f"SELECT DISTINCT status, owner, attempts FROM {schema}.jobs WHERE id = ANY(%s)"
            rows = sql(dsn, query, ids)
            assert rows == [("processing", host.owner, 1)]
    finally:
        for host in hosts:
            host.close()


def test_reserve_takes_due_jobs_oldest_first_and_leaves_later_retries(
    storage: PostgresStorage,
) -> None:
    later = Job(type="a")
    later.next_attempt_at = datetime.now(timezone.utc) + timedelta(hours=1)
    first, second = Job(type="a"), Job(type="b")
    for job in (later, first, second):
        storage.save_job(job)
    assert storage.reserve_due(10) == [(first.id, "a", None), (second.id, "b", None)]
    assert storage.reserve_due(10) == []


def test_a_reserved_job_is_claimed_once_and_can_be_cancelled_or_given_back(
    dsn: str, schema: str, storage: PostgresStorage
) -> None:
    jobs = [Job(type="a", payload={"n": n}) for n in range(3)]
    for job in jobs:
        storage.save_job(job)
    storage.reserve_due(3)
    claimed = storage.claim_job(jobs[0].id)
    assert claimed is not None
    assert (claimed.status, claimed.attempts, claimed.payload) == (
        JobStatus.PROCESSING,
        1,
        {"n": 0},
    )
    assert storage.claim_job(jobs[0].id) is None  # once
    cancelled = storage.cancel_job(jobs[1].id)
    assert cancelled is not None
    assert (cancelled.status, cancelled.attempts) == (JobStatus.CANCELLED, 0)
    storage.release_reserved([jobs[2].id, jobs[0].id])  # jobs[0] was claimed: left alone
    assert lease_of(dsn, schema, jobs[2].id) == ("pending", None, None)
    assert lease_of(dsn, schema, jobs[0].id)[:2] == ("processing", storage.owner)
    other = PostgresStorage(dsn, schema=schema, pool_size=1)
    try:
        again = other.claim_job(jobs[2].id)  # another host can have it now
        assert again is not None
        assert again.attempts == 1  # the reservation's attempt was given back
    finally:
        other.close()


def test_closing_gives_back_the_reserved_jobs_no_claim_took(
    dsn: str, schema: str, storage: PostgresStorage
) -> None:
    jobs = [Job(type="a") for _ in range(3)]
    for job in jobs:
        storage.save_job(job)
    storage.reserve_due(3)
    assert storage.claim_job(jobs[0].id) is not None
    storage.close()
    assert sql(dsn, f"SELECT id, status, attempts, owner FROM {schema}.jobs ORDER BY seq") == [
        (jobs[0].id, "processing", 1, storage.owner),  # claimed: its lease just ends
        (jobs[1].id, "pending", 0, None),
        (jobs[2].id, "pending", 0, None),
    ]


def test_a_claim_that_loses_its_job_to_a_reservation_under_way_finds_it_reserved(
    storage: PostgresStorage,
) -> None:
    """A worker claims its own job by id while the feeder reserves it: the claim's
    statement finds the row taken (by the reservation), yet the job must still run."""
    job = Job(type="a")
    storage.save_job(job)
    claim_done = threading.Event()
    real_one, real_all = storage._one, storage._all

    def reserve_then_wait(query: str, params: Any) -> Any:
        rows = real_all(query, params)  # the job is PROCESSING in the database now
        assert claim_done.wait(FAILURE_BOUND)  # ...and the claim has seen that
        return rows

    def claim(query: str, params: Any) -> Any:
        row = real_one(query, params)
        claim_done.set()
        return row

    storage._all = reserve_then_wait  # type: ignore[method-assign]
    storage._one = claim  # type: ignore[method-assign]
    reserver = threading.Thread(target=storage.reserve_due, args=(5,))
    reserver.start()
    # The reservation holds its lock from before its statement until the job is kept.
    wait_until(lambda: storage._reserving.locked())
    claimed = storage.claim_job(job.id)
    reserver.join(FAILURE_BOUND)
    assert claimed is not None and claimed.id == job.id
    assert storage.claim_job(job.id) is None


def test_an_unreadable_reserved_row_is_failed_and_left_out(
    dsn: str, schema: str, storage: PostgresStorage
) -> None:
    good, bad = Job(type="a"), Job(type="a")
    storage.save_job(bad)
    storage.save_job(good)
    sql(dsn, f"UPDATE {schema}.jobs SET payload = '[1]' WHERE id = %s", bad.id)
    assert [entry.id for entry in storage.reserve_due(5)] == [good.id]
    assert sql(dsn, f"SELECT status, error, owner FROM {schema}.jobs WHERE id = %s", bad.id) == [
        ("failed", "unreadable: payload is a JSON array, not an object", None)
    ]


def test_hand_over_jobs_saves_every_outcome_in_one_statement(
    dsn: str, schema: str, storage: PostgresStorage
) -> None:
    jobs = [Job(type="a", payload={"n": n}, max_retry=3) for n in range(3)]
    for job in jobs:
        storage.save_job(job)
    storage.reserve_due(3)
    done, broken, again = (storage.claim_job(job.id) for job in jobs)
    assert done is not None and broken is not None and again is not None
    done.mark_completed()
    broken.mark_failed(ValueError("no"), retry=False)
    again.mark_failed(RuntimeError("later"))
    again.next_attempt_at = again.updated_at + timedelta(seconds=30)
    statements: list[str] = []
    real_all = storage._all
    storage._all = lambda q, p: statements.append(q) or real_all(q, p)  # type: ignore[method-assign,func-returns-value]
    storage.hand_over_jobs([done, broken, again])
    assert len(statements) == 1
    for expected in (done, broken, again):
        stored = storage.get_job(expected.id)
        assert stored is not None
        assert (stored.status, stored.attempts, stored.error, stored.next_attempt_at) == (
            expected.status,
            expected.attempts,
            expected.error,
            expected.next_attempt_at,
        )
    assert sql(dsn, f"SELECT DISTINCT owner, lease_expires_at FROM {schema}.jobs") == [(None, None)]


def test_hand_over_jobs_names_a_job_that_is_not_stored_and_saves_the_rest(
    storage: PostgresStorage,
) -> None:
    known, unknown = Job(type="a"), Job(type="a")
    storage.save_job(known)
    claimed = storage.claim_job(known.id)
    assert claimed is not None
    claimed.mark_completed()
    unknown.mark_running()
    unknown.mark_completed()
    with pytest.raises(JobNotFound, match=unknown.id):
        storage.hand_over_jobs([claimed, unknown])
    stored = storage.get_job(known.id)
    assert stored is not None and stored.status is JobStatus.COMPLETED


def test_only_the_jobs_a_storage_holds_are_renewed_and_kept_from_its_own_recovery(
    dsn: str, schema: str, storage: PostgresStorage
) -> None:
    """A claim that went through but whose answer never came back (a lost connection)
    leaves a job leased to this owner that no worker runs. Its lease must run out, and
    then come back, or it would be renewed for as long as the process lives."""
    held, orphan = Job(type="a"), Job(type="a")
    storage.save_job(held)
    storage.save_job(orphan)
    assert storage.claim_job(held.id) is not None
    sql(  # the orphan: claimed in the database, never heard of here
        dsn,
        f"UPDATE {schema}.jobs SET status = 'processing', attempts = 1, owner = %s,"
        " lease_expires_at = clock_timestamp() + interval '5 seconds' WHERE id = %s",
        storage.owner,
        orphan.id,
    )
    assert storage._renew_leases() == 1  # the held job's lease, not the orphan's
    sql(dsn, f"UPDATE {schema}.jobs SET lease_expires_at = clock_timestamp() - interval '1 s'")
    assert storage.recover_expired() == 1  # a late heartbeat does not lose the held job
    assert lease_of(dsn, schema, held.id)[:2] == ("processing", storage.owner)
    back = storage.get_job(orphan.id)
    assert back is not None
    assert (back.status, back.error) == (JobStatus.PENDING, INTERRUPTED)


# -- statements over many rows never deadlock --------------------------------------------
#
# Two statements that each lock many rows, in two orders, deadlock: each holds a row the
# other waits for. The server ends one only after deadlock_timeout (1 s), and a heartbeat
# stuck that long lets short leases run out: another host ran a job again whose runner
# lived (seen in test_postgres_worker's crash test, about one run in ten). The heartbeat,
# the recovery and close() therefore skip a row another transaction holds; the saves
# and give-backs, which must wait, lock their rows in one order.


def bounded(call: Callable[[], _T]) -> _T:
    """*call*'s result, from a thread; fail (instead of hanging) if it waits on."""
    results: list[_T] = []
    thread = run_in_thread(lambda: results.append(call()))
    thread.join(FAILURE_BOUND)
    assert not thread.is_alive(), "the call waited for a row another transaction holds"
    return results[0]


def hold_row(conn: psycopg.Connection[Any], schema: str, job_id: str) -> None:
    """Lock a job's row in *conn*'s open transaction (rolled back by the caller)."""
    conn.execute(f"SELECT 1 FROM {schema}.jobs WHERE id = %s FOR UPDATE", (job_id,))


def claimed_run(storage: PostgresStorage) -> Job:
    """A new job, saved and claimed by *storage*: the copy its worker runs."""
    job = Job(type="a")
    storage.save_job(job)
    run = storage.claim_job(job.id)
    assert run is not None
    return run


def test_the_heartbeat_renews_around_a_row_another_transaction_holds(
    dsn: str, schema: str, storage: PostgresStorage
) -> None:
    jobs = [claimed_run(storage) for _ in range(3)]
    with psycopg.connect(dsn) as other:
        hold_row(other, schema, jobs[1].id)  # as the completer's save of it would
        try:
            assert bounded(storage._renew_leases) == 2
        finally:
            other.rollback()
    assert storage._renew_leases() == 3  # the next beat renews it


def test_a_recovery_takes_back_around_a_row_another_transaction_holds(
    dsn: str, schema: str, storage: PostgresStorage
) -> None:
    jobs = [Job(type="a") for _ in range(3)]
    for job in jobs:
        storage.save_job(job)
    sql(  # three jobs of a host that stopped renewing a second ago
        dsn,
        f"UPDATE {schema}.jobs SET status = 'processing', attempts = 1, owner = 'gone',"
        " lease_expires_at = clock_timestamp() - interval '1 second'",
    )
    with psycopg.connect(dsn) as other:
        hold_row(other, schema, jobs[0].id)  # its late save, say
        try:
            assert bounded(storage.recover_expired) == 2
        finally:
            other.rollback()
    assert storage.recover_expired() == 1


def test_closing_ends_leases_around_a_row_another_transaction_holds(
    dsn: str, schema: str, storage: PostgresStorage
) -> None:
    jobs = [claimed_run(storage) for _ in range(2)]
    with psycopg.connect(dsn) as other:
        hold_row(other, schema, jobs[0].id)
        try:
            bounded(storage.close)
        finally:
            other.rollback()
    skipped, ended = (lease_of(dsn, schema, job.id)[2] for job in jobs)
    assert skipped is not None and skipped > 1  # its lease runs out by itself
    assert ended is not None and ended <= 0  # another host may take it now


def test_saves_of_the_same_jobs_in_opposite_orders_both_go_through(
    dsn: str, schema: str, storage: PostgresStorage
) -> None:
    """Both saves wait for a row a third transaction holds, then for each other: locking
    in one order (by id), the second waits for the first instead of holding a row it wants."""
    jobs = [completed_run(storage) for _ in range(6)]
    by_id = sorted(jobs, key=lambda job: job.id)
    errors: list[BaseException] = []

    def save(batch: list[Job]) -> None:
        try:
            storage.hand_over_jobs(batch)
        except BaseException as err:  # a deadlock's StorageBusy, reported below
            errors.append(err)

    with psycopg.connect(dsn) as other:
        hold_row(other, schema, by_id[3].id)
        try:
            first = run_in_thread(lambda: save(by_id[::-1]))
            wait_until(lambda: waiting_for_locks(dsn) == 1, poll=0.01)
            second = run_in_thread(lambda: save(by_id))
            wait_until(lambda: waiting_for_locks(dsn) == 2, poll=0.01)
        finally:
            other.rollback()
        join_all([first, second])
    assert errors == []
    saved = [storage.get_job(job.id) for job in jobs]
    assert {job.status for job in saved if job is not None} == {JobStatus.COMPLETED}
    assert None not in saved


def waiting_for_locks(dsn: str) -> int:
    """How many of the server's sessions wait for a lock now."""
    [(count,)] = sql(dsn, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
    return int(count)


# -- a late outcome ------------------------------------------------------------------------


@pytest.fixture
def stalled(dsn: str, schema: str) -> Iterator[PostgresStorage]:
    """A host whose heartbeat does not beat during a test (its lease is an hour), so that
    a test can end its leases as a stalled process's run out."""
    store = PostgresStorage(dsn, schema=schema, lease=3600)
    try:
        yield store
    finally:
        store.close()


def completed_run(storage: PostgresStorage) -> Job:
    """A new job claimed by *storage* and run: the outcome it has to hand over."""
    run = claimed_run(storage)
    run.mark_completed()
    return run


def taken_over(dsn: str, schema: str, late: PostgresStorage) -> tuple[Job, PostgresStorage]:
    """A run of *late*'s that outlived its lease: another host took the job back and
    claimed it. Returns the run and that host (the caller closes it)."""
    run = completed_run(late)
    sql(dsn, f"UPDATE {schema}.jobs SET lease_expires_at = clock_timestamp() WHERE id = %s", run.id)
    other = PostgresStorage(dsn, schema=schema)  # opening takes expired leases back
    assert other.recovered == 1
    assert other.claim_job(run.id) is not None
    return run, other


def test_a_late_outcome_is_not_saved_over_a_job_another_host_took_over(
    dsn: str, schema: str, stalled: PostgresStorage
) -> None:
    late, other = taken_over(dsn, schema, stalled)
    try:
        run = completed_run(stalled)
        with pytest.raises(LeaseLost, match=rf"job {late.id} .*{other.owner}") as info:
            stalled.hand_over_jobs([late, run])
        assert info.value.job_id == late.id
        assert lease_of(dsn, schema, late.id)[:2] == ("processing", other.owner)  # untouched
        saved = stalled.get_job(run.id)
        assert saved is not None and saved.status is JobStatus.COMPLETED  # the other one
        stalled.hand_over_jobs([run])  # saving the same outcome again is harmless
        with pytest.raises(LeaseLost):
            stalled.hand_over_job(late)
        assert lease_of(dsn, schema, late.id)[:2] == ("processing", other.owner)
    finally:
        other.close()


def test_a_late_outcome_ends_a_job_taken_back_that_nobody_runs_yet(
    dsn: str, schema: str, stalled: PostgresStorage
) -> None:
    run = completed_run(stalled)
    sql(dsn, f"UPDATE {schema}.jobs SET lease_expires_at = clock_timestamp()")
    with PostgresStorage(dsn, schema=schema) as other:
        assert other.recovered == 1  # pending again, nobody's
        stalled.hand_over_jobs([run])
        assert other.claim_job(run.id) is None  # done: not run a second time
    saved = stalled.get_job(run.id)
    assert saved is not None and saved.status is JobStatus.COMPLETED


def test_a_worker_drops_the_outcome_of_a_job_taken_over_and_saves_the_rest(
    dsn: str, schema: str, stalled: PostgresStorage, caplog: pytest.LogCaptureFixture
) -> None:
    late, other = taken_over(dsn, schema, stalled)
    try:
        run = completed_run(stalled)
        done = RunOutcome(JobStatus.COMPLETED)
        outcomes = JobProcessor(stalled).hand_over_all([(late, done), (run, done)])
        assert outcomes == [RunOutcome(None), done]  # the lost run counts as not run here
        assert f"job {late.id}: this run's outcome (completed) is dropped" in caplog.text
        assert lease_of(dsn, schema, late.id)[:2] == ("processing", other.owner)
        saved = stalled.get_job(run.id)
        assert saved is not None and saved.status is JobStatus.COMPLETED
    finally:
        other.close()
