"""``PostgresStorage``: jobs in a PostgreSQL database that many processes and hosts share.

Needs the optional extra ``pip install goqueue[postgres]`` (psycopg 3 and psycopg_pool).
This module imports them only when a storage is made, so ``import goqueue`` works without
them.

**Claims.** ``claim_job`` is one statement::

    UPDATE jobs SET status = 'processing', ... WHERE seq =
        (SELECT seq FROM jobs WHERE id = $1 AND status = 'pending' FOR UPDATE SKIP LOCKED)
    RETURNING ...

The row lock makes the check "still pending?" and the change one step, whatever other
connections do; ``SKIP LOCKED`` makes a worker that finds the row locked by another claim
give up at once (the other one wins) instead of waiting for it. A job is run by one worker
of one process, and no claim ever waits for another.

**Leases** follow ``SQLiteStorage``'s design: a claim writes this storage's ``owner`` id
and a lease expiry on the row; a heartbeat thread renews the leases of the jobs this
storage *holds* (claimed or reserved here, their outcome not saved yet) every ``lease / 3``
seconds; ``recover_expired()`` (and opening, with ``recover=True``) puts back to pending
only the jobs whose lease has run out, with the error ``INTERRUPTED``; ``close()`` ends
this owner's leases at once. Two differences: lease times are read from the *database
server's* clock (``clock_timestamp()``), so hosts whose clocks disagree still agree on when
a lease ends; and over a network a claim can go through while its answer is lost, or an
outcome fail to be saved. Such a job is leased to this owner but held by nobody, so its
lease is not renewed: it runs out, and the job is run again (at least once).

**Lock order.** A statement that changes many rows (a heartbeat's renewal, a batch of
outcomes) locks them one at a time and waits for any row another transaction holds. Two
such statements over the same rows in different orders deadlock, and the server breaks
the cycle only after ``deadlock_timeout`` (1 s by default): long enough for the leases of
a live host to run out, and for its jobs to run twice. So the statements that need not
wait never do (the renewal, the recovery and ``close()`` skip a locked row: it is being
saved, given back or taken back), and the two that must (saving outcomes, giving back
reserved jobs) lock their rows in one order, by id.

**Wake-ups.** Saving a pending job sends ``NOTIFY <schema>_jobs`` in the same statement
(so the notice goes out when the job is committed, never before). ``wait_for_jobs`` waits
for such a notice on a connection of its own that ``LISTEN``\\s: an idle worker pool on
another host takes on a new job within milliseconds. While no notice comes, it looks at
the table only once a second (``goqueue.pool.POLL_INTERVAL``), for jobs that fall due
without a notice (a retry left by a host that stopped, a job saved with a later due time).

**Connections.** A ``psycopg_pool.ConnectionPool`` of ``pool_size`` connections (give one
per worker thread plus two), in autocommit mode: every call is one statement, so one round
trip and one transaction. Datetimes come back in UTC.

**Errors** name the server as ``host``, ``port`` and ``dbname``, never the password.
Failures worth retrying become ``StorageBusy`` (which the worker pool retries):
serialization failures and deadlocks (SQLSTATE class 40), a server shutting down or
restarting (57P01-57P03), a lost connection (class 08), too many connections (53300), or
no free connection in the pool within ``timeout``. Everything else is ``StorageError``. A
row that cannot be read back as a job raises ``JobCorrupted``, and a pending one is marked
failed, as in ``SQLiteStorage``.

**Schema.** Tables live in their own PostgreSQL schema (``goqueue`` by default; another
name gives another, separate queue in the same database). Opening creates the schema and
its tables if missing, under an advisory lock so that processes opening at once do not
trip over each other; ``version`` holds the layout's ``SCHEMA_VERSION`` (1 is the first),
and a schema made by a newer goqueue is refused.

**Batches.** A worker pool on this storage (``batches`` is True) takes on jobs by
*reserving* them: its feeder claims up to as many due jobs as it has room for in one
statement (``reserve_due``: ``FOR UPDATE SKIP LOCKED ... LIMIT n``), kept here until a
worker's ``claim_job`` takes one, with no second round trip. Hosts reserving at the same
moment get different jobs, so none of them loses claims to the others. The outcomes of
many runs are saved in one statement too (``hand_over_jobs``). ``list_pending`` is not on
that path: it reads a bounded list of the oldest pending jobs, for whoever wants to look.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import secrets
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NoReturn

from ._leases import start_heartbeat
from ._postgres_sql import CREATE, Statements, job_from_row, outcome_row
from .errors import (
    JobCorrupted,
    JobNotFound,
    LeaseLost,
    QueueStateError,
    StorageBusy,
    StorageError,
)
from .job import Job, JobStatus
from .sqlite_storage import INTERRUPTED
from .storage import JobStorage, PendingJob

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

__all__ = [
    "INTERRUPTED",
    "PENDING_BATCH",
    "SCHEMA_VERSION",
    "PostgresStorage",
]

log = logging.getLogger("goqueue")

#: The layout of the tables, kept in ``<schema>.version``. 1: the first.
SCHEMA_VERSION = 1

#: The most pending jobs one ``list_pending`` returns (the oldest due ones).
PENDING_BATCH = 1000

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")

# SQLSTATEs worth trying again: a whole class (first two characters) or one code.
_TRANSIENT_CLASSES = ("08", "40")  # connection exception, transaction rollback
_TRANSIENT_CODES = ("53300", "57P01", "57P02", "57P03")  # too many connections, shutdown


class PostgresStorage(JobStorage):
    """Jobs in a PostgreSQL database, shared by the threads of many processes and hosts.

    Args:
        dsn: a libpq connection string or URL, e.g. ``"host=db1 dbname=jobs user=app"``
            or ``"postgresql://app:secret@db1/jobs"``.
        lease: seconds a claimed job stays this storage's without a heartbeat; renewed
            every ``lease / 3`` seconds while the storage is open.
        pool_size: connections kept open (the pool's size); one per worker thread plus
            two is enough for no worker to wait for a connection. Default 4.
        schema: the PostgreSQL schema that holds the tables; lowercase letters, digits
            and ``_``, at most 40 characters.
        recover: on open, put back to pending the jobs whose lease has run out.
        timeout: seconds to wait for a connection (to the server, or a free one in the
            pool) before ``StorageBusy``.

    Attributes:
        owner: this storage's id, written on the jobs it claims (random per instance).
        lease: as given.
        schema: as given.
        server: ``host``, ``port`` and ``dbname`` of the DSN, for messages (no password).
        recovered: how many jobs ``recover`` put back to pending on open.

    Raises:
        ImportError: psycopg or psycopg_pool is not installed.
        TypeError: *lease*, *timeout* or *pool_size* of the wrong type.
        ValueError: a bad *lease*, *timeout*, *pool_size* or *schema*.
        StorageError: the server cannot be reached or refuses the login, or the schema
            was made by a newer goqueue (``StorageBusy`` for a transient failure).
    """

    shared = True
    batches = True

    def __init__(
        self,
        dsn: str,
        *,
        lease: float = 30.0,
        pool_size: int | None = None,
        schema: str = "goqueue",
        recover: bool = True,
        timeout: float = 30.0,
    ) -> None:
        lease = _check_seconds("lease", lease)
        timeout = _check_seconds("timeout", timeout)
        if pool_size is None:
            pool_size = 4
        if isinstance(pool_size, bool) or not isinstance(pool_size, int):
            raise TypeError(f"pool_size must be an int, got {type(pool_size).__name__}")
        if pool_size < 1:
            raise ValueError(f"pool_size must be >= 1, got {pool_size}")
        if not isinstance(schema, str) or not _SCHEMA_NAME.match(schema):
            raise ValueError(
                "schema must be lowercase letters, digits and _ (at most 40,"
                f" not starting with a digit), got {schema!r}"
            )
        try:
            import psycopg
            import psycopg_pool
            from psycopg.conninfo import conninfo_to_dict
        except ImportError as err:
            raise ImportError(
                "PostgresStorage needs psycopg and psycopg_pool: pip install 'goqueue[postgres]'"
            ) from err

        try:
            params = conninfo_to_dict(dsn)
        except psycopg.Error as err:  # the message may quote the DSN: never show it
            raise ValueError("dsn is not a valid libpq connection string or URL") from err
        self.server = " ".join(
            f"{key}={params.get(key) or default}"
            for key, default in (("host", "default"), ("port", "5432"), ("dbname", "default"))
        )
        self._secret = str(params.get("password") or "")
        self.owner = f"{os.getpid()}-{secrets.token_hex(6)}"
        self.lease = lease
        self.schema = schema
        self.recovered = 0
        self.channel = f"{schema}_jobs"
        self._dsn = dsn
        self._timeout = timeout
        self._sql = Statements(schema, self.channel)
        self._lock = threading.Lock()  # guards self._heartbeat and self._closed
        self._closed = True  # guarded by self._lock; False once the pool is made
        self._heartbeat: threading.Thread | None = None  # guarded by self._lock
        self._closing = threading.Event()  # set by close(): the heartbeat stops
        # The LISTEN connection, opened by the first wait_for_jobs; guarded by
        # self._listen_lock, which wait_for_jobs holds while it waits.
        self._listen_lock = threading.Lock()
        self._listener: psycopg.Connection[Any] | None = None
        # Guarded by self._reserved_lock: the jobs reserve_due claimed and no claim_job
        # has taken yet; and the ids of every job this storage holds, claimed or reserved
        # and its outcome not saved: the heartbeat renews these leases, no others. A job
        # whose claim went through but whose answer was lost, or whose outcome could not
        # be saved, is not held: its lease runs out and it is run again.
        self._reserved_lock = threading.Lock()
        self._reserved: dict[str, Job] = {}
        self._held: set[str] = set()
        # Held while a reservation is under way, so that a claim that lost a job to it
        # can wait and find the job reserved.
        self._reserving = threading.Lock()
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=_whole(timeout)) as conn:
                self._migrate(conn)
                if recover:
                    self.recovered = self._recover(conn)
        except psycopg.Error as err:
            raise self._error(err, opening=True) from err
        self._pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            dsn,
            min_size=pool_size,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": _whole(timeout)},
            configure=_configure,
            timeout=timeout,
            name=f"goqueue-{self.owner}",
            open=True,
        )
        self._closed = False

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        """Create the schema and tables, or check that a newer goqueue did not make them."""
        with conn.transaction():
            # One opener at a time per schema: CREATE ... IF NOT EXISTS is not safe
            # against another session doing the same at the same moment.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"goqueue:{self.schema}",))
            for statement in CREATE.format(s=self.schema).split(";"):
                if statement.strip():
                    conn.execute(statement)
            row = conn.execute(f"SELECT max(version) FROM {self.schema}.version").fetchone()
            version = row[0] if row is not None else None
            if version is None:
                conn.execute(
                    f"INSERT INTO {self.schema}.version VALUES (%s)",
                    (SCHEMA_VERSION,),
                )
            elif version > SCHEMA_VERSION:
                raise StorageError(
                    f"postgres storage {self.server}: schema {self.schema!r} has version"
                    f" {version}, newer than this goqueue's ({SCHEMA_VERSION})"
                )

    def __repr__(self) -> str:
        if self._closed:
            state = "closed"
        else:
            try:
                state = f"jobs={len(self)}"
            except (StorageError, QueueStateError):  # a repr must not fail
                state = "unreadable"
        return f"<PostgresStorage {self.server} schema={self.schema} {state}>"

    def __len__(self) -> int:
        row = self._one(self._sql.count, ())
        return int(row[0]) if row is not None else 0

    # -- running statements ----------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection from the pool; psycopg and pool errors leave as ``StorageError``."""
        import psycopg
        import psycopg_pool

        if self._closed:
            raise QueueStateError(f"postgres storage is closed: {self.server}")
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg_pool.PoolTimeout as err:
            raise StorageBusy(
                f"postgres storage {self.server}: no connection within {self._timeout} s"
            ) from err
        except psycopg_pool.PoolClosed as err:
            raise QueueStateError(f"postgres storage is closed: {self.server}") from err
        except psycopg.Error as err:
            raise self._error(err) from err

    def _one(self, query: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        """Run *query*; return its first row (None if none)."""
        with self._connection() as conn:
            row: tuple[Any, ...] | None = conn.execute(query, params).fetchone()
            return row

    def _all(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run *query*; return all its rows."""
        with self._connection() as conn:
            rows: list[tuple[Any, ...]] = conn.execute(query, params).fetchall()
            return rows

    def _count(self, query: str, params: Sequence[Any]) -> int:
        """Run *query*; return how many rows it changed."""
        with self._connection() as conn:
            return conn.execute(query, params).rowcount

    def _error(self, err: Exception, *, opening: bool = False) -> StorageError:
        """The ``StorageError`` (``StorageBusy`` if transient) for a psycopg error.

        An ``OperationalError`` with no SQLSTATE is a connection that failed or was lost:
        transient on a pooled connection (the pool replaces it), but not when opening,
        where it is as likely a wrong password or host as a server restarting.
        """
        import psycopg

        code = getattr(err, "sqlstate", None) or ""
        transient = code[:2] in _TRANSIENT_CLASSES or code in _TRANSIENT_CODES
        if not code and isinstance(err, psycopg.OperationalError) and not opening:
            transient = True
        text = str(err).strip() or type(err).__name__
        if self._secret:
            text = text.replace(self._secret, "***")
        kind = StorageBusy if transient else StorageError
        return kind(f"postgres storage {self.server}: {text}")

    # -- JobStorage -----------------------------------------------------------------

    def save_job(self, job: Job) -> None:
        self._save_as(job.id, job.status, self._sql.save, self._to_row(job))

    def get_job(self, job_id: str) -> Job | None:
        """Return a copy of the stored job, or None if there is none with that id.

        Raises:
            JobCorrupted: the row cannot be read back (a pending one is marked failed).
        """
        row = self._one(self._sql.get, (job_id,))
        return None if row is None else self._read(row)

    def update_job(self, job: Job) -> None:
        job_id, *rest = self._to_row(job)
        if self._save_as(job_id, job.status, self._sql.update, (*rest, job_id)) is None:
            raise JobNotFound(job.id)

    def _save_as(
        self, job_id: str, status: JobStatus, query: str, params: Sequence[Any]
    ) -> tuple[Any, ...] | None:
        """Run *query*, which saves the job *job_id* as *status*; hold the job if it is
        running now, else let go of it, saved or not (see ``self._held``)."""
        running = status is JobStatus.PROCESSING
        if running:
            self._hold([job_id])
        try:
            return self._one(query, params)
        finally:
            if not running:
                self._let_go([job_id])

    def hand_over_job(self, job: Job) -> None:
        """Save a run's outcome, as ``hand_over_jobs`` does (not over another owner's run).

        Raises:
            JobNotFound: the job is not stored.
            LeaseLost: another process holds the job now; nothing is saved.
        """
        self.hand_over_jobs([job])

    def hand_over_jobs(self, jobs: list[Job]) -> None:
        """Save the outcomes of many runs in one statement (one transaction).

        A job another owner holds now is left as it is: its lease ran out while it ran
        here, and that owner took it over (see ``LeaseLost``). Saving the same outcome
        twice is harmless.

        Raises:
            LeaseLost: another process holds a job now (the others are saved).
            JobNotFound: a job is not stored (the others are saved).
        """
        if not jobs:
            return
        # One JSON array of rows, one parameter: json.dumps is much cheaper than
        # adapting ten SQL arrays, one per column.
        document = json.dumps([outcome_row(job) for job in jobs], allow_nan=False)
        ids = [job.id for job in jobs]
        try:
            rows = self._all(self._sql.hand_over, (document, ids, self.owner))
        finally:
            self._let_go(ids)  # saved, or to be run again once the lease runs out
        if len(rows) < len(jobs):
            stored = {row[0] for row in rows}
            self._refused([job_id for job_id in ids if job_id not in stored])

    def claim_job(self, job_id: str) -> Job | None:
        """Atomically start a pending job: PENDING -> PROCESSING, leased to this owner.

        One statement (see the module docstring): it never waits for another claim.

        Returns:
            A copy of the claimed job, or None if it is not pending, does not exist, or
            another worker is claiming it right now (and will have it).

        Raises:
            JobCorrupted: the row cannot be read back; it is marked failed.
            StorageBusy: a transient failure (connection lost, server restarting).
        """
        with self._reserved_lock:
            job = self._reserved.pop(job_id, None)
        if job is not None:  # reserved by this storage's reserve_due: claimed already
            return job
        row = self._one(self._sql.claim, (_now(), self.owner, self.lease, job_id))
        if row is None:
            # Lost, perhaps, to a reservation of this storage under way: wait for it to
            # end, then look again, or the job would sit reserved and never run.
            with self._reserving, self._reserved_lock:
                return self._reserved.pop(job_id, None)
        self._hold([job_id])
        return self._read(row)

    def cancel_job(self, job_id: str) -> Job | None:
        """Atomically cancel a pending job, or one reserved here and not started.

        Returns:
            A copy of the cancelled job, or None if it was not pending (nor reserved).
        """
        with self._reserved_lock:
            reserved = self._reserved.pop(job_id, None) is not None
        if reserved:
            try:
                row = self._one(self._sql.cancel_reserved, (_now(), job_id, self.owner))
            finally:
                self._let_go([job_id])
        else:
            row = self._one(self._sql.cancel, (_now(), job_id))
        return None if row is None else self._read(row)

    def reserve_due(self, limit: int) -> list[PendingJob]:
        """Claim up to *limit* due pending jobs at once, oldest first (one statement).

        ``FOR UPDATE SKIP LOCKED`` makes hosts that reserve at the same moment take
        different jobs: none waits for another, and none loses a claim it reached for.
        The jobs are kept here, payload and all, for ``claim_job``; they are leased
        and their leases renewed like those of running jobs, so a host that dies with
        jobs reserved gives them back when the lease runs out (their attempt counted,
        as for a job that was running). An unreadable row among them is failed and left
        out.
        """
        if limit <= 0:
            return []
        with self._reserving:
            rows = self._all(self._sql.reserve, (limit, _now(), self.owner, self.lease))
            self._hold([row[1] for row in rows])
            rows.sort(key=lambda row: row[0])  # by seq: oldest first
            jobs: list[Job] = []
            for row in rows:
                try:
                    jobs.append(job_from_row(row[1:]))
                except ValueError as err:
                    self._let_go([row[1]])
                    self._fail_reserved(row[1], str(err))
            with self._reserved_lock:
                for job in jobs:
                    self._reserved[job.id] = job
        return [PendingJob(job.id, job.type, None) for job in jobs]

    def release_reserved(self, job_ids: Iterable[str]) -> None:
        """Put jobs reserved here and not claimed since back to pending (one statement)."""
        with self._reserved_lock:
            ids = [job_id for job_id in job_ids if self._reserved.pop(job_id, None) is not None]
        if ids:
            try:
                self._all(self._sql.release, (ids, self.owner))
            finally:
                self._let_go(ids)

    def list_jobs(self, status: JobStatus | None = None) -> list[Job]:
        """Copies of all stored jobs (with *status* only, if given), oldest first.

        Raises:
            JobCorrupted: a row cannot be read back; it names the first such job, and
                every pending one among them is marked failed.
        """
        if status is None:
            rows = self._all(self._sql.list_all, ())
        else:
            rows = self._all(self._sql.list_status, (status.value,))
        jobs: list[Job] = []
        bad: list[tuple[str, str]] = []
        for row in rows:
            try:
                jobs.append(job_from_row(row))
            except ValueError as err:
                bad.append((row[0], str(err)))
        if bad:
            raise self._quarantine(bad)
        return jobs

    def list_pending(self) -> list[PendingJob]:
        """Id, type and due time of (at most ``PENDING_BATCH``) pending jobs, oldest first.

        No payloads. When there are more, the list holds the oldest jobs that are due
        first, then the retries that are not due yet, soonest first, so that a crowd of
        far-off retries never hides jobs that could run now; the list itself is in the
        order the jobs were saved. (A worker pool on this storage never reads it: it
        takes on jobs with ``reserve_due``.)
        """
        rows = self._all(self._sql.pending, (PENDING_BATCH,))
        return [PendingJob(job_id, job_type, due) for job_id, job_type, due in rows]

    def wait_for_jobs(self, timeout: float) -> bool:
        """Block until a job is saved as pending (by any process), or *timeout* passes.

        Listens on the channel ``<schema>_jobs`` with a connection of its own (opened on
        the first call). Notices that came while nobody waited are not lost: the next
        call returns at once. A failure to listen falls back to waiting *timeout*.

        Returns:
            True if a notice came, or if this call could not be sure of hearing every
            one (it opened the listening connection, whose ``LISTEN`` missed what came
            before it; or it could not listen); False if it listened all the time and
            nothing was saved.
        """
        import psycopg

        with self._listen_lock:
            if self._closed:
                raise QueueStateError(f"postgres storage is closed: {self.server}")
            try:
                listener = self._listener
                opened = False  # a new LISTEN missed what came before it
                if listener is None or listener.closed:
                    listener = self._listener = psycopg.connect(
                        self._dsn, autocommit=True, connect_timeout=_whole(self._timeout)
                    )
                    listener.execute(f"LISTEN {self.channel}")
                    opened = True
                woken = False
                for _ in listener.notifies(timeout=timeout, stop_after=1):
                    woken = True
                if woken:  # take in the notices that came with it: one wake-up for all
                    for _ in listener.notifies(timeout=0.0):
                        pass
                return woken or opened
            except psycopg.Error as err:
                log.warning("could not listen for new jobs: %s", self._error(err))
                if self._listener is not None:
                    self._listener.close()
                    self._listener = None
        self._closing.wait(timeout)
        return True

    def clear(self) -> None:
        self._count(self._sql.clear, ())

    def recover_expired(self) -> int:
        """Put back to pending the running jobs whose owner's lease has run out.

        What opening with ``recover=True`` does, for a process that stays up while
        others (which may die) share the database: ``python -m goqueue worker`` calls it
        every ``lease / 2`` seconds. The jobs this storage holds (claimed or reserved,
        their outcome not saved yet) are never taken, even if a late heartbeat let a lease
        run out; its own others are (a claim whose answer was lost, an outcome that could
        not be saved). Waiting pools are told (NOTIFY) when jobs come back.

        Returns:
            How many jobs went back to pending.
        """
        with self._reserved_lock:
            held = list(self._held)
        row = self._one(self._sql.recover, (self.owner, held, INTERRUPTED))
        return int(row[0]) if row is not None else 0

    def _recover(self, conn: psycopg.Connection[Any]) -> int:
        row = conn.execute(self._sql.recover, (self.owner, [], INTERRUPTED)).fetchone()
        return int(row[0]) if row is not None else 0

    def close(self) -> None:
        """Stop the heartbeat, end this owner's leases, close every connection.

        The jobs still running under this storage can no longer have their outcome
        saved here, so their leases end now and another process may take them back at
        once. Idempotent; any later call raises ``QueueStateError``.
        """
        self._closing.set()
        with self._lock:
            if self._closed:
                return
            heartbeat = self._heartbeat
        if heartbeat is not None:
            heartbeat.join()
            try:
                with self._reserved_lock:
                    unclaimed = list(self._reserved)
                self.release_reserved(unclaimed)  # never started: back as they were
                self._count(self._sql.end_leases, (self.owner,))
            except StorageError as err:  # the leases run out by themselves
                log.warning("could not end the leases of %s: %s", self.owner, err)
        with self._lock:
            self._closed = True
        self._pool.close()
        with self._listen_lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None

    def __enter__(self) -> PostgresStorage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- leases and unreadable rows -------------------------------------------------

    def _to_row(self, job: Job) -> tuple[Any, ...]:
        """The job's columns, then owner and lease seconds (None unless running)."""
        running = job.status is JobStatus.PROCESSING
        return (
            job.id,
            job.type,
            json.dumps(job.payload, allow_nan=False),
            job.max_retry,
            job.status.value,
            job.attempts,
            job.error,
            job.created_at,
            job.updated_at,
            job.next_attempt_at,
            self.owner if running else None,
            self.lease if running else None,
        )

    def _start_heartbeat(self) -> None:
        """Start the thread that renews this owner's leases, unless it runs already."""
        with self._lock:
            if self._heartbeat is None and not self._closing.is_set():
                self._heartbeat = start_heartbeat(self, self._closing, self.lease / 3)

    def _renew_leases(self) -> int:
        """Move the lease of every job this storage holds ``lease`` seconds ahead."""
        with self._reserved_lock:
            held = list(self._held)
        return self._count(self._sql.renew, (self.owner, held, self.lease)) if held else 0

    def _hold(self, job_ids: list[str]) -> None:
        """This storage runs (or has reserved) these jobs now: renew their leases."""
        if job_ids:
            with self._reserved_lock:
                self._held.update(job_ids)
            if self._heartbeat is None:
                self._start_heartbeat()

    def _let_go(self, job_ids: list[str]) -> None:
        with self._reserved_lock:
            self._held.difference_update(job_ids)

    def _refused(self, job_ids: list[str]) -> NoReturn:
        """Raise why the outcomes of *job_ids* were not saved: held by another owner, or
        not stored."""
        owners = dict(self._all(self._sql.owners, (job_ids,)))
        for job_id in job_ids:
            if job_id in owners:
                raise LeaseLost(f"postgres storage {self.server}", job_id, owners[job_id])
        raise JobNotFound(job_ids[0])

    def _read(self, row: tuple[Any, ...]) -> Job:
        try:
            return job_from_row(row)
        except ValueError as err:
            raise self._quarantine([(row[0], str(err))]) from None

    def _fail_reserved(self, job_id: str, reason: str) -> None:
        log.error(
            "postgres storage %s: reserved job %s cannot be read and is failed: %s",
            self.server,
            job_id,
            reason,
        )
        try:
            failure = f"unreadable: {reason}"
            self._count(self._sql.fail_reserved, (failure, _now(), job_id, self.owner))
        except StorageError as err:  # its lease runs out, and it is tried again
            log.warning("could not mark unreadable job %s failed: %s", job_id, err)

    def _quarantine(self, bad: list[tuple[str, str]]) -> JobCorrupted:
        """Mark the pending rows among *bad* ``(id, reason)`` failed; return the error."""
        try:
            for job_id, reason in bad:
                self._count(self._sql.fail_unreadable, (f"unreadable: {reason}", _now(), job_id))
        except StorageError as err:
            log.warning("could not mark unreadable jobs failed: %s", err)
        job_id, reason = bad[0]
        more = len(bad) - 1
        others = f" (and {more} more unreadable job{'s' * (more > 1)})" if more else ""
        return JobCorrupted(
            f"postgres storage {self.server}: job {job_id} cannot be read: {reason}{others}",
            job_id=job_id,
        )


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Set up a new pooled connection: datetimes in UTC, no sorting where an index
    gives the order, and no JIT compilation.

    ``enable_sort = off`` keeps ``reserve_due`` on the ``jobs_pending`` index: reading
    the oldest pending jobs in order, it stops after *limit*. A planner that thinks the
    table small (a burst of jobs before autovacuum's ANALYZE has seen them) otherwise
    reads every pending row and sorts them all: 5-10 ms with 20,000 pending, against
    0.1 ms. A query that cannot do without a sort still sorts.

    ``jit = off`` because of that setting: it prices a sort at 10^10, far over
    ``jit_above_cost``, so a statement that must sort (``list_pending``, which every
    pool's ``start()`` called then) was compiled by LLVM before it ran, about 0.1 s of
    server CPU on an idle machine and 0.5 s with eight hosts starting at once, for a
    statement that then ran in 0.1 ms. No statement here is long enough for JIT to pay.
    """
    conn.execute("SET TIME ZONE 'UTC'")
    conn.execute("SET enable_sort = off")
    conn.execute("SET jit = off")


def _check_seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value}")
    return float(value)


def _whole(seconds: float) -> int:
    """libpq's connect_timeout: whole seconds, at least 2 (it treats 1 as 2)."""
    return max(2, math.ceil(seconds))


def _now() -> datetime:
    return datetime.now(timezone.utc)
