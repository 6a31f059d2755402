"""PostgresStorage: jobs/s with 1, 2, 4, 8 worker processes, and submit-to-start latency.

Usage: ``python bench/postgres_throughput.py [--dsn DSN] [--jobs N] [--peer-python PATH]``

Without ``--dsn`` it starts a throw-away server of its own (``goqueue.lab.measure.pgserver``:
a Unix socket, ``fsync=off``, commit times kept), so the numbers measure goqueue and
PostgreSQL's CPU work, not a disk.

**Throughput.** For each kind of job (a no-op; a 10 ms wait) and each number of worker
processes P, P ``python -m goqueue worker`` processes start on an empty schema and wait.
Then N jobs are committed at once (one ``COPY`` and one ``NOTIFY``: the producer is not
what is measured), and the clock runs from the ``COMMIT`` (the moment the workers can see
them) until the commit of the last outcome saved (all N ``completed`` in the table). No-op
jobs run with 4 threads per process; 10 ms jobs with 64 threads in all (64 / P each), whose
ideal is ``64 / 0.010`` jobs/s. The ratio to ideal for no-op jobs is to P times the
one-process rate.

**Latency.** One process with 4 threads on an idle queue; one job at a time is saved with
``save_job`` (which sends the NOTIFY), and its handler notes when it starts. p50 and p95
of start - save, over ``--latency-jobs`` jobs, each saved once the one before has finished.

**CPU per job.** Other work on the machine slows the wall clock but hardly changes the CPU
time a job costs: each run also reports the CPU seconds per job of the worker processes
and of the PostgreSQL server (``/proc``), whose sum bounds what two idle cores could do.

**Against PgQueuer.** With ``--peer-python PATH`` (a Python that has PgQueuer, e.g. a venv
made with ``pip install pgqueuer asyncpg``; it is not a dependency of goqueue), the same
throughput runs are then made with PgQueuer on the same server, by ``pgqueuer_peer.py``
under that Python: P consumer processes, N jobs enqueued in one call, the clock to the last
completion PgQueuer logged, and the CPU read from ``/proc`` here, at the same moments and
by the same code as for goqueue. A second table shows them, and a line per run the ratio
goqueue / PgQueuer of jobs/s and of CPU per job. Each PgQueuer run creates a database of
its own on the server and drops it after (with ``--dsn``, the role needs ``CREATEDB``).

This file is also the workers' handler module (``register(queue)`` below).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
SLEEP = 0.010  # seconds of "work" in a 10 ms job


# -- the workers' handlers --------------------------------------------------------------


def register(queue: Any) -> None:
    """Handlers for the worker processes: ``noop``, ``sleep`` (10 ms), ``latency``."""
    latency_log = os.environ.get("GOQUEUE_BENCH_LATENCY")

    def noop(ctx: Any, payload: Any) -> None:
        return None

    def sleep(ctx: Any, payload: Any) -> None:
        time.sleep(SLEEP)

    def latency(ctx: Any, payload: Any) -> None:
        started = time.time()
        if latency_log:
            with open(latency_log, "a", encoding="utf-8") as out:
                out.write(f"{payload['saved_at']!r} {started!r}\n")

    queue.register_handler("noop", noop)
    queue.register_handler("sleep", sleep)
    queue.register_handler("latency", latency)


# -- the measurements ---------------------------------------------------------------------


def start_workers(
    dsn: str, schema: str, processes: int, threads: int, env: dict[str, str]
) -> list[subprocess.Popen[bytes]]:
    """Start the worker processes; return once each has logged that it runs."""
    command = [sys.executable, "-m", "goqueue", "worker", "--module", "postgres_throughput"]
    logs = [Path(f"/tmp/goqueue-bench-{uuid.uuid4().hex[:8]}.log") for _ in range(processes)]
    workers = []
    for log in logs:
        with log.open("wb") as out:
            workers.append(
                subprocess.Popen(
                    [
                        *command,
                        "--workers",
                        str(threads),
                        "--schema",
                        schema,
                        "--log-level",
                        "INFO",
                    ],
                    env=dict(env, GOQUEUE_DSN=dsn),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    deadline = time.monotonic() + 120
    for log, worker in zip(logs, workers, strict=True):
        while " workers on " not in log.read_text(encoding="utf-8"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start: {log.read_text(encoding='utf-8')}")
            time.sleep(0.01)
        log.unlink()
    return workers


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(60)


def load_jobs(conn: Any, schema: str, job_type: str, count: int) -> datetime:
    """Commit *count* pending jobs at once (COPY, then one NOTIFY in the same transaction).

    Returns the time just before the COMMIT: no worker can see a job earlier, and the
    COPY (0.1 s for 12,000 jobs, 5 % of a 10 ms run) is the producer's time, not theirs.
    """
    from goqueue import Job

    columns = (
        "id, type, payload, max_retry, status, attempts, error, created_at, updated_at,"
        " next_attempt_at"
    )
    with conn.transaction():
        with conn.cursor().copy(f"COPY {schema}.jobs ({columns}) FROM STDIN") as copy:
            for _ in range(count):
                job = Job(type=job_type)
                copy.write_row(
                    (
                        job.id,
                        job.type,
                        "{}",
                        1,
                        "pending",
                        0,
                        None,
                        job.created_at,
                        job.updated_at,
                        None,
                    )
                )
        conn.execute(f"NOTIFY {schema}_jobs")
        committing = datetime.now(timezone.utc)
    return committing


def completed(conn: Any, schema: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {schema}.jobs WHERE status = 'completed'").fetchone()
    return int(row[0])


def last_completion(conn: Any, schema: str) -> datetime:
    """When the last job's outcome was committed: the commit time of the transaction that
    last wrote its row (``track_commit_timestamp``, which the benchmark's own server has).

    A job is done for the benchmark once anyone can read it as final, not when its
    worker's run ended: a host saves outcomes in batches (``goqueue.pool.OUTCOME_LINGER``),
    and ``updated_at``, the end of the run, came up to a linger and a round trip earlier.
    A server without commit times (``--dsn``) falls back to ``updated_at``, with a warning.
    """
    import psycopg

    try:
        query = f"SELECT max(pg_xact_commit_timestamp(xmin)) FROM {schema}.jobs"
        row = conn.execute(query).fetchone()
        return row[0]  # type: ignore[no-any-return]
    except psycopg.errors.ObjectNotInPrerequisiteState:  # track_commit_timestamp is off
        print(
            "!! no commit times on this server (track_commit_timestamp): the clock ends at"
            " the last run's end instead of its save, a little early",
            file=sys.stderr,
        )
    row = conn.execute(f"SELECT max(updated_at) FROM {schema}.jobs").fetchone()
    return row[0]  # type: ignore[no-any-return]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by the processes *pids* (all threads)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(data: Path | None) -> list[int]:
    """The postmaster of the server in *data* and its children (backends); [] if None."""
    if data is None:
        return []
    postmaster = int((data / "postmaster.pid").read_text(encoding="utf-8").split()[0])
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text(encoding="utf-8")
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.append(int(entry.name))
    return pids


class Run(NamedTuple):
    rate: float  # jobs/s, wall clock
    worker_cpu: float  # CPU seconds per job in the worker processes
    server_cpu: float  # CPU seconds per job in PostgreSQL (nan for an outside server)


def throughput(
    dsn: str,
    job_type: str,
    processes: int,
    threads: int,
    count: int,
    env: dict[str, str],
    data: Path | None,
    shortest: float = 0.0,
) -> Run:
    """Run *count* jobs of *job_type* through *processes* x *threads* workers, which
    cannot take less than *shortest* seconds.

    Besides the wall-clock rate, the CPU time the run cost (workers and server), which
    other load on the machine changes much less than the rate.
    """
    import psycopg

    from goqueue import PostgresStorage

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    PostgresStorage(dsn, schema=schema).close()  # creates the tables
    workers = start_workers(dsn, schema, processes, threads, env)
    pids = [worker.pid for worker in workers]
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            server = server_pids(data)
            cpu_before = cpu_seconds(pids), cpu_seconds(server)
            started = load_jobs(conn, schema, job_type, count)
            deadline = time.monotonic() + 600
            # Polled seldom, and not before the run could be over (each poll reads the
            # whole table: 5-30 ms of a core the workers would miss); the end is the
            # last job's completion time, not the poll's.
            time.sleep(shortest)
            while completed(conn, schema) < count:
                if time.monotonic() > deadline:
                    raise RuntimeError("jobs did not complete in 10 minutes")
                time.sleep(0.1)
            elapsed = (last_completion(conn, schema) - started).total_seconds()
            server = server_pids(data)  # backends may have come meanwhile
            cpu_after = cpu_seconds(pids), cpu_seconds(server)
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        stop_workers(workers)
    server_cpu = (cpu_after[1] - cpu_before[1]) / count if data else math.nan
    return Run(count / elapsed, (cpu_after[0] - cpu_before[0]) / count, server_cpu)


def peer_throughput(
    python: str, dsn: str, job_type: str, processes: int, count: int, data: Path | None
) -> tuple[Run, dict[str, Any]]:
    """Run *count* jobs of *job_type* through PgQueuer with *processes* consumer processes.

    ``pgqueuer_peer.py`` runs under *python* (which has PgQueuer) in a database of its own
    on the server of *dsn*. It reports its consumers' pids once they are ready and waits;
    the CPU counters are read then and again when it reports the result, as in
    ``throughput``. Returns the run and the peer's report (rate, PgQueuer's batch size
    and cap on tasks per process, its version).
    """
    command = [python, str(ROOT / "bench" / "pgqueuer_peer.py"), "--dsn", dsn]
    command += ["--kind", job_type, "--processes", str(processes), "--jobs", str(count)]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as peer:
        assert peer.stdin is not None and peer.stdout is not None
        pids = peer_report(peer)["worker_pids"]
        server = server_pids(data)
        cpu_before = cpu_seconds(pids), cpu_seconds(server)
        peer.stdin.write("go\n")
        peer.stdin.flush()
        result = peer_report(peer)
        server = server_pids(data)  # backends may have come meanwhile
        cpu_after = cpu_seconds(pids), cpu_seconds(server)
        peer.stdin.close()  # the peer stops its consumers and drops its database
        if peer.wait(120) != 0:
            raise RuntimeError(f"pgqueuer_peer.py failed with exit code {peer.returncode}")
    server_cpu = (cpu_after[1] - cpu_before[1]) / count if data else math.nan
    return Run(result["rate"], (cpu_after[0] - cpu_before[0]) / count, server_cpu), result


def peer_report(peer: subprocess.Popen[str]) -> dict[str, Any]:
    """The next JSON line from ``pgqueuer_peer.py``."""
    assert peer.stdout is not None
    line = peer.stdout.readline()
    if not line:
        raise RuntimeError(f"pgqueuer_peer.py stopped with exit code {peer.wait(60)}")
    return json.loads(line)  # type: ignore[no-any-return]


def latency(dsn: str, jobs: int, env: dict[str, str]) -> list[float]:
    """Seconds from save_job to the handler's start, on an idle queue."""
    from goqueue import Job, JobStatus, PostgresStorage

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    log = Path(f"/tmp/goqueue-latency-{uuid.uuid4().hex[:8]}.log")
    storage = PostgresStorage(dsn, schema=schema)
    workers = start_workers(dsn, schema, 1, 4, dict(env, GOQUEUE_BENCH_LATENCY=str(log)))
    try:
        for _ in range(jobs):
            job = Job(type="latency", payload={"saved_at": time.time()})
            storage.save_job(job)
            deadline = time.monotonic() + 30
            while True:
                stored = storage.get_job(job.id)
                if stored is not None and stored.status is JobStatus.COMPLETED:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("a latency job did not complete in 30 s")
                time.sleep(0.002)
            time.sleep(0.02)  # idle again: the feeder is back to waiting for a notice
    finally:
        stop_workers(workers)
        storage.close()
    pairs = [line.split() for line in log.read_text(encoding="utf-8").splitlines()]
    log.unlink()
    return [float(start) - float(saved) for saved, start in pairs]


