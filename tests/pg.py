"""The tests' throw-away PostgreSQL server: the lab's, plus a role that needs a password.

The server itself (``initdb`` and ``pg_ctl`` in a temporary directory, a Unix socket there
only, tuned for tests, run as ``goqueue-test`` when the tests run as root) lives in
``goqueue.lab.measure.pgserver``, which the lesson on races in the database uses too; this
module keeps the names the tests and the benchmark import.

Two roles exist: ``goqueue`` (the superuser, trusted on the socket, no password) and
``secretive``, which must give the password ``SECRET_PASSWORD`` (``scram-sha-256``), for
the tests that check an error never shows a password.

``unavailable()`` says why no server can be started (no binaries, no psycopg), or None.
"""

from __future__ import annotations

from goqueue.lab.measure.pgserver import (
    DATABASE,
    SERVER_USER,
    START_TIMEOUT,
    SUPERUSER,
    PostgresServer,
    server_binaries,
    unavailable,
)

__all__ = [
    "DATABASE",
    "SECRET_PASSWORD",
    "SECRET_USER",
    "SERVER_USER",
    "START_TIMEOUT",
    "SUPERUSER",
    "TestServer",
    "server_binaries",
    "shared_server",
    "stop_shared_server",
    "unavailable",
]

SECRET_USER = "secretive"
SECRET_PASSWORD = "hunter2-do-not-print"


class TestServer(PostgresServer):
    """The lab's throw-away server with the ``secretive`` password role added."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self) -> None:
        super().__init__(password_roles={SECRET_USER: SECRET_PASSWORD})

    def start(self) -> TestServer:
        super().start()
        return self

    def __enter__(self) -> TestServer:
        return self.start()


_shared: TestServer | None = None


def shared_server() -> TestServer:
    """The test session's server, started on first use; ``stop_shared_server`` ends it."""
    global _shared
    if _shared is None:
        _shared = TestServer().start()
    return _shared


def stop_shared_server() -> None:
    """Stop the session's server if one was started."""
    global _shared
    if _shared is not None:
        server, _shared = _shared, None
        server.stop()
