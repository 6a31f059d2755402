"""PgQueuer on the same server: the peer that ``bench/postgres_throughput.py`` compares with.

Usage, with a Python that has ``pgqueuer`` and ``asyncpg`` (not the project's; e.g. a venv
made with ``pip install pgqueuer asyncpg``)::

    PYTHON bench/pgqueuer_peer.py --dsn DSN --kind noop|sleep --processes P --jobs N < /dev/null

PgQueuer is not a dependency of goqueue, so this file runs under another interpreter and
imports nothing but the standard library, ``pgqueuer`` and ``asyncpg``. *DSN* is a
``postgresql://`` URI or a libpq ``key=value`` string (host, port, user, password, dbname),
the form goqueue's benchmark uses.

**One run, measured as goqueue's benchmark measures goqueue.** A fresh database
``bench_<hex>`` is created on the server of *DSN* (and dropped at the end), so PgQueuer's
tables start empty and no earlier run leaves rows behind. PgQueuer's schema is installed
there; P consumer processes (this file again, with ``--consume``) start, and each reports
ready once its LISTEN works: PgQueuer's own health check has made a round trip through
NOTIFY, so the jobs' NOTIFY cannot be missed. Then N jobs are enqueued in one call (one
``INSERT``; PgQueuer's trigger sends the NOTIFY), and the clock runs from a UTC time taken
just after that call returns (the jobs committed; goqueue's clock starts just before its
COMMIT, a round trip earlier) to the commit of the last ``successful`` row in
``pgqueuer_log`` (``track_commit_timestamp``, as for goqueue; on a server without commit
times, that row's ``created``, the start of its transaction). The queue is polled only
every 0.1 s (a tight ``count(*)`` costs the server CPU the consumers would miss), and the
poll's own time does not count.

**Concurrency, matched to goqueue's.** No-op jobs: PgQueuer's defaults (a batch of 10 per
dequeue, no cap on tasks). 10 ms jobs (``await asyncio.sleep(0.010)``): 64 in flight in
all, so ``max_concurrent_tasks = 64 // P`` per process; PgQueuer refuses a cap below twice
the batch size, so ``batch_size = 32 // P``.

**Talking to the caller.** Two JSON lines on stdout. The first, ``{"worker_pids": [...]}``,
once all consumers are ready; then the script waits for one line on stdin before it
enqueues. The second, ``{"rate": ..., ...}``, once the jobs are done; then it waits for the
end of stdin before it stops the consumers and drops the database. In between, the caller
reads the CPU time of the consumers and of the server from ``/proc``, at the same moments
and with the same code as for goqueue's workers. With ``< /dev/null`` the script runs
straight through.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from importlib import metadata
from typing import Any

import asyncpg
from pgqueuer import AsyncpgDriver, Job, PgQueuer, Queries
from pgqueuer.errors import FailingListenerError

SLEEP = 0.010  # seconds of "work" in a 10 ms job, as in postgres_throughput.py
IN_FLIGHT = 64  # 10 ms jobs running at once, over all processes, as in postgres_throughput.py
NOOP_BATCH = 10  # PgQueuer's default batch_size


# -- the consumers ------------------------------------------------------------------------


async def noop(job: Job) -> None:
    return None


async def sleep(job: Job) -> None:
    await asyncio.sleep(SLEEP)


HANDLERS = {"noop": noop, "sleep": sleep}


def concurrency(kind: str, processes: int) -> tuple[int, int | None]:
    """``(batch_size, max_concurrent_tasks)`` per consumer process; None is no cap."""
    if kind == "noop":
        return NOOP_BATCH, None
    return IN_FLIGHT // processes // 2, IN_FLIGHT // processes


async def consume(connect: dict[str, Any], database: str, kind: str, processes: int) -> None:
    """One consumer process: run PgQueuer until terminated; print ``ready`` once listening."""
    connection = await asyncpg.connect(**dict(connect, database=database))
    pgq = PgQueuer.from_asyncpg_connection(connection)
    pgq.entrypoint(kind)(HANDLERS[kind])
    batch_size, max_tasks = concurrency(kind, processes)
    run = asyncio.create_task(pgq.run(batch_size=batch_size, max_concurrent_tasks=max_tasks))
    deadline = time.monotonic() + 60
    while not await listening(pgq):
        if run.done():
            await run  # raises what stopped it
            raise RuntimeError("pgqueuer stopped before it listened")
        if time.monotonic() > deadline:
            raise RuntimeError("pgqueuer did not listen in 60 s")
    print("ready", flush=True)
    await run


async def listening(pgq: PgQueuer) -> bool:
    """Whether *pgq* hears NOTIFY yet: PgQueuer's health check makes a round trip through it.

    Until ``run`` has started listening, the probe's NOTIFY is lost and the check times out.
    """
    try:
        await pgq.qm.listener_healthy(timeout=timedelta(seconds=0.5))
    except FailingListenerError:
        return False
    return True


# -- one run ------------------------------------------------------------------------------


# libpq's names of connection parameters -> asyncpg.connect's
ASYNCPG_NAMES = {
    "host": "host",
    "port": "port",
    "user": "user",
    "password": "password",
    "dbname": "database",
}


def connect_arguments(dsn: str) -> dict[str, Any]:
    """``asyncpg.connect`` keyword arguments for *dsn* (a URI, or libpq ``key=value`` pairs).

    asyncpg reads only URIs; goqueue's benchmark gives ``host=/tmp/... dbname=... user=...``.
    """
    if "://" in dsn:
        return {"dsn": dsn}
    arguments: dict[str, Any] = {}
    for pair in shlex.split(dsn):
        key, _, value = pair.partition("=")
        if key not in ASYNCPG_NAMES:
            raise ValueError(f"unsupported connection parameter for asyncpg: {key!r}")
        arguments[ASYNCPG_NAMES[key]] = int(value) if key == "port" else value
    return arguments


def report(line: dict[str, Any]) -> None:
    """Tell the caller: one JSON line on stdout."""
    print(json.dumps(line), flush=True)


async def start_consumers(
    args: argparse.Namespace, database: str
) -> list[asyncio.subprocess.Process]:
    """Start ``args.processes`` consumers on *database* (``wait_until_ready`` waits for them)."""
    command = [sys.executable, __file__, "--dsn", args.dsn, "--kind", args.kind]
    command += ["--processes", str(args.processes), "--jobs", str(args.jobs)]
    command += ["--consume", database]
    consumers = []
    for _ in range(args.processes):
        consumer = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
        consumers.append(consumer)
    return consumers


async def wait_until_ready(consumers: list[asyncio.subprocess.Process]) -> None:
    """Return once each consumer has printed ``ready`` (it listens for NOTIFY)."""
    deadline = time.monotonic() + 120
    for consumer in consumers:
        assert consumer.stdout is not None
        remaining = max(deadline - time.monotonic(), 0)
        line = await asyncio.wait_for(consumer.stdout.readline(), remaining)
        if line != b"ready\n":
            raise RuntimeError("a consumer stopped before it was ready (see its stderr)")


async def stop_consumers(consumers: list[asyncio.subprocess.Process]) -> None:
    for consumer in consumers:
        if consumer.returncode is None:
            consumer.terminate()
    for consumer in consumers:
        await asyncio.wait_for(consumer.wait(), 60)


async def measure(connection: asyncpg.Connection, kind: str, count: int) -> float:
    """Enqueue *count* jobs of *kind* at once; seconds until the last one completed."""
    queries = Queries(AsyncpgDriver(connection))
    names = queries.qbe.settings.qualified
    await queries.enqueue([kind] * count, [None] * count, [0] * count)
    started = datetime.now(timezone.utc)  # committed: the consumers may start
    deadline = time.monotonic() + 600
    # Done jobs leave the queue table when their completion is logged.
    while await connection.fetchval(f"SELECT count(*) FROM {names.queue_table}") > 0:
        if time.monotonic() > deadline:
            raise RuntimeError("jobs did not complete in 10 minutes")
        await asyncio.sleep(0.1)
    log = f"FROM {names.queue_table_log} WHERE status = 'successful'"
    succeeded = await connection.fetchval(f"SELECT count(*) {log}")
    if succeeded != count:
        raise RuntimeError(f"{count - succeeded} of {count} jobs did not succeed")
    try:  # when the last completion was committed, as for goqueue
        finished = await connection.fetchval(f"SELECT max(pg_xact_commit_timestamp(xmin)) {log}")
    except asyncpg.exceptions.ObjectNotInPrerequisiteStateError:  # no commit times kept
        finished = await connection.fetchval(f"SELECT max(created) {log}")
    return (finished - started).total_seconds()  # type: ignore[no-any-return]


async def benchmark(args: argparse.Namespace) -> None:
    """One run in a database of its own, created here and dropped at the end."""
    connect = connect_arguments(args.dsn)
    database = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(**connect)
    await admin.execute(f"CREATE DATABASE {database}")
    try:
        connection = await asyncpg.connect(**dict(connect, database=database))
        try:
            await Queries(AsyncpgDriver(connection)).install()
            consumers = await start_consumers(args, database)
            try:
                await wait_until_ready(consumers)
                report({"worker_pids": [consumer.pid for consumer in consumers]})
                sys.stdin.readline()  # the caller has read the CPU counters
                seconds = await measure(connection, args.kind, args.jobs)
                batch_size, max_tasks = concurrency(args.kind, args.processes)
                report(
                    {
                        "rate": args.jobs / seconds,
                        "seconds": seconds,
                        "batch_size": batch_size,
                        "max_concurrent_tasks": max_tasks,
                        "pgqueuer": metadata.version("pgqueuer"),
                    }
                )
                sys.stdin.read()  # the caller has read the CPU counters again
            finally:
                await stop_consumers(consumers)
        finally:
            await connection.close()
    finally:
        await admin.execute(f"DROP DATABASE {database} WITH (FORCE)")
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", required=True, help="a database on the server to use")
    parser.add_argument("--kind", choices=sorted(HANDLERS), required=True)
    parser.add_argument("--processes", type=int, required=True, help="consumer processes")
    parser.add_argument("--jobs", type=int, required=True, help="jobs in the run")
    parser.add_argument("--consume", metavar="DATABASE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.consume:
        asyncio.run(consume(connect_arguments(args.dsn), args.consume, args.kind, args.processes))
    else:
        asyncio.run(benchmark(args))


if __name__ == "__main__":
    main()
