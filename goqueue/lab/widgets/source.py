"""Source display: the code a lesson is about, and the lines a fix changes.

* ``source_of(fn)`` returns a function's source, so a notebook can show the lines it is
  about without a long cell (``code_only=True`` drops the docstring and comment lines);
* ``changed_lines(before, after)`` shows *after*'s code with every line it adds marked
  ``+`` and every line of *before* it drops marked ``-``, ignoring indentation: "the
  changed lines" of a fix, which is mostly a ``with lock:`` and a deeper indent.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

__all__ = ["changed_lines", "source_of"]


def source_of(fn: Callable[..., Any], *, code_only: bool = False) -> str:
    """The source of a function or method, dedented, without a trailing newline.

    Args:
        fn: a function, or a method looked up on its class (``UnsafeRegistry.get_handler``).
        code_only: drop the docstring, comment-only lines and blank lines.

    Returns:
        The source text.

    Raises:
        TypeError: *fn* has no Python source (a builtin, say).

    >>> print(source_of(changed_lines, code_only=True).splitlines()[0])
    def changed_lines(before: Callable[..., Any], after: Callable[..., Any]) -> str:
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
