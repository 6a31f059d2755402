"""SQLiteStorage when things go wrong: bad files, held locks, unreadable rows, modes."""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from goqueue import Job, JobCorrupted, JobStatus, SQLiteStorage, StorageBusy, StorageError


def named(path: Path) -> str:
    """The start of every message about *path*, as a regex."""
    return re.escape(f"sqlite storage {str(path)!r}: ")


def execute(path: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    """Run *sql* on a connection of our own, as another process would, and commit."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(sql, args).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()


def row_state(path: Path, job_id: str) -> tuple[object, ...]:
    [row] = execute(path, "SELECT status, error FROM jobs WHERE id = ?", job_id)
    return row


# -- files SQLite cannot use ---------------------------------------------------------


def test_a_file_that_is_not_a_database_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are not the pages you are looking for\n" * 100)
    with pytest.raises(StorageError, match=rf"^{named(path)}file is not a database$") as caught:
        SQLiteStorage(path)
    assert not isinstance(caught.value, StorageBusy)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_a_path_in_a_missing_folder_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "no-such-folder" / "jobs.db"
    with pytest.raises(StorageError, match=rf"^{named(path)}No such file or directory$"):
        SQLiteStorage(path)


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make *path* read-only for this process (root ignores modes: chattr +i then)."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o600)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)]).returncode != 0:
        pytest.skip("running as root without chattr: cannot make a file read-only")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_read_only_file_raises_a_storage_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    job = Job(type="a")
    with SQLiteStorage(path) as storage:
        storage.save_job(job)
    with (
        read_only(path),
        pytest.raises(
            StorageError, match=rf"^{named(path)}attempt to write a readonly database$"
        ) as caught,
    ):
        SQLiteStorage(path)
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    assert not isinstance(caught.value, StorageBusy)
    with SQLiteStorage(path) as storage:  # nothing was changed
        assert [stored.id for stored in storage.list_jobs()] == [job.id]


# -- another process holds the write lock --------------------------------------------


@contextmanager
def write_locked(path: Path) -> Iterator[None]:
    """Hold SQLite's write lock on *path* from another connection, as another process."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_a_held_write_lock_raises_storage_busy_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    busy = rf"^{named(path)}database is locked$"
    with SQLiteStorage(path, timeout=0.05) as storage:
        running, waiting = Job(type="a"), Job(type="a")
        storage.save_job(running)
        storage.save_job(waiting)
        claimed = storage.claim_job(running.id)
        assert claimed is not None
        claimed.mark_completed()
        with write_locked(path):
            writes = [
                lambda: storage.save_job(Job(type="b")),
                lambda: storage.claim_job(waiting.id),
                lambda: storage.cancel_job(waiting.id),
                lambda: storage.update_job(claimed),
                lambda: storage.hand_over_job(claimed),
                storage.recover_expired,
                storage.clear,
            ]
            for write in writes:
                with pytest.raises(StorageBusy, match=busy) as caught:
                    write()
                assert caught.value.transient is True
            with pytest.raises(StorageBusy, match=busy):
                SQLiteStorage(path, timeout=0.05)  # opening writes too (schema, recovery)
            # Readers never wait for the writer (WAL): the file as it was.
            assert [job.id for job in storage.list_pending()] == [waiting.id]
            stored = storage.get_job(running.id)
            assert stored is not None and stored.status is JobStatus.PROCESSING
        # Nothing of the refused writes happened, and the storage works on.
        assert [(job.id, job.status) for job in storage.list_jobs()] == [
            (running.id, JobStatus.PROCESSING),
            (waiting.id, JobStatus.PENDING),
        ]
        again = storage.claim_job(waiting.id)
        assert again is not None and again.attempts == 1


# -- rows that cannot be read back ---------------------------------------------------


def save_three(path: Path) -> list[Job]:
    jobs = [Job(type="a", payload={"n": n}) for n in range(3)]
    with SQLiteStorage(path) as storage:
        for job in jobs:
            storage.save_job(job)
    return jobs


def test_a_bad_payload_fails_its_job_and_leaves_the_others_to_run(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    first, bad, last = save_three(path)
    execute(path, "UPDATE jobs SET payload = '{oops' WHERE id = ?", bad.id)
    reason = (
        "payload is not JSON: Expecting property name enclosed in double quotes:"
        " line 1 column 2 (char 1)"
    )
    with SQLiteStorage(path) as storage:
        pending = storage.list_pending()  # reads no payload: the bad one is there
        assert [job.id for job in pending] == [first.id, bad.id, last.id]
        with pytest.raises(
            JobCorrupted,
            match=rf"^{named(path)}job {bad.id} cannot be read: {re.escape(reason)}$",
        ) as caught:
            storage.claim_job(bad.id)
        assert caught.value.job_id == bad.id
        assert row_state(path, bad.id) == (
            "failed",
            f"unreadable: {reason}",
        )
        assert storage.claim_job(bad.id) is None  # failed: not pending any more
        assert [job.id for job in storage.list_pending()] == [first.id, last.id]
        for job in (first, last):
            claimed = storage.claim_job(job.id)
            assert claimed is not None and claimed.payload == job.payload


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("payload", "[1, 2]", "payload is a JSON array, not an object"),
        ("status", "runing", "unknown status 'runing'"),
        ("created_at", "yesterday", "created_at is not an ISO 8601 date: 'yesterday'"),
        ("max_retry", 0, "max_retry must be >= 1, got 0"),
        ("attempts", "x", "attempts is not an integer: 'x'"),
    ],
)
def test_an_unreadable_pending_row_is_named_and_failed_on_get(
    tmp_path: Path, column: str, value: object, reason: str
) -> None:
    path = tmp_path / "jobs.db"
    _, bad, _ = save_three(path)
    execute(path, f"UPDATE jobs SET {column} = ? WHERE id = ?", value, bad.id)
    with SQLiteStorage(path) as storage:
        with pytest.raises(
            JobCorrupted, match=rf"^{named(path)}job {bad.id} cannot be read: {re.escape(reason)}$"
        ):
            storage.get_job(bad.id)
        assert row_state(path, bad.id) == ("failed", f"unreadable: {reason}")


