"""Races in SQL: two connections driven step by step, and the same races counted in threads.

``replay_sql(db, name)`` plays one of ``SQL_RACES`` on the lesson's database: a fixed
schedule of statements on two connections, ``A`` and ``B``, in the explorer's vocabulary
(an ``Execution`` of ``Step`` rows, drawn like notebook 08's timelines). Nothing is left to
timing: one thread drives both connections, a step at a time. A statement that has to wait
for a row lock is sent, and the driver moves on once the *server* reports the connection
blocked (``pg_blocking_pids``); when the lock is released the statement finishes, shown as
a row of its own. The state column is what a third connection sees committed.

``count_lost_updates(db, method)`` runs the counter increment in real threads (each its own
connection, started behind a barrier) and counts the increments lost, and the retries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from goqueue.lab.interleavings.model import Execution, Step
from goqueue.lab.measure.database import Database
from goqueue.lab.measure.tables import html_table, text_table

__all__ = [
    "COUNTER_METHODS",
    "ISOLATION_LEVELS",
    "SQL_RACES",
    "CounterRow",
    "CounterTrials",
    "SqlRace",
    "count_lost_updates",
    "increment_atomic",
    "increment_for_update",
    "increment_select_then_update",
    "increment_serializable",
    "replay_sql",
]

BOUND = 30.0  # seconds; a statement neither done nor blocked by then is a failure

COUNTER = (
    "DROP TABLE IF EXISTS counter; CREATE TABLE counter (n int NOT NULL);"
    " INSERT INTO counter VALUES (0)"
)
JOBS = (
    "DROP TABLE IF EXISTS jobs; CREATE TABLE jobs (id int PRIMARY KEY, worker text);"
    " INSERT INTO jobs VALUES (1, NULL), (2, NULL)"
)
_PENDING = "SELECT id FROM jobs WHERE worker IS NULL ORDER BY id LIMIT 1"
_TAKE = "UPDATE jobs SET worker = '{me}' WHERE id = "
_READ = "SELECT n FROM counter"
_WRITE = "UPDATE counter SET n = {next}"
_SERIAL = "BEGIN ISOLATION LEVEL SERIALIZABLE"
#: A step that sends nothing: the connection waits until the server ends its blocked
#: statement (grants the lock, or cancels the statement, as its deadlock check does).
AWAIT = "(waits on)"
#: B looks for a deadlock after 0.25 s of waiting instead of the server's 1 s, so that B,
#: which closes the cycle, is the one the server cancels, every run (A's check comes 1 s
#: after A began to wait, by when B's has broken the cycle).
_QUICK_CHECK = "SET LOCAL deadlock_timeout = '250ms'"
#: The isolation levels PostgreSQL tells apart (READ UNCOMMITTED is READ COMMITTED there).
ISOLATION_LEVELS = ("READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE")

#: (connection, statement) pairs: a schedule.
Schedule = tuple[tuple[str, str], ...]
#: What a schedule's check gets: the final state, the value each connection read last, and
#: how many transactions wrote and committed.
Check = Callable[[str, dict[str, Any], int], str]


@dataclass(frozen=True)
class SqlRace:
    """A schedule of statements on connections ``A`` and ``B``, and what must hold after.

    ``{read}`` in a statement is the value the connection last read, ``{next}`` that value
    plus one, ``{me}`` the connection's name: the application's side of the code.

    Attributes:
        setup: SQL that makes the tables.
        steps: (connection, statement) in the order they are sent.
        state: SQL whose one row of text is the state column.
        check: (final state, last value read by each connection, transactions that wrote and
            committed) -> what went wrong, or "".
    """

    setup: str
    steps: Schedule
    state: str
    check: Check


def _every_increment_counted(state: str, read: dict[str, Any], committed: int) -> str:
    if state == f"n = {committed}":
        return ""
    return f"lost update: {committed} increments committed, but {state}"


def _both_committed(state: str, read: dict[str, Any], committed: int) -> str:
    if committed == 2:
        return ""
    return f"deadlock: the server cancelled a transaction; {committed} of 2 committed"


def _one_job_each(state: str, read: dict[str, Any], committed: int) -> str:
    if read["A"] == read["B"]:
        return f"double claim: A and B both took job {read['A']}"
    return ""


def _interleaved(begin: str, read: str, write: str) -> Schedule:
    """A and B each read, then A writes and commits, then B writes."""
    return (("A", begin), ("A", read), ("B", begin), ("B", read), ("A", write), ("A", "COMMIT"))


_COUNTER_STATE = "SELECT 'n = ' || n FROM counter"
_JOBS_STATE = (
    "SELECT string_agg('job ' || id || ': ' || coalesce(worker, '-'), ', ' ORDER BY id) FROM jobs"
)


def _counter(steps: Schedule) -> SqlRace:
    return SqlRace(COUNTER, steps, _COUNTER_STATE, _every_increment_counted)


def _claims(steps: Schedule) -> SqlRace:
    return SqlRace(JOBS, steps, _JOBS_STATE, _one_job_each)


def _two_rows(steps: Schedule) -> SqlRace:
    return SqlRace(JOBS, steps, _JOBS_STATE, _both_committed)


def _claim_in_one(lock: str) -> Schedule:
    claim = f"{_TAKE}({_PENDING} {lock}) RETURNING id"
    return (
        ("A", "BEGIN"),
        ("A", claim),
        ("B", "BEGIN"),
        ("B", claim),
        ("A", "COMMIT"),
        ("B", "COMMIT"),
    )


#: The lesson's schedules, by name.
SQL_RACES: dict[str, SqlRace] = {
    "lost update": _counter(
        (*_interleaved("BEGIN", _READ, _WRITE), ("B", _WRITE), ("B", "COMMIT"))
    ),
    "atomic update": _counter(
        (
            ("A", "BEGIN"),
            ("A", "UPDATE counter SET n = n + 1 RETURNING n"),
            ("B", "BEGIN"),
            ("B", "UPDATE counter SET n = n + 1 RETURNING n"),
            ("A", "COMMIT"),
            ("B", "COMMIT"),
        )
    ),
    "select for update": _counter(
        (
            *_interleaved("BEGIN", _READ + " FOR UPDATE", _WRITE),
            ("B", _WRITE),
            ("B", "COMMIT"),
        )
    ),
    "serializable": _counter(
        (
            *_interleaved(_SERIAL, _READ, _WRITE),
            ("B", _WRITE),
            ("B", "ROLLBACK"),
            ("B", _SERIAL),
            ("B", _READ),
            ("B", _WRITE),
            ("B", "COMMIT"),
        )
    ),
    "double claim": _claims(
        (
            *_interleaved("BEGIN", _PENDING, _TAKE + "{read}"),
            ("B", _TAKE + "{read}"),
            ("B", "COMMIT"),
        )
    ),
    "claim for update": _claims(_claim_in_one("FOR UPDATE")),
    "skip locked": _claims(_claim_in_one("FOR UPDATE SKIP LOCKED")),
    # Two transactions that each change jobs 1 and 2 (a heartbeat renewing leases, a save
    # of a batch of outcomes), in opposite orders, then in one order.
    "deadlock": _two_rows(
        (
            ("A", "BEGIN"),
            ("A", _TAKE + "1"),
            ("B", "BEGIN"),
            ("B", _QUICK_CHECK),
            ("B", _TAKE + "2"),
            ("A", _TAKE + "2"),
            ("B", _TAKE + "1"),
            ("B", AWAIT),
            ("B", "ROLLBACK"),
            ("A", "COMMIT"),
        )
    ),
    "one lock order": _two_rows(
        (
            ("A", "BEGIN"),
            ("A", _TAKE + "1"),
            ("B", "BEGIN"),
            ("B", _QUICK_CHECK),
            ("B", _TAKE + "1"),
            ("A", _TAKE + "2"),
            ("A", "COMMIT"),
            ("B", _TAKE + "2"),
            ("B", "COMMIT"),
        )
    ),
}


class _Connection:
    """One connection and the thread that sends its statements (so a blocked one waits there)."""

    def __init__(self, name: str, dsn: str) -> None:
        import psycopg

        self.name = name
        self.conn = psycopg.connect(dsn, autocommit=True)
        row = self.conn.execute("SELECT pg_backend_pid()").fetchone()
        self.pid = int(row[0]) if row else 0
        self.sender = ThreadPoolExecutor(1, thread_name_prefix=f"sql-{name}")
        # No lock: the sender thread writes these three inside a statement; the driver reads
        # them only once that statement's future is done (the future orders the two).
        self.read: Any = None  # the value the last row-returning statement read
        self.wrote = False  # an UPDATE succeeded in the open transaction
        self.committed_writes = 0  # transactions that wrote and committed
        # The driver's own: the statement sent and not yet shown as finished (driver only).
        self.pending: tuple[str, Future[str]] | None = None

    def send(self, sql: str) -> Future[str]:
        return self.sender.submit(self._execute, sql)

    def _execute(self, sql: str) -> str:
        import psycopg

        verb = sql.split()[0].upper()
        try:
            cursor = self.conn.execute(sql.encode())
        except psycopg.Error as err:
            code = err.sqlstate or "?"
            first = str(err).splitlines()[0]
            return f"ERROR {code}: {first}"
        if verb == "UPDATE":
            self.wrote = True
        elif verb in ("BEGIN", "COMMIT", "ROLLBACK"):
            if verb == "COMMIT" and self.wrote and cursor.statusmessage == "COMMIT":
                self.committed_writes += 1
            self.wrote = False
        if verb == "COMMIT" and cursor.statusmessage == "ROLLBACK":
            return "ROLLBACK (the transaction had failed)"
        if cursor.description is None:
            return ""
        row = cursor.fetchone()
        if row is None:
            return "no row"
        self.read = row[0]
        return str(row[0])

    def close(self) -> None:
        self.sender.shutdown(wait=True)
        self.conn.close()


def _shown(sql: str, done: Future[str]) -> str:
    result = done.result()
    return f"{sql} -> {result}" if result else sql


def _blocked(observer: Any, pid: int) -> bool:
    row = observer.execute("SELECT cardinality(pg_blocking_pids(%s))", (pid,)).fetchone()
    return bool(row and row[0])


def replay_sql(db: Database, name: str, isolation: str | None = None) -> Execution | None:
    """Play the schedule *name* of ``SQL_RACES`` on two connections, one step at a time.

    Args:
        db: the lesson's database (when it is not available, this prints that it skips).
        name: a key of ``SQL_RACES``.
        isolation: run every transaction of the schedule at this isolation level instead
            (``"READ COMMITTED"``, ``"REPEATABLE READ"`` or ``"SERIALIZABLE"``).

    Returns:
        The run as an ``Execution`` (threads ``A`` and ``B``; status ``"ok"`` or
        ``"violated"`` with what went wrong), or None when there is no database.

    Raises:
        ValueError: *name* is not a schedule of ``SQL_RACES``, or *isolation* is not a level.
    """
    if name not in SQL_RACES:
        raise ValueError(f"unknown sql race: {name!r} (one of {', '.join(map(repr, SQL_RACES))})")
    if isolation is not None and isolation not in ISOLATION_LEVELS:
        levels = ", ".join(map(repr, ISOLATION_LEVELS))
        raise ValueError(f"isolation must be one of {levels}, got {isolation!r}")
    if not db.available:
        db.skip(name)
        return None
    import psycopg

    race = SQL_RACES[name]
    dsn = db.require()
    with psycopg.connect(dsn, autocommit=True) as observer:
        observer.execute(race.setup.encode())

        def state() -> str:
            row = observer.execute(race.state.encode()).fetchone()
            return str(row[0]) if row else ""

        conns = {n: _Connection(n, dsn) for n in ("A", "B")}
        steps: list[Step] = []
        initial = state()
        try:
            for who, template in race.steps:
                conn = conns[who]
                if template == AWAIT:
                    steps.append(Step(who, _await(conn, name), state()))
                    continue
                if conn.pending is not None:
                    raise ValueError(f"schedule {name!r} steps {who} while its statement waits")
                nxt = conn.read + 1 if isinstance(conn.read, int) else None
                sql = template.format(read=conn.read, next=nxt, me=who)
                if isolation is not None and sql.startswith("BEGIN"):
                    sql = f"BEGIN ISOLATION LEVEL {isolation}"
                conn.pending = (sql, conn.send(sql))
                waiting = _settle(observer, conn)
                text = f"{sql} -> waits for a row lock" if waiting else _shown(sql, conn.pending[1])
                if not waiting:
                    conn.pending = None
                steps.append(Step(who, text, state()))
                for other in conns.values():
                    if other is not conn and other.pending and not _settle(observer, other):
                        done = other.pending[1]
                        other.pending = None
                        steps.append(
                            Step(other.name, f"... {_shown('lock granted', done)}", state())
                        )
        finally:
            for conn in conns.values():
                conn.close()
        final = state()
    read = {name: conn.read for name, conn in conns.items()}
    problem = race.check(final, read, sum(c.committed_writes for c in conns.values()))
    return Execution(
        threads=("A", "B"),
        schedule=tuple(step.thread for step in steps),
        status="violated" if problem else "ok",
        message=problem,
        final_state=final,
        steps=steps,
        initial_state=initial,
    )


def _await(conn: _Connection, name: str) -> str:
    """The step ``AWAIT``: wait until the server ends *conn*'s blocked statement; its text."""
    if conn.pending is None:
        raise ValueError(f"schedule {name!r} awaits {conn.name}, which waits for nothing")
    done = conn.pending[1]
    done.result(BOUND)  # TimeoutError after BOUND: a wait the server never ended
    conn.pending = None
    return f"... {_shown('the wait ends', done)}"


