"""Shared fixtures: the storage contract's parametrized ``storage`` fixture.

Every storage in ``STORAGE_FACTORIES`` runs the whole contract suite in
``tests/test_storage.py``. A factory takes pytest's ``tmp_path`` (for storages that need
a file) and returns a fresh, empty storage; the fixture closes it afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pg
import pytest

from goqueue import JobStorage, MemoryStorage

#: ``(name, factory)`` pairs; append to this list to run the contract on another storage.
STORAGE_FACTORIES: list[tuple[str, Callable[[Path], JobStorage]]] = [
    ("memory", lambda tmp_path: MemoryStorage()),
]

try:
    from goqueue.sqlite_storage import SQLiteStorage
except ImportError:  # not written yet: the contract runs on the other storages
    pass
else:
    STORAGE_FACTORIES.append(("sqlite", lambda tmp_path: SQLiteStorage(tmp_path / "jobs.db")))

# PostgreSQL: a real server (tests/pg.py), started by the first test that needs it and
# stopped at the end of the session. Each storage gets a schema of its own: empty, and
# apart from every other test's. Without the server binaries or psycopg, the contract
# runs on the other storages and tests/test_postgres_*.py skip, saying why.
if pg.unavailable() is None:

    def _postgres(tmp_path: Path) -> JobStorage:
        from goqueue.postgres_storage import PostgresStorage

        schema = f"t_{uuid.uuid4().hex[:16]}"
        return PostgresStorage(pg.shared_server().dsn, schema=schema, pool_size=4)

    STORAGE_FACTORIES.append(("postgres", _postgres))


@pytest.fixture
def dsn() -> str:
    """The DSN of the session's PostgreSQL (for tests marked to skip without one)."""
    return pg.shared_server().dsn


@pytest.fixture
def schema() -> str:
    """A fresh PostgreSQL schema name: its tables apart from every other test's."""
    return f"t_{uuid.uuid4().hex[:16]}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    pg.stop_shared_server()


def pytest_report_header(config: pytest.Config) -> str | None:
    return pg.unavailable()


@pytest.fixture(
    params=[factory for _, factory in STORAGE_FACTORIES],
    ids=[name for name, _ in STORAGE_FACTORIES],
)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStorage]:
    """A fresh, empty storage of each kind in ``STORAGE_FACTORIES``."""
    factory: Callable[[Path], JobStorage] = request.param
    store = factory(tmp_path)
    try:
        yield store
    finally:
        store.close()
