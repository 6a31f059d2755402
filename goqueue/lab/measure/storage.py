"""SQLite and threads: the errors a shared file gives, and what ``SQLiteStorage`` does about them.

* ``cross_thread_error`` uses a default ``sqlite3`` connection from a second thread;
* ``locked_errors`` has threads write through their own connections with a short busy
  timeout and counts ``database is locked``;
* ``storage_locked_errors`` runs the same writes as jobs saved through one
  ``SQLiteStorage``, which serialises them.
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Any

from goqueue import Job, SQLiteStorage

__all__ = ["cross_thread_error", "locked_errors", "storage_locked_errors", "write_in_threads"]


def cross_thread_error() -> str:
    """Use a default ``sqlite3`` connection from a second thread; return the error text."""
    conn = sqlite3.connect(":memory:")
    errors: list[str] = []

    def use() -> None:
        try:
            conn.execute("SELECT 1")
        except sqlite3.ProgrammingError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=use)
    thread.start()
    thread.join()
    conn.close()
    return errors[0] if errors else ""


def write_in_threads(threads: int, writes: int, write: Any) -> int:
    """Run *write(thread_no, n)* from *threads* threads at once; count 'database is locked'."""
    barrier = threading.Barrier(threads)
    errors = [0] * threads  # one slot per thread: no lock needed

    def writer(me: int) -> None:
        barrier.wait()
        for n in range(writes):
            try:
                write(me, n)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                errors[me] += 1

    pool = [threading.Thread(target=writer, args=(me,)) for me in range(threads)]
    try:
        for thread in pool:
            thread.start()
    finally:
        for thread in pool:
            thread.join()
    return sum(errors)


def locked_errors(threads: int = 8, writes: int = 200, timeout: float = 0.0) -> int:
    """Writes from *threads* threads, a connection each, busy timeout *timeout*.

    Returns:
        How many of the ``threads * writes`` writes failed with "database is locked".
    """
    with tempfile.TemporaryDirectory(prefix="goqueue-locked-") as folder:
        path = Path(folder, "demo.db")
        setup = sqlite3.connect(path, isolation_level=None)
        setup.execute("PRAGMA journal_mode = WAL")
        setup.execute("CREATE TABLE t (thread INTEGER, n INTEGER)")
        setup.close()
        conns = [
            sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
            for _ in range(threads)
        ]

        def write(me: int, n: int) -> None:
            conn = conns[me]  # this thread's own connection
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO t VALUES (?, ?)", (me, n))
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

        try:
            return write_in_threads(threads, writes, write)
        finally:
            for conn in conns:
                conn.close()


def storage_locked_errors(threads: int = 8, writes: int = 200) -> int:
    """The same writes as ``locked_errors``, as jobs saved through one ``SQLiteStorage``."""
    with (
        tempfile.TemporaryDirectory(prefix="goqueue-locked-") as folder,
        SQLiteStorage(Path(folder, "demo.db")) as storage,
    ):
        errors = write_in_threads(threads, writes, lambda me, n: storage.save_job(Job(type="t")))
        assert len(storage) == threads * writes - errors
        return errors
