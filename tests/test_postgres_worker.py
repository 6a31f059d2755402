"""``python -m goqueue worker`` on a real PostgreSQL: signals, and hosts that crash.

Each worker is a separate process (standing in for a host) running the command line with
the handlers of ``tests/pg_handlers.py``, which log every run's start and end with the
process id. Everything that waits is bounded, so a regression fails instead of hanging.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pg
import pytest
from support import FAILURE_BOUND, wait_until

from goqueue import Job, JobStatus

pytestmark = pytest.mark.skipif(pg.unavailable() is not None, reason=str(pg.unavailable()))

if pg.unavailable() is None:
    from goqueue.postgres_storage import PostgresStorage

TESTS = Path(__file__).resolve().parent
CRASH_BOUND = 90.0  # seconds for the whole crash run; only reached when it is broken


@dataclass
class Setup:
    dsn: str
    schema: str
    runs: Path  # the handlers' log
    folder: Path


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(pg.shared_server().dsn, f"t_{uuid.uuid4().hex[:16]}", tmp_path / "runs", tmp_path)


@pytest.fixture
def storage(setup: Setup) -> Iterator[PostgresStorage]:
    store = PostgresStorage(setup.dsn, schema=setup.schema)
    try:
        yield store
    finally:
        store.close()


class Worker:
    """One ``python -m goqueue worker`` process, its log in a file."""

    def __init__(self, setup: Setup, *, workers: int = 2, lease: float = 30.0) -> None:
        self.log = setup.folder / f"worker-{uuid.uuid4().hex[:8]}.log"
        env = dict(os.environ, GOQUEUE_TEST_RUNS=str(setup.runs), GOQUEUE_DSN=setup.dsn)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "goqueue",
                    "worker",
                    "--workers",
                    str(workers),
                    "--module",
                    "pg_handlers",
                    "--lease",
                    str(lease),
                    "--schema",
                    setup.schema,
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.pid = self.process.pid

    def wait_ready(self) -> None:
        """Wait for the line the worker logs once its queue has started."""
        deadline = time.monotonic() + 60
        while " workers on " not in self.log.read_text(encoding="utf-8"):
            assert self.process.poll() is None, self.log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "worker did not start"
            time.sleep(0.02)  # polling a file; the loop's predicate decides

    def stop(self, signum: int, timeout: float = FAILURE_BOUND) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(FAILURE_BOUND)


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Every worker a test starts; any still running at the end is killed."""
    started: list[Worker] = []
    try:
        yield started
    finally:
        for worker in started:
            worker.kill()


def read_runs(path: Path) -> dict[str, list[tuple[str, int, float]]]:
    """job id -> its log lines as (event, pid, time), in the order written."""
    runs: dict[str, list[tuple[str, int, float]]] = defaultdict(list)
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            event, job_id, pid, at = line.split()
            runs[job_id].append((event, int(pid), float(at)))
    return runs


def wait_for(predicate: Callable[[], bool], bound: float = FAILURE_BOUND) -> None:
    wait_until(predicate, bound, poll=0.02)  # polling another process's progress


def save_jobs(storage: PostgresStorage, count: int, seconds: float) -> list[Job]:
    jobs = [Job(type="work", payload={"seconds": seconds}) for _ in range(count)]
    for job in jobs:
        storage.save_job(job)
    return jobs


def statuses(storage: PostgresStorage, jobs: list[Job]) -> dict[str, JobStatus]:
    wanted = {job.id for job in jobs}
    return {job.id: job.status for job in storage.list_jobs() if job.id in wanted}


# -- the command line -----------------------------------------------------------------


def test_help_says_what_the_module_must_define() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "goqueue", "worker", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert "MODULE must define register(queue)" in done.stdout
    assert "SIGTERM drains" in done.stdout


def test_a_module_without_register_is_refused(tmp_path: Path) -> None:
    (tmp_path / "nothing_here.py").write_text("X = 1\n", encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "goqueue",
            "worker",
            "--dsn",
            "dbname=x",
            "--module",
            "nothing_here",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert (done.returncode, done.stderr) == (
        2,
        "goqueue worker: module 'nothing_here' has no function register(queue)\n",
    )


def test_an_unreachable_server_exits_1_naming_it(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(TESTS))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "goqueue",
            "worker",
            "--dsn",
            f"host={tmp_path} dbname=jobs password=sekrit",
            "--module",
            "pg_handlers",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"goqueue worker: postgres storage host={tmp_path} port=5432")
    assert "sekrit" not in done.stderr


