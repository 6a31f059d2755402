"""The lesson's database: one throw-away server per process, or a clear reason and a skip."""

from __future__ import annotations

import unittest

import pg
import pytest

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

    server = PostgresServer(password_roles={"guarded": "pw-123"})
    with server:
        with psycopg.connect(server.dsn) as conn:
            settings: dict[str, str] = dict(
                conn.execute("SELECT name, setting FROM pg_settings").fetchall()
            )
        assert settings["listen_addresses"] == ""
        assert settings["unix_socket_directories"] == str(server.folder)
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(f"host={server.folder} dbname=goqueue user=guarded password=no")
    assert not server.folder.exists() and not server.started
