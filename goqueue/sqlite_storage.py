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

**Recovery.** A job found ``processing`` when the file is opened was being run by a process
that died; it goes back to ``pending`` (``recover=True``, the default) so that a queue
started on this storage runs it again. Delivery is therefore *at least once*: a handler
that was killed halfway, or just after finishing but before its result was saved, runs
again, so handlers should be idempotent. The interrupted attempt still counts in
``attempts``, and the job keeps ``INTERRUPTED`` as its error until it runs again; the re-run
happens even if that attempt was its last, since nothing recorded a failure. Open with
``recover=False`` when another process is still running jobs from the same file, or its
running jobs would be run a second time.

>>> import tempfile, os
>>> from goqueue import Job, JobStatus
>>> folder = tempfile.TemporaryDirectory()
>>> path = os.path.join(folder.name, "jobs.db")
>>> storage = SQLiteStorage(path)
>>> job = Job(type="email", payload={"to": "ada"})
>>> storage.save_job(job)
>>> storage.claim_job(job.id).status           # then the process dies mid-run...
<JobStatus.PROCESSING: 'processing'>
>>> storage.close()
>>> reopened = SQLiteStorage(path)             # ...and the job is pending again
>>> reopened.recovered, reopened.get_job(job.id).status
(1, <JobStatus.PENDING: 'pending'>)
>>> reopened.close(); folder.cleanup()
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from .errors import JobNotFound, QueueStateError
from .job import Job, JobStatus
from .storage import JobStorage

__all__ = ["SQLiteStorage"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq             INTEGER PRIMARY KEY,   -- insertion order: list_jobs is oldest first
    id              TEXT NOT NULL UNIQUE,
    type            TEXT NOT NULL,
    payload         TEXT NOT NULL,         -- JSON
    max_retry       INTEGER NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    error           TEXT,
    created_at      TEXT NOT NULL,         -- ISO 8601, with the UTC offset
    updated_at      TEXT NOT NULL,
    next_attempt_at TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, seq);
