"""A database for the lesson: a throw-away PostgreSQL, or a clear reason why there is none.

``start_database()`` starts one ``PostgresServer`` per Python process (the first call; later
calls return the same one) and stops it when the process ends. Where PostgreSQL or psycopg
is missing, it returns a ``Database`` that is not ``available`` and says what to install;
the experiments that take it (``goqueue.lab.measure.sql_races``,
``goqueue.lab.measure.worker_processes``) then print that they skip, and return None, so a
notebook still runs top to bottom.
"""

from __future__ import annotations

import atexit
import threading
import unittest
from dataclasses import dataclass, field

from goqueue.lab.measure.pgserver import PostgresServer, unavailable

__all__ = ["Database", "NoDatabase", "start_database"]

INSTALL = (
    "install the PostgreSQL server (Debian/Ubuntu: sudo apt-get install postgresql) and"
    " psycopg (pip install 'goqueue[postgres]'), then restart the kernel"
)


class NoDatabase(unittest.SkipTest):
    """Raised by ``Database.require()`` when no server runs here.

    A subclass of ``unittest.SkipTest``, so a test (pytest or unittest) that needs the
    database is reported as skipped, with the reason, instead of failed.
    """


@dataclass(frozen=True)
class Database:
    """The lesson's database: where to connect, or why there is none.

    Attributes:
        dsn: a libpq connection string (a superuser on a Unix socket), or None.
        reason: why there is no server, and what to install ("" when there is one).
        version: the server's version, e.g. ``"15.18"`` ("" when there is none).
    """

    dsn: str | None
    reason: str = ""
    version: str = ""
    server: PostgresServer | None = field(default=None, repr=False, compare=False)

    @property
    def available(self) -> bool:
        """Whether a server runs and the experiments can use it."""
        return self.dsn is not None

    def require(self) -> str:
        """The DSN to connect to.

        Raises:
            NoDatabase: there is no server; the message says what to install.
        """
        if self.dsn is None:
            raise NoDatabase(f"no postgresql server here: {self.reason}")
        return self.dsn

    def skip(self, what: str) -> None:
        """Print that *what* is skipped for want of a server (for notebook cells)."""
        print(f"skipped ({what}): no PostgreSQL server here; to run it, {INSTALL}")

    def __repr__(self) -> str:
        if self.server is not None:
            return (
                f"PostgreSQL {self.version}, throw-away, on a Unix socket in {self.server.folder}"
            )
        if self.dsn is not None:
            return f"PostgreSQL {self.version} at {self.dsn}"
        return (
            f"no PostgreSQL server here ({self.reason})\n"
            f"the database cells below print that they skip; to run them, {INSTALL}"
        )


_lock = threading.Lock()
_started: Database | None = None  # guarded by _lock; stopped at exit


def start_database() -> Database:
    """Start this process's throw-away PostgreSQL (once), or say why none can run.

    Returns:
        The same ``Database`` on every call in one process; ``available`` is False when
        the server binaries or psycopg are missing (``reason`` says which).
    """
    global _started
    with _lock:
        if _started is None:
            _started = _start()
        return _started


def _start() -> Database:
    reason = unavailable()
    if reason is not None:
        return Database(None, reason=reason.removeprefix("!! "))
    server = PostgresServer()
    try:
        server.start()
    except (RuntimeError, OSError) as err:
        server.stop()
        return Database(None, reason=f"the server did not start: {err}")
    atexit.register(server.stop)
    import psycopg

    with psycopg.connect(server.dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    version = str(row[0]).split()[0] if row else "?"
    return Database(server.dsn, version=version, server=server)
