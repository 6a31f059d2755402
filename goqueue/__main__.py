"""``python -m goqueue worker``: one host's workers on a database that many hosts share.

Start the same command on as many machines as you like, all with the same ``--dsn``: each
runs ``--workers`` threads that take jobs from the one ``jobs`` table. A job is claimed by
exactly one worker anywhere (``PostgresStorage.claim_job``); a host that dies has its
running jobs taken back by the others once their lease runs out (``--lease``).

The handlers come from ``--module``, a module importable from the current directory
(or ``PYTHONPATH``) that defines ``register(queue)``, called once before the workers
start::

    # myapp/handlers.py
    def send_email(ctx, payload):
        ...

    def register(queue):
        queue.register_handler("email", send_email)

Signals: ``SIGTERM`` drains (the jobs this host has taken on run to their end, no new
ones are taken) and exits 0. ``SIGINT`` (Ctrl-C) tells the running handlers to stop
(``ctx.cancelled``), gives back the jobs this host had taken on but not started (pending
again, for the other hosts) and exits 130. A second signal exits at once;
the jobs still running then come back to the other hosts when their lease runs out.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING

from .errors import StorageError
from .queue import Queue

if TYPE_CHECKING:
    from .postgres_storage import PostgresStorage

Register = Callable[[Queue], object]

__all__ = ["main", "parser"]

log = logging.getLogger("goqueue")

#: The exit status after SIGINT, as a shell reports a process killed by it (128 + 2).
EXIT_INTERRUPTED = 130

_HELP = """\
run this host's workers on a shared PostgreSQL database

MODULE must define register(queue), called once before the workers start:

    def register(queue):
        queue.register_handler("email", send_email)

SIGTERM drains (running and taken-on jobs finish) and exits 0. SIGINT tells running
handlers to stop, gives back the jobs taken on but not started (pending again, for the
other hosts), and exits 130. The DSN may also come from
the environment variable GOQUEUE_DSN (keeps a password out of the process list).
"""


def parser() -> argparse.ArgumentParser:
    """The command line: ``worker`` is the one subcommand."""
    top = argparse.ArgumentParser(prog="python -m goqueue", description="goqueue commands")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    worker = commands.add_parser(
        "worker",
        help="run workers on a shared PostgreSQL database",
        description=_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    worker.add_argument(
        "--dsn",
        default=os.environ.get("GOQUEUE_DSN"),
        help="libpq connection string or URL (default: $GOQUEUE_DSN)",
    )
    worker.add_argument("--workers", type=_positive_int, default=8, help="worker threads (8)")
    worker.add_argument(
        "--module", required=True, help="module that defines register(queue), e.g. myapp.jobs"
    )
    worker.add_argument(
        "--lease",
        type=_positive_float,
        default=30.0,
        help="seconds before a dead host's running jobs are taken back (30)",
    )
    worker.add_argument("--schema", default="goqueue", help="PostgreSQL schema (goqueue)")
    worker.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s goqueue[%(process)d] %(levelname)s %(message)s"
    )
    if not args.dsn:
        print("goqueue worker: no --dsn given and GOQUEUE_DSN is not set", file=sys.stderr)
        return 2
    try:
        register = _load_register(args.module)
    except (ImportError, TypeError) as err:
        print(f"goqueue worker: {err}", file=sys.stderr)
        return 2
    return _run_worker(args, register)


def _run_worker(args: argparse.Namespace, register: Register) -> int:
    from .postgres_storage import PostgresStorage

    try:
        storage = PostgresStorage(
            args.dsn, lease=args.lease, pool_size=args.workers + 3, schema=args.schema
        )
    except (StorageError, ValueError, ImportError) as err:
        print(f"goqueue worker: {err}", file=sys.stderr)
        return 1
    stopping = threading.Event()  # set by the first SIGTERM or SIGINT
    signals: list[int] = []  # the signals received, in order (appended by the handler)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)
        if stopping.is_set():  # the second one: do not wait any more
            os._exit(EXIT_INTERRUPTED if signum == signal.SIGINT else 128 + signum)
        stopping.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    queue = Queue(workers=args.workers, storage=storage)
    recovery = threading.Thread(
        target=_recover_while_running,
        args=(storage, stopping, args.lease / 2),
        name="goqueue-recover",
        daemon=True,
    )
    drain = True
    try:
        register(queue)
        queue.start()
        recovery.start()
        log.info(
            "%d workers on %s schema=%s owner=%s; job types: %s",
            args.workers,
            storage.server,
            storage.schema,
            storage.owner,
            ", ".join(queue.registry.job_types()) or "(none)",
        )
        stopping.wait()
        drain = signals[0] != signal.SIGINT
        log.info(
            "%s: stopping (%s)", signal.Signals(signals[0]).name, "drain" if drain else "cancel"
        )
        report = queue.stop(drain=drain)
        log.info("stopped: %s", report)
        if report.released:  # the pool leaves a shared storage's jobs pending
            log.info(
                "left %d job(s) taken on but not started for the other hosts", len(report.released)
            )
    except StorageError as err:
        print(f"goqueue worker: {err}", file=sys.stderr)
        queue.stop(drain=False)
        return 1
    finally:
        stopping.set()
        if recovery.ident is not None:
            recovery.join()
        storage.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0 if drain else EXIT_INTERRUPTED


def _recover_while_running(
    storage: PostgresStorage, stopping: threading.Event, every: float
) -> None:
    """Take back the jobs of dead hosts (expired leases) every *every* seconds."""
    while not stopping.wait(every):
        try:
            count = storage.recover_expired()
        except Exception:  # the next round tries again
            log.warning("could not take back expired jobs", exc_info=True)
            continue
        if count:
            log.info("took back %d job(s) whose owner stopped renewing its lease", count)


def _load_register(name: str) -> Register:
    """Import *name* and return its ``register`` function.

    Raises:
        ImportError: the module cannot be imported.
        TypeError: it has no callable ``register``.
    """
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as ``python -m`` does for the current directory
    module = importlib.import_module(name)
    register: Register | None = getattr(module, "register", None)
    if not callable(register):
        raise TypeError(f"module {name!r} has no function register(queue)")
    return register


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())
