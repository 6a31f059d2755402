"""A throw-away PostgreSQL server for the tests and the benchmark: no mock, no Docker.

``TestServer.start()`` runs Debian's ``initdb`` and ``pg_ctl`` (from
``/usr/lib/postgresql/<version>/bin``) in a new temporary directory. The server listens
on a Unix socket in that directory only (``listen_addresses=''``: no TCP port, nothing
another machine can reach) and is tuned for tests, not for keeping data: ``fsync=off``,
``synchronous_commit=off``, ``full_page_writes=off``. ``stop()`` shuts it down and removes
the directory.

PostgreSQL refuses to run as root. When the tests run as root (here and in CI), the server
runs as a system user made for it, ``goqueue-test`` (created with ``useradd`` if missing),
through ``runuser``; the directory is handed to that user.

Two roles exist: ``goqueue`` (the superuser, trusted on the socket, no password) and
``secretive``, which must give the password ``SECRET_PASSWORD`` (``scram-sha-256``), for
the tests that check an error never shows a password.

``unavailable()`` says why no server can be started (no binaries, no psycopg), or None.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

SERVER_USER = "goqueue-test"
SUPERUSER = "goqueue"
SECRET_USER = "secretive"
SECRET_PASSWORD = "hunter2-do-not-print"
DATABASE = "goqueue"
START_TIMEOUT = 60.0  # seconds; only reached when the server cannot start

_SETTINGS = {
    "listen_addresses": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "64MB",
    "log_min_messages": "fatal",
}


def server_binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` that has ``initdb`` and ``pg_ctl``."""
    found = []
    for folder in glob.glob("/usr/lib/postgresql/*/bin"):
        path = Path(folder)
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            with contextlib.suppress(ValueError):
                found.append((int(path.parent.name), path))
    return max(found)[1] if found else None


def unavailable() -> str | None:
    """Why the Postgres tests cannot run here, or None when they can."""
    if server_binaries() is None:
        return (
            "!! postgres: NOT installed (no initdb in /usr/lib/postgresql/*/bin;"
            " apt-get install postgresql)"
        )
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        return "!! postgres: psycopg NOT installed (pip install -e '.[postgres]')"
    return None


class TestServer:
    """One PostgreSQL server in a temporary directory, on a Unix socket there.

    Attributes:
        folder: the temporary directory (data in ``data/``, the socket beside it).
        dsn: a libpq connection string for the ``goqueue`` database as the superuser.
    """

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self) -> None:
        binaries = server_binaries()
        if binaries is None:
            raise RuntimeError("postgres server binaries not found in /usr/lib/postgresql")
        self.binaries = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="goqueue-pg-"))
        self.data = self.folder / "data"
        self.dsn = f"host={self.folder} dbname={DATABASE} user={SUPERUSER}"
        self._user = _server_user()
        self._started = False

    def _run(self, *argv: str, timeout: float = START_TIMEOUT) -> None:
        command = [str(self.binaries / argv[0]), *argv[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.folder
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()}")

    def start(self) -> TestServer:
        """initdb, configure, start, create the database and the password role."""
        if self._user is not None:
            shutil.chown(self.folder, self._user, self._user)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--no-sync",
            "--no-instructions",
            "-E",
            "UTF8",
            "--locale=C",
        )
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(f"unix_socket_directories = '{self.folder}'\n")
            for name, value in _SETTINGS.items():
                conf.write(f"{name} = {value}\n")
        # Password role first: pg_hba.conf is read top down, first match wins.
        hba = self.data / "pg_hba.conf"
        hba.write_text(
            f"local all {SECRET_USER} scram-sha-256\nlocal all all trust\n", encoding="utf-8"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "start")
        self._started = True
        import psycopg

        with psycopg.connect(
            f"host={self.folder} dbname=postgres user={SUPERUSER}", autocommit=True
        ) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
            conn.execute(f"CREATE ROLE {SECRET_USER} LOGIN PASSWORD '{SECRET_PASSWORD}' SUPERUSER")
        return self

    def new_database(self) -> str:
        """Create an empty database; return its DSN (as the superuser)."""
        import psycopg

        name = f"db_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"host={self.folder} dbname={name} user={SUPERUSER}"

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        try:
            if self._started:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
                self._started = False
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> TestServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _server_user() -> str | None:
    """The user to run the server as: None when not root, else ``SERVER_USER``."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVER_USER,
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
    return SERVER_USER


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
