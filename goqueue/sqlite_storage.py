"""``SQLiteStorage``: jobs in a SQLite file, so they survive the process that ran them.

One table, one row per job. The payload is stored as JSON text (``goqueue.payload`` has
already refused anything JSON cannot hold, at submit), and datetimes as ISO 8601 strings,
which give back exactly the timezone-aware value that went in.

**Threads.** A ``sqlite3.Connection`` is made for one thread: by default Python refuses to
use it from another (``check_same_thread``), and even with that check off, a connection has
one transaction at a time, so two threads using it at once would run their statements inside
each other's transactions. The choices are a connection per thread, or one connection
behind a lock. This storage takes the second: one connection, opened with
``check_same_thread=False``, and ``self._lock`` held for each *whole* transaction. Inside
a process, SQLite lets only one writer in at a time anyway, so the lock costs little, and no
two threads of the process can ever meet at SQLite's file lock: "database is locked" cannot
happen between them, however many workers there are. (With a connection per thread, every
write would race for the file lock and rely on the busy timeout to wait its turn, and the
connections of threads that have ended would stay open until garbage-collected.)

**Processes.** Two processes on the same file have two connections, and SQLite's file lock
is what keeps them apart. The database is in WAL mode (readers never block the writer), with
a busy timeout so a writer waits for the other process instead of failing, and
``claim_job`` and ``cancel_job`` run in ``BEGIN IMMEDIATE`` transactions: the write lock
is taken *before* the job's status is read, so the check "still pending?" and the change
to "processing" cannot be split by the other process. A job is claimed once, whichever
process asks first.

**Durability.** ``synchronous=NORMAL``: in WAL mode a commit is safe against the process
dying (a crash, ``SIGKILL``) but the last commits before a power cut or an OS crash may be
lost. ``synchronous=FULL`` would sync the disk on every commit, several times slower.

**Recovery.** Every storage has an ``owner`` id. A claim writes it on the job's row with a
*lease*: a time (``lease`` seconds ahead, by the wall clock, which all processes share)
until which the job belongs to that owner. While the storage is open, a heartbeat thread
renews the leases of its running jobs every ``lease / 3`` seconds, so a job whose handler
runs for an hour keeps its owner. A process that dies stops renewing; once its leases have
run out, its jobs are taken back: put back to ``pending`` when a storage opens the file
(``recover=True``, the default) or calls ``recover_expired()``. The jobs of a live process
are not taken, so two processes on one file do not run one job at once, as long as the
heartbeat keeps up (a process frozen for longer than the lease loses its jobs, and
when it wakes its outcome is refused with ``LeaseLost`` if another took the job). Oban,
river and procrastinate also take abandoned jobs back after a time; procrastinate, like
this storage, counts it from a heartbeat. ``close()`` ends the leases of the jobs still
running under it at once: its process can no longer save their outcome. Rows written by
an older goqueue, which have no owner, are taken back like expired ones.

Delivery is therefore *at least once*: a handler that was killed halfway, or just after
finishing but before its result was saved, runs again, so handlers should be idempotent.
The interrupted attempt still counts in ``attempts``, and the job keeps ``INTERRUPTED`` as
its error until it runs again; the re-run happens even if that attempt was its last, since
nothing recorded a failure. ``recover=False`` opens the file without taking anything back.

**Errors.** A failure of SQLite (the file is not a database, is read-only, a disk I/O
error) is raised as ``StorageError`` with the file's path and SQLite's message; "database
is locked" (another process held the write lock for longer than ``timeout``) as
``StorageBusy``, which is worth retrying. Every write is one transaction, so a failed call
leaves nothing half-written. A row that cannot be read back (a payload that is not JSON, an
unknown status, a date that does not parse) raises ``JobCorrupted`` naming the job; a
*pending* one is also marked ``failed`` with ``"unreadable: <reason>"`` as its error, so a
queue skips it and runs the rest. ``list_pending`` never reads a payload.

**Files.** A new database file is created readable and writable by its owner only (mode
``0o600``), and SQLite gives its ``-wal`` and ``-shm`` files the same mode: payloads are
often private. An existing file keeps its mode.

>>> import tempfile, os
>>> from goqueue import Job, JobStatus
>>> folder = tempfile.TemporaryDirectory()
>>> path = os.path.join(folder.name, "jobs.db")
>>> storage = SQLiteStorage(path)
>>> job = Job(type="email", payload={"to": "ada"})
>>> storage.save_job(job)
>>> storage.claim_job(job.id).status           # then the process stops mid-run...
<JobStatus.PROCESSING: 'processing'>
>>> storage.close()                            # ...(a killed one: after its lease)
>>> reopened = SQLiteStorage(path)             # ...and the job is pending again
>>> reopened.recovered, reopened.get_job(job.id).status
(1, <JobStatus.PENDING: 'pending'>)
>>> reopened.close(); folder.cleanup()
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from ._leases import start_heartbeat
from .errors import (
    JobCorrupted,
    JobNotFound,
    LeaseLost,
    QueueStateError,
    StorageBusy,
    StorageError,
)
from .job import Job, JobStatus, check_max_retry
from .storage import JobStorage, PendingJob

__all__ = ["INTERRUPTED", "SCHEMA_VERSION", "SQLiteStorage"]

log = logging.getLogger("goqueue")

#: The layout of the file, kept in ``PRAGMA user_version``. 0: no lease columns (an
#: older goqueue; migrated on open). 1: ``owner`` and ``lease_expires_at``.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq              INTEGER PRIMARY KEY,  -- insertion order: list_jobs is oldest first
    id               TEXT NOT NULL UNIQUE,
    type             TEXT NOT NULL,
    payload          TEXT NOT NULL,        -- JSON
    max_retry        INTEGER NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    error            TEXT,
    created_at       TEXT NOT NULL,        -- ISO 8601, with the UTC offset
    updated_at       TEXT NOT NULL,
    next_attempt_at  TEXT,
    owner            TEXT,                 -- the SQLiteStorage.owner running it
    lease_expires_at REAL                  -- seconds since the epoch (time.time())
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, seq);
"""

