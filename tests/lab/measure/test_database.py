"""The lesson's database: one throw-away server per process, or a clear reason and a skip."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import unittest
from pathlib import Path

import pg
import pytest
from support import SLOW_BOUND, wait_until

from goqueue.lab.measure.database import Database, NoDatabase, start_database
from goqueue.lab.measure.pgserver import PostgresServer


def test_a_missing_database_says_what_to_install_and_skips_tests() -> None:
    db = Database(None, reason="postgres: NOT installed")
    assert not db.available
    with pytest.raises(NoDatabase, match=r"^no postgresql server here: postgres: NOT installed$"):
        db.require()
    assert issubclass(NoDatabase, unittest.SkipTest)  # a test that needs it is skipped
    shown = repr(db)
    assert shown.startswith("no PostgreSQL server here (postgres: NOT installed)\n")
    assert "sudo apt-get install postgresql" in shown and "goqueue[postgres]" in shown


@pytest.mark.skipif(pg.unavailable() is not None, reason=str(pg.unavailable()))
def test_start_database_starts_one_server_per_process_and_it_answers() -> None:
    import psycopg

    db = start_database()
    assert start_database() is db
    assert isinstance(db.server, PostgresServer) and db.server.started
    with psycopg.connect(db.require()) as conn:
        assert conn.execute("SELECT 1 + 1").fetchone() == (2,)
    assert repr(db).startswith(f"PostgreSQL {db.version}, throw-away, on a Unix socket in /")


@pytest.mark.skipif(pg.unavailable() is not None, reason=str(pg.unavailable()))
def test_a_server_listens_on_its_socket_only_and_stop_removes_its_folder() -> None:
    import psycopg

    server = PostgresServer(
        password_roles={"guarded": "pw-123"}, settings={"track_commit_timestamp": "on"}
    )
    with server:
        with psycopg.connect(server.dsn) as conn:
            settings: dict[str, str] = dict(
                conn.execute("SELECT name, setting FROM pg_settings").fetchall()
            )
        assert settings["listen_addresses"] == ""
        assert settings["unix_socket_directories"] == str(server.folder)
        assert (settings["track_commit_timestamp"], settings["fsync"]) == ("on", "off")
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(f"host={server.folder} dbname=goqueue user=guarded password=no")
    assert not server.folder.exists() and not server.started


@pytest.mark.skipif(pg.unavailable() is not None, reason=str(pg.unavailable()))
def test_a_server_is_stopped_when_the_process_that_started_it_is_killed() -> None:
    """A kernel that nbval shuts down with ``now=True`` is SIGKILLed: no ``atexit`` runs.
    The server must not outlive it (each such run used to leave one running)."""
    starter = (
        "import os, signal\n"
        "from goqueue.lab.measure.pgserver import PostgresServer\n"
        "server = PostgresServer().start()\n"
        "pid = (server.data / 'postmaster.pid').read_text().split()[0]\n"
        "print(server.folder, pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", starter], capture_output=True, text=True, timeout=SLOW_BOUND
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    folder, pid = done.stdout.split()
    wait_until(lambda: not Path(folder).exists() and not running(int(pid)), SLOW_BOUND, 0.05)


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