def _settle(observer: Any, conn: _Connection) -> bool:
    """Wait until *conn*'s statement is done (False) or the server says it is blocked (True)."""
    assert conn.pending is not None
    future = conn.pending[1]
    deadline = time.monotonic() + BOUND
    while not future.done():
        if _blocked(observer, conn.pid):
            return True
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"statement on {conn.name} neither finished nor blocked in {BOUND} s"
            )
        time.sleep(0.001)
    return False


# -- the same increments in real threads --------------------------------------------------


def increment_select_then_update(conn: Any) -> int:
    """Read n, then write n + 1, in one READ COMMITTED transaction (loses updates)."""
    conn.execute("BEGIN")
    (n,) = conn.execute("SELECT n FROM counter").fetchone()
    conn.execute("UPDATE counter SET n = %s", (n + 1,))
    conn.execute("COMMIT")
    return 0


def increment_atomic(conn: Any) -> int:
    """One statement that reads and writes under the row lock."""
    conn.execute("UPDATE counter SET n = n + 1")
    return 0


def increment_for_update(conn: Any) -> int:
    """Read with the row locked (FOR UPDATE) until the commit, then write n + 1."""
    conn.execute("BEGIN")
    (n,) = conn.execute("SELECT n FROM counter FOR UPDATE").fetchone()
    conn.execute("UPDATE counter SET n = %s", (n + 1,))
    conn.execute("COMMIT")
    return 0