def test_sigterm_finishes_the_running_jobs_and_exits_0(
    setup: Setup, storage: PostgresStorage, workers: list[Worker]
) -> None:
    worker = Worker(setup, workers=2)
    workers.append(worker)
    worker.wait_ready()
    jobs = save_jobs(storage, 2, 1.0)
    wait_for(lambda: len(read_runs(setup.runs)) == 2)  # both running
    assert worker.stop(signal.SIGTERM) == 0
    assert statuses(storage, jobs) == {job.id: JobStatus.COMPLETED for job in jobs}
    runs = read_runs(setup.runs)
    assert all([event for event, _, _ in runs[job.id]] == ["start", "end"] for job in jobs)


def test_sigint_stops_the_running_job_gives_back_the_rest_and_exits_130(
    setup: Setup, storage: PostgresStorage, workers: list[Worker]
) -> None:
    worker = Worker(setup, workers=1)
    workers.append(worker)
    worker.wait_ready()
    jobs = save_jobs(storage, 10, 600.0)  # each would take ten minutes if not cancelled
    wait_for(lambda: len(read_runs(setup.runs)) == 1)
    started = time.monotonic()
    assert worker.stop(signal.SIGINT) == 130
    assert time.monotonic() - started < FAILURE_BOUND
    runs = read_runs(setup.runs)
    assert all([event for event, _, _ in lines] == ["start", "end"] for lines in runs.values())
    after = statuses(storage, jobs)
    assert all(after[job_id].is_final for job_id in runs)  # ran, cut short
    # What was taken on and not run is not cancelled for every host: pending again.
    not_run = {after[job.id] for job in jobs if job.id not in runs}
    assert not_run == {JobStatus.PENDING}, worker.log.read_text()


# -- crashes --------------------------------------------------------------------------


def test_hosts_killed_mid_run_lose_no_job_and_never_share_one(
    setup: Setup, storage: PostgresStorage, workers: list[Worker]
) -> None:
    """4 workers, 2 SIGKILLed at random moments, 1 new: every job completes exactly right.

    Asserts, from the handlers' log: every job ends COMPLETED; no two processes ran a job
    at overlapping times (a killed run counts as running until its kill); a job ran more
    than once only when the process of its earlier run was killed.
    """
    rng = random.Random()
    lease = 1.0
    jobs = save_jobs(storage, 500, 0.04)
    first = [Worker(setup, workers=4, lease=lease) for _ in range(4)]
    workers.extend(first)
    for worker in first:
        worker.wait_ready()
    wait_for(lambda: sum(len(r) for r in read_runs(setup.runs).values()) >= 60, 60)
    killed_at: dict[int, float] = {}
    for victim in rng.sample(first, 2):
        time.sleep(rng.uniform(0.0, 0.4))  # a random moment, not an ordering
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(FAILURE_BOUND)
        killed_at[victim.pid] = time.time()
    late = Worker(setup, workers=4, lease=lease)
    workers.append(late)
    wait_for(lambda: set(statuses(storage, jobs).values()) == {JobStatus.COMPLETED}, CRASH_BOUND)
    for worker in workers:
        if worker.pid not in killed_at:
            assert worker.stop(signal.SIGTERM, timeout=30) == 0, worker.log.read_text()

    runs = read_runs(setup.runs)
    assert set(runs) == {job.id for job in jobs}  # every job ran
    interrupted = 0
    for job_id, lines in runs.items():
        # Pair each start with the end of the same process, if it wrote one.
        spans: list[tuple[int, float, float | None]] = []
        for event, pid, at in lines:
            if event == "start":
                spans.append((pid, at, None))
            else:
                index = max(i for i, span in enumerate(spans) if span[0] == pid)
                spans[index] = (pid, spans[index][1], at)
        *earlier, last = spans
        assert last[2] is not None, (job_id, spans)  # the run that completed it
        for pid, _, _ in earlier:
            assert pid in killed_at, f"job {job_id} re-run though its runner lived: {spans}"
        for (pid, _, end), (_, next_start, _) in itertools.pairwise(spans):
            over = end if end is not None else killed_at[pid]
            assert next_start >= over, f"job {job_id} ran in two processes at once: {spans}"
        interrupted += sum(1 for span in spans if span[2] is None)
    assert interrupted > 0, "no kill landed mid-run: the test tested nothing"
