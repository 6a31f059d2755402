"""The lease heartbeat shared by the storages that many processes use (SQLite, PostgreSQL).

A claimed job carries its storage's ``owner`` and a lease expiry. While the storage is
open, one daemon thread renews the leases of the jobs it runs every ``lease / 3`` seconds
(``LeaseHolder._renew_leases``), so a live process never loses its jobs to another, and a
killed one's jobs come back once their lease has run out.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Protocol

from .errors import QueueStateError

__all__ = ["LeaseHolder", "start_heartbeat"]

log = logging.getLogger("goqueue")


class LeaseHolder(Protocol):
    """What the heartbeat needs of a storage."""

    owner: str

    def _renew_leases(self) -> int: ...


def start_heartbeat(
    storage: LeaseHolder, closing: threading.Event, every: float
) -> threading.Thread:
    """Start and return the thread that renews *storage*'s leases every *every* seconds.

    It stops when *closing* is set or the storage is closed or collected: it holds only a
    weak reference between beats, so a storage nobody closes can still be collected (its
    leases then run out).
    """
    thread = threading.Thread(
        target=_keep_leases,
        args=(weakref.ref(storage), closing, every),
        name=f"goqueue-lease-{storage.owner}",
        daemon=True,  # renewing leases must not keep a finished program alive
    )
    thread.start()
    return thread


def _keep_leases(
    storage_ref: weakref.ReferenceType[LeaseHolder], closing: threading.Event, every: float
) -> None:
    while not closing.wait(every):
        storage = storage_ref()
        if storage is None:
            return
        try:
            storage._renew_leases()
        except QueueStateError:  # closed
            return
        except Exception:  # the next beat tries again; the lease has room for two misses
            log.warning("could not renew the leases of %s", storage.owner, exc_info=True)
        del storage