def increment_serializable(conn: Any) -> int:
    """Read, write, commit at SERIALIZABLE; on a serialization failure, roll back and retry.

    Returns:
        How many times the transaction was retried.
    """
    import psycopg.errors

    retries = 0
    while True:
        try:
            conn.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
            (n,) = conn.execute("SELECT n FROM counter").fetchone()
            conn.execute("UPDATE counter SET n = %s", (n + 1,))
            conn.execute("COMMIT")
            return retries
        except psycopg.errors.SerializationFailure:
            conn.execute("ROLLBACK")
            retries += 1


#: Ways to add one to the counter, by name: each takes a connection, returns its retries.
COUNTER_METHODS: dict[str, Callable[[Any], int]] = {
    "select then update": increment_select_then_update,
    "atomic update": increment_atomic,
    "select for update": increment_for_update,
    "serializable + retry": increment_serializable,
}


@dataclass(frozen=True)
class CounterRow:
    """One method's trial: increments made, the counter at the end, what was lost."""

    method: str
    increments: int
    final: int
    retries: int
    seconds: float

    @property
    def lost(self) -> int:
        """Increments that committed but left no trace in the counter."""
        return self.increments - self.final


@dataclass(frozen=True)
class CounterTrials:
    """``count_lost_updates`` for several methods: a table in a terminal and in Jupyter."""

    rows: tuple[CounterRow, ...]
    connections: int

    def by_method(self, method: str) -> CounterRow:
        """The row of *method*.

        Raises:
            KeyError: no row has that method.
        """
        for row in self.rows:
            if row.method == method:
                return row
        raise KeyError(method)

    def _cells(self) -> tuple[list[str], list[list[object]]]:
        headers = ["method", "increments", "counter", "lost", "retries", "time"]
        cells: list[list[object]] = [
            [r.method, r.increments, r.final, r.lost, r.retries, f"{r.seconds:.2f} s"]
            for r in self.rows
        ]
        return headers, cells

    def caption(self) -> str:
        return f"{self.connections} connections, each in its own thread, adding 1 to one counter"

    def __str__(self) -> str:
        return self.caption() + "\n" + text_table(*self._cells())

    def _repr_html_(self) -> str:
        return html_table(*self._cells(), caption=self.caption())


