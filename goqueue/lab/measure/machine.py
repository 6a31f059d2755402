"""The machine a measurement ran on: cores this process may use, the GIL, the interpreter.

Every measured table prints these beside its numbers, because they decide what the numbers
can be: CPU-bound threads scale with the cores only when the GIL is off.

>>> available_cores() >= 1
True
>>> python_version().startswith(("CPython 3.", "pypy 3."))
True
"""

from __future__ import annotations

import os
import sys

__all__ = ["available_cores", "gil_enabled", "python_version"]


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def gil_enabled() -> bool:
    """Whether this interpreter runs with the GIL.

    ``sys._is_gil_enabled()`` exists from Python 3.13; before that the GIL is always on.
    On a free-threaded build (3.13t) it may be off, and then CPU-bound threads can scale.
    """
    probe = getattr(sys, "_is_gil_enabled", None)
    return True if probe is None else bool(probe())


def python_version() -> str:
    """The interpreter, e.g. ``'CPython 3.11.9'`` (with ``' free-threaded'`` if so)."""
    version = ".".join(str(part) for part in sys.version_info[:3])
    name = sys.implementation.name
    label = "CPython" if name == "cpython" else name
    threaded = " free-threaded" if "free-threading" in sys.version else ""
    return f"{label} {version}{threaded}"
