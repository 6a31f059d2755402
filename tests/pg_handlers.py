"""Handlers for the worker processes that tests/test_postgres_worker.py starts.

``python -m goqueue worker --module pg_handlers`` (with ``tests/`` on ``PYTHONPATH``)
registers one job type, ``work``. Each run appends ``start <job id> <pid> <time>`` to
the file named by ``GOQUEUE_TEST_RUNS`` when it begins and ``end <job id> <pid> <time>``
when it is done, so the test can tell which process ran what, and when. A line this short,
written with O_APPEND in one ``os.write``, is never torn or interleaved with another
process's. The work is a wait of ``payload["seconds"]`` (cut short by a cancel).
"""

from __future__ import annotations

import os
import time
from typing import Any

from goqueue import JobContext, Queue

_log_fd: int | None = None


def _record(event: str, job_id: str) -> None:
    global _log_fd
    if _log_fd is None:
        _log_fd = os.open(
            os.environ["GOQUEUE_TEST_RUNS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
        )
    os.write(_log_fd, f"{event} {job_id} {os.getpid()} {time.time()!r}\n".encode())


def work(ctx: JobContext, payload: Any) -> None:
    _record("start", ctx.job_id)
    ctx.cancelled.wait(payload.get("seconds", 0.0))
    _record("end", ctx.job_id)


def register(queue: Queue) -> None:
    queue.register_handler("work", work)