# What version 1 added, for files made by an older goqueue (ALTER TABLE ... ADD COLUMN).
_ADDED_COLUMNS = (("owner", "TEXT"), ("lease_expires_at", "REAL"))

_COLUMNS = (
    "id, type, payload, max_retry, status, attempts, error, created_at, updated_at, next_attempt_at"
)

#: The error a recovered job carries until it runs again.
INTERRUPTED = "interrupted: the process running this job stopped before it finished"

_PENDING = JobStatus.PENDING.value
_PROCESSING = JobStatus.PROCESSING.value
_FAILED = JobStatus.FAILED.value
# Statuses an unreadable row keeps: its owner rewrites a running job's whole row, and a
# finished job stays finished. A pending row, or one with no known status, is failed.
_KEEP_WHEN_UNREADABLE = tuple(s.value for s in JobStatus if s is not JobStatus.PENDING)

_RECOVER = (
    "UPDATE jobs SET status = ?, error = ?, owner = NULL, lease_expires_at = NULL"
    " WHERE status = ? AND (owner IS NULL OR lease_expires_at IS NULL"
    " OR lease_expires_at <= ?) AND owner IS NOT ?"
)

# SQLite's primary result codes for "another connection holds a lock" (SQLITE_BUSY,
# SQLITE_LOCKED), and the messages that carry them on Python 3.10 (no sqlite_errorcode).
_BUSY_CODES = (5, 6)
_BUSY_MESSAGES = ("database is locked", "database table is locked", "database is busy")
# Every column of a job's row, and its owner and lease (``SQLiteStorage._to_row``).
_UPDATE = (
    "UPDATE jobs SET type = ?, payload = ?, max_retry = ?, status = ?, attempts = ?,"
    " error = ?, created_at = ?, updated_at = ?, next_attempt_at = ?, owner = ?,"
    " lease_expires_at = ?"
)


