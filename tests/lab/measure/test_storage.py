"""SQLite and threads: the cross-thread error, locked errors, and one storage serialising."""

from __future__ import annotations

import re
import sqlite3
import threading

from goqueue.lab.measure.storage import (
    cross_thread_error,
    locked_errors,
    storage_locked_errors,
    write_in_threads,
)


def test_a_default_connection_refuses_a_second_thread() -> None:
    assert re.match(
        r"^SQLite objects created in a thread can only be used in that same thread\.",
        cross_thread_error(),
    )


def test_one_locked_connection_never_reports_database_is_locked() -> None:
    assert storage_locked_errors(threads=6, writes=100) == 0


def test_connections_per_thread_with_a_busy_timeout_wait_instead_of_failing() -> None:
    assert locked_errors(threads=4, writes=25, timeout=30.0) == 0


def test_hammer_reraises_errors_other_than_locked() -> None:
    # locked_errors counts only "database is locked"; anything else is a bug and surfaces.
    failures: list[BaseException] = []

    def hook(args: threading.ExceptHookArgs) -> None:
        failures.append(args.exc_value)  # type: ignore[arg-type]

    previous = threading.excepthook
    threading.excepthook = hook
    try:
        write_in_threads(2, 1, lambda me, n: (_ for _ in ()).throw(sqlite3.OperationalError("x")))
    finally:
        threading.excepthook = previous
    assert [str(exc) for exc in failures] == ["x", "x"]
