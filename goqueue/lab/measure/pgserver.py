"""A throw-away PostgreSQL server: started in a temporary directory, gone when stopped.

``PostgresServer().start()`` runs the server binaries of Debian's ``postgresql`` package
(``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/<version>/bin``) in a new temporary
directory. The server listens on a Unix socket in that directory only
(``listen_addresses=''``: no TCP port, nothing another machine can reach) and is tuned for
experiments, not for keeping data: ``fsync=off``, ``synchronous_commit=off``,
``full_page_writes=off``. ``stop()`` shuts it down and removes the directory.

**Gone with its process.** ``pg_ctl`` runs the server as a daemon: it outlives the process
that started it unless someone stops it. ``atexit`` is not enough (a Jupyter kernel that
nbval, or a user, shuts down with ``now=True`` is killed, and ``atexit`` never runs; so is
a test run killed by a timeout): each server every such run left behind kept running.
So ``start()`` also starts a small *watchdog* process holding the read end of a pipe whose
write end only this process has. When this process ends, however it ends, the pipe
closes; the watchdog sees end-of-file, stops the server and removes the directory.

PostgreSQL refuses to run as root. Run as root (a container, CI), the server runs as a
system user made for it, ``goqueue-test`` (created with ``useradd`` if missing), through
``runuser``; the directory is handed to that user.

The superuser ``goqueue`` is trusted on the socket (no password). Roles that must give a
password (``scram-sha-256``) can be asked for with *password_roles*.

``unavailable()`` says why no server can be started here (no server binaries, no psycopg)
and what to install, or returns None. The lesson on races in the database and the tests
(``tests/pg.py``) share this one copy.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "DATABASE",
    "SERVER_USER",
    "START_TIMEOUT",
    "SUPERUSER",
    "PostgresServer",
    "server_binaries",
    "server_user",
    "unavailable",
]

SERVER_USER = "goqueue-test"
SUPERUSER = "goqueue"
DATABASE = "goqueue"
START_TIMEOUT = 60.0  # seconds; only reached when the server cannot start

# The watchdog: waits for end-of-file on its standard input (the starting process closed
# it, or ended), then runs the stop command it was given (argv after the folder) and
# removes the folder. It ignores SIGINT, so that Ctrl-C at a terminal, which reaches the
# whole process group, does not stop it before it has done its work.
_WATCHDOG = """
import shutil, signal, subprocess, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
sys.stdin.buffer.read()
subprocess.run(sys.argv[2:], capture_output=True, timeout=60)
shutil.rmtree(sys.argv[1], ignore_errors=True)
"""

SETTINGS = {
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
    """Why no throw-away server can run here, and what to install; None when one can."""
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


def server_user() -> str | None:
    """The user to run the server as: None when not root, else ``SERVER_USER`` (made if missing)."""
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


class PostgresServer:
    """One PostgreSQL server in a temporary directory, on a Unix socket there.

    Args:
        password_roles: role name -> password, for roles that must log in with a password
            (superusers, ``scram-sha-256``); every other role is trusted on the socket.
        settings: ``postgresql.conf`` settings beside (or instead of) ``SETTINGS``, e.g.
            ``{"track_commit_timestamp": "on"}`` for a benchmark.

    Attributes:
        folder: the temporary directory (data in ``data/``, the socket beside it).
        data: the data directory.
        dsn: a libpq connection string for the ``goqueue`` database as the superuser.

    Raises:
        RuntimeError: no server binaries are installed (``unavailable()`` says what to do).
    """

    def __init__(
        self,
        password_roles: Mapping[str, str] | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        binaries = server_binaries()
        if binaries is None:
            raise RuntimeError("postgres server binaries not found in /usr/lib/postgresql")
        self.binaries = binaries
        self.password_roles = dict(password_roles or {})
        self.settings = {**SETTINGS, **(settings or {})}
        self.folder = Path(tempfile.mkdtemp(prefix="goqueue-pg-"))
        self.data = self.folder / "data"
        self.dsn = f"host={self.folder} dbname={DATABASE} user={SUPERUSER}"
        self.user = server_user()
        self.started = False
        self._watchdog: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        state = "running" if self.started else "stopped"
        return f"<PostgresServer {state} on a Unix socket in {self.folder}>"

    def command(self, *argv: str) -> list[str]:
        """The command line that runs one of the server's programs as the server's user."""
        command = [str(self.binaries / argv[0]), *argv[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        return command

    def run_binary(self, *argv: str, timeout: float = START_TIMEOUT) -> None:
        """Run one of the server's programs (``initdb``, ``pg_ctl``) as the server's user.

        Raises:
            RuntimeError: the program failed; its standard error is in the message.
        """
        command = self.command(*argv)
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.folder
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()}")

    def start(self) -> PostgresServer:
        """initdb, configure, start, create the database and the password roles."""
        if self.user is not None:
            shutil.chown(self.folder, self.user, self.user)
        self.run_binary(
            "initdb",
            *("-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--no-sync"),
            *("--no-instructions", "-E", "UTF8", "--locale=C"),
        )
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(f"unix_socket_directories = '{self.folder}'\n")
            for name, value in self.settings.items():
                conf.write(f"{name} = {value}\n")
        # Password roles first: pg_hba.conf is read top down, the first match wins.
        lines = [f"local all {role} scram-sha-256\n" for role in self.password_roles]
        (self.data / "pg_hba.conf").write_text("".join(lines) + "local all all trust\n")
        log = str(self.folder / "log")
        self._watch()
        self.run_binary("pg_ctl", "-D", str(self.data), "-l", log, "-w", "start")
        self.started = True
        import psycopg

        admin = f"host={self.folder} dbname=postgres user={SUPERUSER}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
            for role, password in self.password_roles.items():
                conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}' SUPERUSER")
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
            if self.started:
                self.run_binary(*self._stop_argv())
                self.started = False
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            watchdog, self._watchdog = self._watchdog, None
            if watchdog is not None:  # end it: at end-of-file it runs its stop once
                # more, which finds nothing left to stop (a harmless second pg_ctl)
                assert watchdog.stdin is not None
                watchdog.stdin.close()
                watchdog.wait(START_TIMEOUT)

    def _stop_argv(self) -> tuple[str, ...]:
        return ("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def _watch(self) -> None:
        """Start the watchdog that stops the server once this process has ended."""
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(self.folder), *self.command(*self._stop_argv())],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not stopped by a terminal's Ctrl-C with this process
        )

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