def count_lost_updates(
    db: Database,
    methods: Sequence[str] = tuple(COUNTER_METHODS),
    connections: int = 4,
    increments: int = 25,
) -> CounterTrials | None:
    """Add 1 to a counter *increments* times on each of *connections* threads, per method.

    The threads start behind a barrier, so their transactions overlap; each has its own
    connection. A method that is safe ends with the counter equal to the increments made.

    Args:
        db: the lesson's database (when it is not available, this prints that it skips).
        methods: keys of ``COUNTER_METHODS``.
        connections: threads, each with one connection (>= 1).
        increments: increments per thread (>= 1).

    Returns:
        One row per method, or None when there is no database.

    Raises:
        ValueError: an unknown method, or a count below 1.
    """
    for method in methods:
        if method not in COUNTER_METHODS:
            raise ValueError(f"unknown counter method: {method!r}")
    if connections < 1:
        raise ValueError(f"connections must be >= 1, got {connections}")
    if increments < 1:
        raise ValueError(f"increments must be >= 1, got {increments}")
    if not db.available:
        db.skip("counting lost updates")
        return None
    rows = tuple(_trial(db.require(), m, connections, increments) for m in methods)
    return CounterTrials(rows, connections)


def _trial(dsn: str, method: str, connections: int, increments: int) -> CounterRow:
    import psycopg

    increment = COUNTER_METHODS[method]
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(COUNTER.encode())
        conns = [psycopg.connect(dsn, autocommit=True) for _ in range(connections)]
        retries = [0] * connections  # each slot written by its own thread only
        errors: list[BaseException] = []  # appended by a thread that failed
        start = threading.Barrier(connections + 1)

        def work(i: int) -> None:
            try:
                start.wait()
                for _ in range(increments):
                    retries[i] += increment(conns[i])
            except BaseException as err:  # reported below, in the caller's thread
                errors.append(err)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(connections)]
        for thread in threads:
            thread.start()
        try:
            start.wait()
            began = time.perf_counter()
        finally:
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - began
            for conn in conns:
                conn.close()
        if errors:
            raise errors[0]
        row = admin.execute("SELECT n FROM counter").fetchone()
    final = int(row[0]) if row else 0
    return CounterRow(method, connections * increments, final, sum(retries), elapsed)