def test_list_jobs_names_the_first_unreadable_job_and_fails_only_pending_ones(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.db"
    done, bad, good = save_three(path)
    with SQLiteStorage(path) as storage:
        claimed = storage.claim_job(done.id)
        assert claimed is not None
        claimed.mark_completed()
        storage.update_job(claimed)
    execute(path, "UPDATE jobs SET payload = 'null' WHERE id IN (?, ?)", done.id, bad.id)
    with SQLiteStorage(path) as storage:
        with pytest.raises(
            JobCorrupted,
            match=rf"^{named(path)}job {done.id} cannot be read: payload is JSON null,"
            r" not an object \(and 1 more unreadable job\)$",
        ) as caught:
            storage.list_jobs()
        assert caught.value.job_id == done.id
        assert row_state(path, done.id) == ("completed", None)  # finished: stays so
        assert row_state(path, bad.id)[0] == "failed"
        assert [job.id for job in storage.list_jobs(JobStatus.PENDING)] == [good.id]


def test_list_pending_leaves_out_and_fails_a_row_with_a_bad_due_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "jobs.db"
    first, bad, last = save_three(path)
    execute(path, "UPDATE jobs SET next_attempt_at = 'soon' WHERE id = ?", bad.id)
    reason = "next_attempt_at is not an ISO 8601 date: 'soon'"
    with SQLiteStorage(path) as storage, caplog.at_level(logging.WARNING, logger="goqueue"):
        assert [job.id for job in storage.list_pending()] == [first.id, last.id]
    assert [record.getMessage() for record in caplog.records] == [
        f"sqlite storage {str(path)!r}: job {bad.id} cannot be read: {reason}"
    ]
    assert row_state(path, bad.id) == ("failed", f"unreadable: {reason}")


def test_list_pending_reads_ids_and_due_times_but_no_payload(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    count, size = 40, 1_000_000  # 40 MB of payloads
    due = datetime(2030, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    jobs = [Job(type="big", payload={"blob": "x" * size, "n": n}) for n in range(count)]
    jobs[1].next_attempt_at = due
    with SQLiteStorage(path) as storage:
        for job in jobs:
            storage.save_job(job)
        jobs[2].mark_running()
        storage.update_job(jobs[2])  # running: not pending
    with SQLiteStorage(path, recover=False) as storage:  # the running one stays so
        tracemalloc.start()
        try:
            pending = storage.list_pending()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    expected = [(job.id, "big", job.next_attempt_at) for i, job in enumerate(jobs) if i != 2]
    assert pending == expected
    assert pending[1].next_attempt_at == due
    assert peak < size  # less than one payload for all of them (the list: ~10 kB)


# -- file modes ----------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_new_database_and_its_wal_and_shm_are_private(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    old_umask = os.umask(0o022)  # the usual one, which lets SQLite make 0o644 files
    try:
        with SQLiteStorage(path) as storage:
            storage.save_job(Job(type="a"))  # the WAL file now holds a write
            files = [path, tmp_path / "jobs.db-wal", tmp_path / "jobs.db-shm"]
            assert {file.name: mode(file) for file in files} == {file.name: 0o600 for file in files}
    finally:
        os.umask(old_umask)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_an_existing_database_keeps_its_mode_and_its_wal_and_shm_are_no_wider(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.db"
    with SQLiteStorage(path):
        pass
    path.chmod(0o640)  # the owner's choice: shared with a group
    with SQLiteStorage(path):
        assert mode(path) == 0o640
    # -wal and -shm left wider than the file by an older version (or before a chmod).
    other = sqlite3.connect(path, isolation_level=None)  # keeps -wal and -shm in place
    try:
        other.execute(
            "INSERT INTO jobs (id, type, payload, max_retry, status, attempts,"
            " created_at, updated_at) VALUES ('x', 'a', '{}', 1, 'completed', 1,"
            " '2030-01-01T00:00:00+00:00', '2030-01-01T00:00:00+00:00')"
        )
        wal, shm = tmp_path / "jobs.db-wal", tmp_path / "jobs.db-shm"
        wal.chmod(0o666)
        shm.chmod(0o644)
        with SQLiteStorage(path) as storage:
            assert (mode(path), mode(wal), mode(shm)) == (0o640, 0o640, 0o640)
            assert len(storage) == 1
    finally:
        other.close()