def print_header(concurrency: str) -> None:
    """The tables' header; *concurrency* names the third column (threads, tasks)."""
    print(
        f"{'jobs':<8}{'processes':>10}{concurrency:>9}{'jobs/s':>10}{'ideal':>10}{'ratio':>8}"
        f"{'worker CPU/job':>16}{'server CPU/job':>16}"
    )


def print_row(label: str, processes: int, concurrency: int | str, run: Run, ideal: float) -> None:
    print(
        f"{label:<8}{processes:>10}{concurrency:>9}{run.rate:>10.0f}{ideal:>10.0f}"
        f"{run.rate / ideal:>8.0%}{run.worker_cpu * 1e6:>13.0f} us"
        f"{run.server_cpu * 1e6:>13.0f} us"
    )


def compare_with_pgqueuer(
    python: str,
    dsn: str,
    runs: list[tuple[str, str, int, int, int]],
    ours: dict[str, Run],
    data: Path | None,
    results: dict[str, Any],
) -> None:
    """The same *runs* with PgQueuer (under *python*): a table, then goqueue / PgQueuer.

    *ours* holds goqueue's runs by ``kind-processes``; the results go into *results*.
    """
    theirs: dict[str, Run] = {}
    results["pgqueuer"] = {}
    single = None
    for label, job_type, p, _, count in runs:
        run, report = peer_throughput(python, dsn, job_type, p, count, data)
        if not theirs:
            results["pgqueuer_version"] = report["pgqueuer"]
            print(f"\npgqueuer {report['pgqueuer']} (tasks: its cap on tasks per process)")
            print_header("tasks")
        tasks = report["max_concurrent_tasks"]
        if job_type == "noop":
            single = single or run.rate
            ideal = single * p
        else:
            ideal = p * tasks / SLEEP
        key = f"{job_type}-{p}"
        theirs[key] = run
        results["pgqueuer"][key] = dict(
            run._asdict(), batch_size=report["batch_size"], max_concurrent_tasks=tasks
        )
        print_row(label, p, tasks or "-", run, ideal)
    print("\ngoqueue / pgqueuer, same server, same run:")
    results["goqueue_over_pgqueuer"] = {}
    for label, job_type, p, _, _ in runs:
        key = f"{job_type}-{p}"
        rate = ours[key].rate / theirs[key].rate
        cpu = (ours[key].worker_cpu + ours[key].server_cpu) / (
            theirs[key].worker_cpu + theirs[key].server_cpu
        )
        results["goqueue_over_pgqueuer"][key] = {"rate": rate, "cpu_per_job": cpu}
        print(f"{label:<8}{p:>3} processes: {rate:5.2f} x the jobs/s, {cpu:5.2f} x the CPU per job")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", help="an existing database (default: start a throw-away one)")
    parser.add_argument("--jobs", type=int, default=10_000, help="no-op jobs per run")
    parser.add_argument("--sleep-jobs", type=int, default=6_000, help="10 ms jobs per run")
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--processes", default="1,2,4,8")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--peer-python",
        metavar="PATH",
        help="also run PgQueuer with this Python (one that has pgqueuer and asyncpg)",
    )
    args = parser.parse_args()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT / "bench"), str(ROOT), env.get("PYTHONPATH")])
    )
    server = None
    data: Path | None = None
    dsn = args.dsn
    if dsn is None:
        from goqueue.lab.measure.pgserver import PostgresServer

        server = PostgresServer(settings={"track_commit_timestamp": "on"}).start()
        dsn, data = server.dsn, server.data
    results: dict[str, Any] = {
        "when": datetime.now(timezone.utc).isoformat(),
        "cpus": os.cpu_count(),
    }
    try:
        counts = [int(p) for p in args.processes.split(",")]
        print_header("threads")
        single = None
        runs = [("no-op", "noop", p, 4, args.jobs) for p in counts]
        runs += [("10 ms", "sleep", p, 64 // p, args.sleep_jobs) for p in counts]
        ours: dict[str, Run] = {}
        for label, job_type, p, threads, count in runs:
            shortest = count * SLEEP / (p * threads) if job_type == "sleep" else 0.0
            run = throughput(dsn, job_type, p, threads, count, env, data, shortest)
            if job_type == "noop":
                single = single or run.rate
                ideal = single * p
            else:
                ideal = p * threads / SLEEP
            ours[f"{job_type}-{p}"] = run
            results[f"{job_type}-{p}"] = run._asdict()
            print_row(label, p, threads, run, ideal)
        lat = sorted(latency(dsn, args.latency_jobs, env))
        p50, p95 = statistics.median(lat), lat[int(len(lat) * 0.95) - 1]
        results["latency_p50_ms"], results["latency_p95_ms"] = p50 * 1000, p95 * 1000
        print(
            f"submit-to-start latency, idle queue: p50 {p50 * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"
        )
        if args.peer_python:
            compare_with_pgqueuer(args.peer_python, dsn, runs, ours, data, results)
    finally:
        if server is not None:
            server.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