"""

_COLUMNS = (
    "id, type, payload, max_retry, status, attempts, error, created_at, updated_at, next_attempt_at"
)

#: The error a recovered job carries until it runs again.
INTERRUPTED = "interrupted: the process running this job stopped before it finished"


class SQLiteStorage(JobStorage):
    """Jobs in a SQLite database file, shared safely by threads and processes.

    Args:
        path: the database file (created, with its table, if missing); ``":memory:"``
            for a private in-memory database (no WAL, gone on close).
        timeout: how long, in seconds, a write waits for another process's lock before
            ``sqlite3.OperationalError`` ("database is locked").
        recover: put jobs left ``processing`` back to ``pending`` when opening (see the
            module docstring); False when another live process uses the same file.
        synchronous: ``"NORMAL"`` (the default) or ``"FULL"``, which also survives a power
            cut by syncing the disk at every commit (see **Durability**).

    Attributes:
        path: the file, as given.
        recovered: how many jobs ``recover`` put back to pending on open.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 30.0,
        recover: bool = True,
        synchronous: str = "NORMAL",
    ) -> None:
        if timeout < 0:
            raise ValueError(f"timeout must be >= 0, got {timeout}")
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        self.path = path
        # isolation_level=None: no implicit transactions; each method says BEGIN itself.
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        # Guards self._conn and every transaction on it (held from BEGIN to COMMIT).
        self._lock = threading.Lock()
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")  # stays set in the file
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        self.recovered = 0
        with self._transaction() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            if recover:
                self.recovered = db.execute(
                    "UPDATE jobs SET status = ?, error = ? WHERE status = ?",
                    (JobStatus.PENDING.value, INTERRUPTED, JobStatus.PROCESSING.value),
                ).rowcount

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else f"jobs={len(self)}"
        return f"<SQLiteStorage {os.fspath(self.path)!r} {state}>"

    def __len__(self) -> int:
        with self._transaction(write=False) as db:
            count: int = db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
            return count

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run one transaction: committed on success, else rolled back.

        ``write=True`` starts with ``BEGIN IMMEDIATE``, taking SQLite's write lock at once
        (waiting up to the busy timeout for another process to let go of it).
        """
        with self._lock:
            if self._conn is None:
                raise QueueStateError(f"sqlite storage is closed: {os.fspath(self.path)!r}")
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- JobStorage -----------------------------------------------------------------

    def save_job(self, job: Job) -> None:
        row = _to_row(job)
        with self._transaction() as db:
            db.execute(
                f"INSERT INTO jobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET type = excluded.type,"
                " payload = excluded.payload, max_retry = excluded.max_retry,"
                " status = excluded.status, attempts = excluded.attempts,"
                " error = excluded.error, created_at = excluded.created_at,"
                " updated_at = excluded.updated_at, next_attempt_at = excluded.next_attempt_at",
                row,
            )

    def get_job(self, job_id: str) -> Job | None:
        with self._transaction(write=False) as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _from_row(row)

    def update_job(self, job: Job) -> None:
        job_id, *rest = _to_row(job)
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE jobs SET type = ?, payload = ?, max_retry = ?, status = ?,"
                " attempts = ?, error = ?, created_at = ?, updated_at = ?,"
                " next_attempt_at = ? WHERE id = ?",
                (*rest, job_id),
            ).rowcount
            if changed == 0:
                raise JobNotFound(job.id)

    def claim_job(self, job_id: str) -> Job | None:
        return self._move_pending(job_id, Job.mark_running)

    def cancel_job(self, job_id: str) -> Job | None:
        return self._move_pending(job_id, Job.cancel)

    def _move_pending(self, job_id: str, change: Callable[[Job], None]) -> Job | None:
        """In one IMMEDIATE transaction: read the job, apply *change* if it is pending.

        The job's own state machine (``Job.mark_running``, ``Job.cancel``) computes the new
        row, so the stored job changes exactly as an in-memory one would. The UPDATE's
        ``status = 'pending'`` condition is a second guard: it holds anyway, because no
        other connection can write between this transaction's read and its update.
        """
        pending = JobStatus.PENDING.value
        with self._transaction() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE id = ? AND status = ?", (job_id, pending)
            ).fetchone()
            if row is None:
                return None
            job = _from_row(row)
            change(job)
            new = _to_row(job)
            changed = db.execute(
                "UPDATE jobs SET status = ?, attempts = ?, updated_at = ?,"
                " next_attempt_at = ? WHERE id = ? AND status = ?",
                (new[4], new[5], new[8], new[9], job_id, pending),
            ).rowcount
            if changed != 1:  # pragma: no cover - excluded by the write lock
                raise AssertionError(f"job {job_id} changed during its own transaction")
        return job

    def list_jobs(self, status: JobStatus | None = None) -> list[Job]:
        with self._transaction(write=False) as db:
            if status is None:
                rows = db.execute(f"SELECT {_COLUMNS} FROM jobs ORDER BY seq").fetchall()
            else:
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM jobs WHERE status = ? ORDER BY seq",
                    (status.value,),
                ).fetchall()
        return [_from_row(row) for row in rows]

    def clear(self) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM jobs")

    def close(self) -> None:
        """Close the connection. Idempotent; any later call raises ``QueueStateError``."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> SQLiteStorage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _to_row(job: Job) -> tuple[Any, ...]:
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
    )


def _from_row(row: tuple[Any, ...]) -> Job:
    job_id, job_type, payload, max_retry, status, attempts, error, created, updated, due = row
    return Job(
        id=job_id,
        type=job_type,
        payload=json.loads(payload),
        max_retry=max_retry,
        status=JobStatus(status),
        attempts=attempts,
        error=error,
        created_at=datetime.fromisoformat(created),
        updated_at=datetime.fromisoformat(updated),
        next_attempt_at=None if due is None else datetime.fromisoformat(due),
    )
