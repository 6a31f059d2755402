"""Helpers for notebooks 03 and 04: show the registry's code, fix it with one lock, probe a lock.

* ``source_of(fn)`` returns a function's source, so a notebook can show the lines it is
  about without a long cell (``code_only=True`` drops the docstring and comment lines);
* ``changed_lines(before, after)`` shows *after*'s code with every line it adds marked
  ``+`` and every line of *before* it drops marked ``-``, ignoring indentation: "the
  changed lines" of a fix, which is mostly a ``with lock:`` and a deeper indent;
* ``probe_lock(lock)`` asks, from another thread and without waiting, whether a new
  reader and a writer could get into *lock* right now.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["LockProbe", "changed_lines", "probe_lock", "source_of"]

#: The failure bound (seconds) on joining the probe thread; a probe never waits for a lock.
PROBE_TIMEOUT = 5.0


def source_of(fn: Callable[..., Any], *, code_only: bool = False) -> str:
    """The source of a function or method, dedented, without a trailing newline.

    Args:
        fn: a function, or a method looked up on its class (``UnsafeRegistry.get_handler``).
        code_only: drop the docstring, comment-only lines and blank lines.

    Returns:
        The source text.

    Raises:
        TypeError: *fn* has no Python source (a builtin, say).

    >>> print(source_of(probe_lock, code_only=True).splitlines()[0])
    def probe_lock(lock: Any) -> LockProbe:
    """
    try:
        text = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as exc:
        raise TypeError(f"no source for {fn!r}") from exc
    if not code_only:
        return text.rstrip("\n")
    lines = text.splitlines()
    skip: set[int] = set()
    tree = ast.parse(text)
    node = tree.body[0]
    body = getattr(node, "body", None)
    first = body[0] if body else None
    is_docstring = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    if first is not None and is_docstring and first.end_lineno is not None:
        skip.update(range(first.lineno - 1, first.end_lineno))
    kept = [
        line
        for number, line in enumerate(lines)
        if number not in skip and line.strip() and not line.strip().startswith("#")
    ]
    return "\n".join(kept)


def changed_lines(before: Callable[..., Any], after: Callable[..., Any]) -> str:
    """*after*'s code with its changes against *before* marked, ignoring indentation.

    Docstrings, comments and blank lines are left out (``source_of(code_only=True)``), so
    only code is compared. Each output line starts with ``"+ "`` (a line *after* adds),
    ``"- "`` (a line of *before* that *after* no longer has) or two spaces (unchanged but
    perhaps re-indented, shown as in *after*).

    Args:
        before: the original function or method.
        after: the changed one.

    Returns:
        The marked listing, one line per source line.

    Raises:
        TypeError: either has no Python source.

    >>> def count(d, k):
    ...     d[k] = d.get(k, 0) + 1
    >>> def count_locked(d, k):
    ...     with LOCK:
    ...         d[k] = d.get(k, 0) + 1
    >>> print(changed_lines(count, count_locked))
    - def count(d, k):
    + def count_locked(d, k):
    +     with LOCK:
              d[k] = d.get(k, 0) + 1
    """
    old = source_of(before, code_only=True).splitlines()
    new = source_of(after, code_only=True).splitlines()
    matcher = difflib.SequenceMatcher(
        a=[line.strip() for line in old], b=[line.strip() for line in new], autojunk=False
    )
    out: list[str] = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            out.extend(f"  {line}" for line in new[b0:b1])
            continue
        out.extend(f"- {line}" for line in old[a0:a1])
        out.extend(f"+ {line}" for line in new[b0:b1])
    return "\n".join(out)


class _ReadWriteLock(Protocol):
    def acquire_read(self, timeout: float | None = None) -> bool: ...
    def release_read(self) -> None: ...
    def acquire_write(self, timeout: float | None = None) -> bool: ...
    def release_write(self) -> None: ...


@dataclass(frozen=True)
class LockProbe:
    """Whether a newcomer could enter a lock at one moment, asked without waiting.

    Attributes:
        reader_gets_in: a new reader (``acquire_read``, or ``acquire`` of a plain lock)
            would enter at once.
        writer_gets_in: a writer (``acquire_write``, or ``acquire``) would enter at once.
    """

    reader_gets_in: bool
    writer_gets_in: bool

    def __str__(self) -> str:
        def word(gets_in: bool) -> str:
            return "gets in" if gets_in else "must wait"

        return f"a new reader {word(self.reader_gets_in)}, a writer {word(self.writer_gets_in)}"


def probe_lock(lock: Any) -> LockProbe:
    """Ask from a fresh thread whether a reader, then a writer, could enter *lock* now.

    Each attempt uses a zero timeout (``acquire_read(timeout=0)``, ``acquire_write(timeout=0)``,
    or ``acquire(blocking=False)`` for a plain ``threading.Lock``) and gives back at once
    whatever it got, so the probe never waits for the lock and leaves it as it found it.
    It asks from another thread because the calling thread's own holdings would otherwise
    decide the answer (an ``RWLock`` refuses a thread that already holds it).

    Args:
        lock: a ``goqueue.RWLock``, a ``ReaderPreferringRWLock``, or a ``threading.Lock``.

    Returns:
        A ``LockProbe``.

    Raises:
        TypeError: *lock* has neither ``acquire_read`` nor ``acquire``.
        TimeoutError: the probe thread did not finish within ``PROBE_TIMEOUT`` seconds.

    >>> lock = threading.Lock()
    >>> print(probe_lock(lock))
    a new reader gets in, a writer gets in
    >>> with lock:
    ...     print(probe_lock(lock))
    a new reader must wait, a writer must wait
    """
    if hasattr(lock, "acquire_read"):
        rw: _ReadWriteLock = lock

        def try_read() -> bool:
            if not rw.acquire_read(timeout=0):
                return False
            rw.release_read()
            return True

        def try_write() -> bool:
            if not rw.acquire_write(timeout=0):
                return False
            rw.release_write()
            return True

    elif hasattr(lock, "acquire"):

        def try_read() -> bool:
            if not lock.acquire(blocking=False):
                return False
            lock.release()
            return True

        try_write = try_read
    else:
        raise TypeError(f"lock must be an RWLock or a threading.Lock, got {lock!r}")
    answers: list[bool] = []
    errors: list[BaseException] = []

    def probe() -> None:
        try:
            answers.extend([try_read(), try_write()])
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    thread = threading.Thread(target=probe, name="lock-probe", daemon=True)
    thread.start()
    thread.join(PROBE_TIMEOUT)
    if thread.is_alive():
        raise TimeoutError(f"lock probe did not finish within {PROBE_TIMEOUT} s")
    if errors:
        raise errors[0]
    return LockProbe(reader_gets_in=answers[0], writer_gets_in=answers[1])