class SQLiteStorage(JobStorage):
    """Jobs in a SQLite database file, shared safely by threads and processes.

    The storage is ``shared``: other processes may add jobs to the file, so a worker
    pool on it looks for them now and then (``wait_for_jobs``), and takes back the jobs
    of processes whose lease ran out.

    Args:
        path: the database file (created, mode ``0o600``, with its table, if missing);
            ``":memory:"`` for a private in-memory database (no WAL, gone on close).
        timeout: how long, in seconds, a write waits for another process's lock before
            it raises ``StorageBusy``.
        recover: on open, put back to ``pending`` the jobs left ``processing`` by an
            owner whose lease has run out (see the module docstring); False: none.
        synchronous: ``"NORMAL"`` (the default) or ``"FULL"``, which also survives a power
            cut by syncing the disk at every commit (see **Durability**).
        lease: seconds a claimed job stays this storage's without a heartbeat; renewed
            every ``lease / 3`` seconds while the storage is open. A process killed
            mid-job has its jobs taken back that long after its last heartbeat.

    Attributes:
        path: the file, as given.
        owner: this storage's id, written on the jobs it claims (random per instance).
        lease: as given.
        recovered: how many jobs ``recover`` put back to pending on open.

    Raises:
        TypeError: *lease* is not a number.
        ValueError: a bad *timeout*, *synchronous* or *lease* (not finite, or <= 0).
        StorageError: the file cannot be opened as a job database (not a database,
            read-only, or made by a newer goqueue); ``StorageBusy`` if another process
            held the write lock for longer than *timeout*.
    """

    shared = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 30.0,
        recover: bool = True,
        synchronous: str = "NORMAL",
        lease: float = 30.0,
    ) -> None:
        if timeout < 0:
            raise ValueError(f"timeout must be >= 0, got {timeout}")
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        if isinstance(lease, bool) or not isinstance(lease, (int, float)):
            raise TypeError(f"lease must be a number of seconds, got {type(lease).__name__}")
        if not (math.isfinite(lease) and lease > 0):
            raise ValueError(f"lease must be a finite number of seconds > 0, got {lease}")
        self.path = path
        self.owner = f"{os.getpid()}-{secrets.token_hex(6)}"
        self.lease = float(lease)
        self.recovered = 0
        # Guards self._conn and every transaction on it (held from BEGIN to COMMIT), and
        # self._heartbeat.
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None  # None once closed
        self._heartbeat: threading.Thread | None = None  # started by the first claim
        self._closing = threading.Event()  # set by close(): the heartbeat stops
        self._next_recovery = 0.0  # monotonic time; read and written by the feeder only
        _create_private(path)
        try:
            # isolation_level=None: no implicit transactions; each method says BEGIN.
            conn = sqlite3.connect(
                path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise _storage_error(path, err) from err
        self._conn = conn
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")  # stays set in the file
            conn.execute(f"PRAGMA synchronous = {synchronous}")
        except sqlite3.Error as err:
            conn.close()
            self._conn = None
            raise _storage_error(path, err) from err
        try:
            with self._transaction() as db:
                self._migrate(db)
                if recover:
                    self.recovered = self._recover(db)
        except BaseException:
            conn.close()
            self._conn = None
            raise
        _tighten_journal_modes(path)

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Create the table, or bring an older file's up to ``SCHEMA_VERSION``."""
        version: int = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"sqlite storage {os.fspath(self.path)!r}: schema version {version}"
                f" is newer than this goqueue's ({SCHEMA_VERSION})"
            )
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        if version < SCHEMA_VERSION:
            present = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
            for name, kind in _ADDED_COLUMNS:
                if name not in present:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def __repr__(self) -> str:
        if self._conn is None:
            state = "closed"
        else:
            try:
                state = f"jobs={len(self)}"
            except (StorageError, QueueStateError):  # a repr must not fail
                state = "unreadable"
        return f"<SQLiteStorage {os.fspath(self.path)!r} {state}>"

    def __len__(self) -> int:
        with self._transaction(write=False) as db:
            count: int = db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
            return count

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run one transaction: committed on success, else rolled back.

        ``write=True`` starts with ``BEGIN IMMEDIATE``, taking SQLite's write lock at once
        (waiting up to the busy timeout for another process to let go of it). A
        ``sqlite3.Error`` leaves as ``StorageError`` (``StorageBusy`` for a lock).
        """
        with self._lock:
            conn = self._conn
            if conn is None:
                raise QueueStateError(f"sqlite storage is closed: {os.fspath(self.path)!r}")
            try:
                if conn.in_transaction:
                    # An earlier call was cut short between its BEGIN and its end (an
                    # exception from a signal handler can land anywhere): undo it.
                    conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield conn
                    conn.execute("COMMIT")
                finally:
                    if conn.in_transaction:  # the body raised, or COMMIT failed
                        with contextlib.suppress(sqlite3.Error):  # the first error tells
                            conn.execute("ROLLBACK")
            except sqlite3.Error as err:
                raise _storage_error(self.path, err) from err

    # -- JobStorage -----------------------------------------------------------------

    def save_job(self, job: Job) -> None:
        row = self._to_row(job)
        with self._transaction() as db:
            db.execute(
                f"INSERT INTO jobs ({_COLUMNS}, owner, lease_expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET type = excluded.type,"
                " payload = excluded.payload, max_retry = excluded.max_retry,"
                " status = excluded.status, attempts = excluded.attempts,"
                " error = excluded.error, created_at = excluded.created_at,"
                " updated_at = excluded.updated_at, next_attempt_at = excluded.next_attempt_at,"
                " owner = excluded.owner, lease_expires_at = excluded.lease_expires_at",
                row,
            )
            if job.status is JobStatus.PROCESSING:
                self._start_heartbeat()

    def get_job(self, job_id: str) -> Job | None:
        """Return a copy of the stored job, or None if there is none with that id.

        Raises:
            JobCorrupted: the row cannot be read back (a pending one is marked failed).
        """
        with self._transaction(write=False) as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        try:
            return _from_row(row)
        except ValueError:
            raise self._quarantine([(job_id, _diagnose(row))]) from None

    def update_job(self, job: Job) -> None:
        self._rewrite(job, " WHERE id = ?", ())

    def hand_over_job(self, job: Job) -> None:
        """Save a run's outcome, unless another owner holds the job now.

        Raises:
            JobNotFound: the job is not stored.
            LeaseLost: its lease ran out while it ran here and another process took it
                over; nothing is saved (that process's run decides).
        """
        self._rewrite(job, " WHERE id = ? AND (owner IS NULL OR owner = ?)", (self.owner,))

    def _rewrite(self, job: Job, where: str, extra: tuple[str, ...]) -> None:
        """Write *job* over its row, if the row matches *where* (id, then *extra*)."""
        job_id, *rest = self._to_row(job)
        with self._transaction() as db:
            if db.execute(_UPDATE + where, (*rest, job_id, *extra)).rowcount:
                if job.status is JobStatus.PROCESSING:
                    self._start_heartbeat()
                return
            row = db.execute("SELECT owner FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(job.id)
        raise LeaseLost(f"sqlite storage {os.fspath(self.path)!r}", job.id, row[0])

    def claim_job(self, job_id: str) -> Job | None:
        """Atomically start a pending job: PENDING -> PROCESSING, leased to this owner.

        Returns:
            A copy of the claimed job, or None if it is not pending or does not exist.

        Raises:
            JobCorrupted: the row cannot be read back; it is marked failed.
            StorageBusy: another process held the write lock for longer than ``timeout``.
        """
        return self._move_pending(job_id, Job.mark_running)

    def cancel_job(self, job_id: str) -> Job | None:
        return self._move_pending(job_id, Job.cancel)

    def _move_pending(self, job_id: str, change: Callable[[Job], None]) -> Job | None:
        """In one IMMEDIATE transaction: read the job, apply *change* if it is pending.

        The job's own state machine (``Job.mark_running``, ``Job.cancel``) computes the new
        row, so the stored job changes exactly as an in-memory one would. The UPDATE's
        ``status = 'pending'`` condition is a second guard: it holds anyway, because no
        other connection can write between this transaction's read and its update. A row
        that cannot be read is marked failed in the same transaction, then reported.
        """
        unreadable = ""
        with self._transaction() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE id = ? AND status = ?", (job_id, _PENDING)
            ).fetchone()
            if row is None:
                return None
            try:
                job = _from_row(row)
            except ValueError:
                unreadable = _diagnose(row)
                _mark_unreadable(db, job_id, unreadable)
            else:
                change(job)
                running = job.status is JobStatus.PROCESSING  # claimed, not cancelled
                changed = db.execute(
                    "UPDATE jobs SET status = ?, attempts = ?, updated_at = ?,"
                    " next_attempt_at = ?, owner = ?, lease_expires_at = ?"
                    " WHERE id = ? AND status = ?",
                    (
                        job.status.value,
                        job.attempts,
                        job.updated_at.isoformat(),
                        _iso(job.next_attempt_at),
                        self.owner if running else None,
                        time.time() + self.lease if running else None,
                        job_id,
                        _PENDING,
                    ),
                ).rowcount
                if changed != 1:  # pragma: no cover - excluded by the write lock
                    raise AssertionError(f"job {job_id} changed during its own transaction")
                if running and self._heartbeat is None:
                    self._start_heartbeat()
        if unreadable:
            raise self._corrupted(job_id, unreadable)
        return job

    def list_jobs(self, status: JobStatus | None = None) -> list[Job]:
        """Copies of all stored jobs (with *status* only, if given), oldest first.

        Raises:
            JobCorrupted: a row cannot be read back. It names the first such job, and
                every pending one among them is marked failed, so the queue skips it.
                The listing is all or nothing: a list with a job missing would look
                complete.
        """
        with self._transaction(write=False) as db:
            if status is None:
                rows = db.execute(f"SELECT {_COLUMNS} FROM jobs ORDER BY seq").fetchall()
            else:
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM jobs WHERE status = ? ORDER BY seq",
                    (status.value,),
                ).fetchall()
        try:
            return [_from_row(row) for row in rows]
        except ValueError:
            pass
        bad = []
        for row in rows:
            try:
                _from_row(row)
            except ValueError:
                bad.append((row[0], _diagnose(row)))
        raise self._quarantine(bad) from None

    def list_pending(self) -> list[PendingJob]:
        """Id, type and due time of every pending job, oldest first; no payloads.

        Only those three columns are read, so a backlog of large payloads costs no
        memory here, and a payload that would not parse does no harm. A row whose type
        or due time cannot be read is marked failed, logged, and left out.
        """
        with self._transaction(write=False) as db:
            rows = db.execute(
                "SELECT id, type, next_attempt_at FROM jobs WHERE status = ? ORDER BY seq",
                (_PENDING,),
            ).fetchall()
        pending: list[PendingJob] = []
        bad: list[tuple[str, str]] = []
        for job_id, job_type, due in rows:
            try:
                if not isinstance(job_type, str):
                    raise ValueError(f"type is not text: {job_type!r}")
                pending.append(PendingJob(job_id, job_type, _date("next_attempt_at", due)))
            except ValueError as err:
                bad.append((job_id, str(err)))
        if bad:
            log.warning("%s", self._quarantine(bad))
        return pending

    def clear(self) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM jobs")

    def wait_for_jobs(self, timeout: float) -> bool:
        """Wait *timeout* seconds (SQLite cannot announce new rows), then take back the
        jobs of owners whose lease ran out, at most once per ``lease / 3`` seconds, so
        that a pool on a shared file also runs a dead process's jobs. Always True: new
        rows may be there, and only a look tells."""
        if self._closing.wait(timeout):
            return True
        now = time.monotonic()
        if now >= self._next_recovery:
            self._next_recovery = now + self.lease / 3
            if self.recover_expired():
                log.info("sqlite storage %r took back jobs whose lease ran out", self.path)
        return True

    def recover_expired(self) -> int:
        """Put back to pending the running jobs whose owner's lease has run out.

        What opening with ``recover=True`` does, for a process that stays up while
        others (which may die) share its file. This storage's own jobs are never taken:
        its heartbeat keeps them, and it knows they are running.

        Returns:
            How many jobs went back to pending.
        """
        with self._transaction() as db:
            return self._recover(db)

    def _recover(self, db: sqlite3.Connection) -> int:
        now = time.time()
        count: int = db.execute(
            _RECOVER, (_PENDING, INTERRUPTED, _PROCESSING, now, self.owner)
        ).rowcount
        return count

    def close(self) -> None:
        """Stop the heartbeat, end this owner's leases, close the connection.

        The jobs still running under this storage can no longer have their outcome
        saved here, so their leases end now and another storage may take them back at
        once. Idempotent; any later call raises ``QueueStateError``.
        """
        self._closing.set()
        with self._lock:
            heartbeat = self._heartbeat
        if heartbeat is not None:
            heartbeat.join()  # it takes the lock only for its UPDATE
            try:
                with self._transaction() as db:
                    db.execute(
                        "UPDATE jobs SET lease_expires_at = ? WHERE owner = ? AND status = ?",
                        (time.time(), self.owner, _PROCESSING),
                    )
            except QueueStateError:  # closed by another thread meanwhile
                pass
            except StorageError as err:  # the leases run out by themselves
                log.warning("could not end the leases of %s: %s", self.owner, err)
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> SQLiteStorage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- leases and unreadable rows -------------------------------------------------

    def _to_row(self, job: Job) -> tuple[Any, ...]:
        """The job's columns, ``_COLUMNS`` then owner and lease: this owner's if running."""
        running = job.status is JobStatus.PROCESSING
        return (
            job.id,
            job.type,
            json.dumps(job.payload, allow_nan=False),
            job.max_retry,
            job.status.value,
            job.attempts,
            job.error,
            _iso(job.created_at),
            _iso(job.updated_at),
            _iso(job.next_attempt_at),
            self.owner if running else None,
            time.time() + self.lease if running else None,
        )

    def _start_heartbeat(self) -> None:
        """Start the thread that renews this owner's leases, unless it runs already."""
        if not self._lock.locked():  # pragma: no cover - a bug in this module
            raise RuntimeError("_start_heartbeat needs self._lock held")
        if self._heartbeat is None and not self._closing.is_set():
            self._heartbeat = start_heartbeat(self, self._closing, self.lease / 3)

    def _renew_leases(self) -> int:
        """Move the lease of every job running under this owner ``lease`` seconds ahead.

        The heartbeat thread calls this every ``lease / 3`` seconds.

        Returns:
            How many leases were renewed.
        """
        with self._transaction() as db:
            count: int = db.execute(
                "UPDATE jobs SET lease_expires_at = ? WHERE owner = ? AND status = ?",
                (time.time() + self.lease, self.owner, _PROCESSING),
            ).rowcount
            return count

    def _corrupted(self, job_id: str, reason: str, more: int = 0) -> JobCorrupted:
        others = f" (and {more} more unreadable job{'s' * (more > 1)})" if more else ""
        return JobCorrupted(
            f"sqlite storage {os.fspath(self.path)!r}: job {job_id} cannot be read:"
            f" {reason}{others}",
            job_id=job_id,
        )

    def _quarantine(self, bad: list[tuple[str, str]]) -> JobCorrupted:
        """Mark the pending rows among *bad* ``(id, reason)`` failed; return the error.

        Best effort: a failure to write is logged, and the error is returned anyway.
        """
        try:
            with self._transaction() as db:
                for job_id, reason in bad:
                    _mark_unreadable(db, job_id, reason)
        except StorageError as err:
            log.warning("could not mark unreadable jobs failed: %s", err)
        job_id, reason = bad[0]
        return self._corrupted(job_id, reason, len(bad) - 1)


def _mark_unreadable(db: sqlite3.Connection, job_id: str, reason: str) -> None:
    """Fail the job's row if it is pending (or has no known status); keep the rest."""
    marks = ",".join("?" * len(_KEEP_WHEN_UNREADABLE))
    db.execute(
        "UPDATE jobs SET status = ?, error = ?, updated_at = ?, owner = NULL,"
        f" lease_expires_at = NULL WHERE id = ? AND status NOT IN ({marks})",
        (_FAILED, f"unreadable: {reason}", _iso(_utcnow()), job_id, *_KEEP_WHEN_UNREADABLE),
    )


def _storage_error(path: str | os.PathLike[str], err: sqlite3.Error) -> StorageError:
    """The ``StorageError`` (``StorageBusy`` for a lock) naming *path* and *err*."""
    code = getattr(err, "sqlite_errorcode", None)  # Python 3.11+
    # The low byte of an (extended) result code is the primary one.
    busy = (code & 0xFF) in _BUSY_CODES if code is not None else str(err) in _BUSY_MESSAGES
    kind = StorageBusy if busy else StorageError
    return kind(f"sqlite storage {os.fspath(path)!r}: {err}")


def _create_private(path: str | os.PathLike[str]) -> None:
    """Create a missing database file with mode 0o600 (SQLite would use 0o644)."""
    name = os.fspath(path)
    if name in ("", ":memory:") or os.path.exists(name):
        return
    try:
        os.close(os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:  # another process created it first: its mode stands
        pass
    except OSError as err:
        raise StorageError(f"sqlite storage {name!r}: {err.strerror}") from err


def _tighten_journal_modes(path: str | os.PathLike[str]) -> None:
    """Take from ``-wal`` and ``-shm`` any permission the database file does not have.

    SQLite creates them with the database's mode, but files left by an older goqueue
    (or before a ``chmod``) may be wider. Not ours to change: left as they are.
    """
    name = os.fspath(path)
    if name in ("", ":memory:"):
        return
    with contextlib.suppress(OSError):
        allowed = os.stat(name).st_mode & 0o777
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                mode = os.stat(name + suffix).st_mode & 0o777
                if mode & ~allowed:
                    os.chmod(name + suffix, mode & allowed)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _date(column: str, text: object) -> datetime | None:
    """Parse one stored ISO 8601 date (None stays None)."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{column} is not an ISO 8601 date: {text!r}") from None


def _from_row(row: tuple[Any, ...]) -> Job:
    """The job a row holds. Raises ``ValueError`` if it cannot; ``_diagnose`` says why."""
    job_id, job_type, payload, max_retry, status, attempts, error, created, updated, due = row
    try:
        data = json.loads(payload)
        job = Job(
            id=job_id,
            type=job_type,
            payload=data,
            max_retry=max_retry,
            status=JobStatus(status),
            attempts=attempts,
            error=error,
            created_at=datetime.fromisoformat(created),
            updated_at=datetime.fromisoformat(updated),
            next_attempt_at=None if due is None else datetime.fromisoformat(due),
        )
    except (TypeError, ValueError) as err:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"unreadable job row {job_id}") from err
    if type(data) is not dict or type(attempts) is not int or type(job_type) is not str:
        raise ValueError(f"unreadable job row {job_id}")
    return job


# What json.loads returns, named as JSON names it.
_JSON_KINDS = {
    list: "a JSON array",
    str: "a JSON string",
    int: "a JSON number",
    float: "a JSON number",
    bool: "a JSON boolean",
    type(None): "JSON null",
}


def _diagnose(row: tuple[Any, ...]) -> str:
    """Why ``_from_row`` refused *row*: the first column that is wrong, in words."""
    _, job_type, payload, max_retry, status, attempts, _, created, updated, due = row
    if not isinstance(job_type, str):
        return f"type is not text: {job_type!r}"
    try:
        data = json.loads(payload)
    except (TypeError, ValueError) as err:
        return f"payload is not JSON: {err}"
    if not isinstance(data, dict):
        return f"payload is {_JSON_KINDS.get(type(data), 'not JSON')}, not an object"
    try:
        JobStatus(status)
    except ValueError:
        return f"unknown status {status!r}"
    try:
        check_max_retry(max_retry)
    except (TypeError, ValueError) as err:
        return str(err)
    if type(attempts) is not int:
        return f"attempts is not an integer: {attempts!r}"
    try:
        for column, text in (("created_at", created), ("updated_at", updated)):
            if _date(column, text) is None:
                return f"{column} is missing"
        _date("next_attempt_at", due)
    except ValueError as err:
        return str(err)
    return "the row does not make a job"  # pragma: no cover - every check above passed
