"""Source display: source listings of functions and the changed lines of a fix."""

from __future__ import annotations

import threading

import pytest

from goqueue.lab import UnsafeRegistry, changed_lines, source_of

# -- source_of and changed_lines --


def _documented(x: int) -> int:
    """Add one.

    Returns:
        x + 1.
    """
    # a comment line

    return x + 1  # a trailing comment stays


def test_source_of_keeps_everything_by_default() -> None:
    text = source_of(_documented)
    assert text.startswith('def _documented(x: int) -> int:\n    """Add one.')
    assert "# a comment line" in text
    assert not text.endswith("\n")


def test_source_of_code_only_drops_docstring_comments_and_blank_lines() -> None:
    assert source_of(_documented, code_only=True) == (
        "def _documented(x: int) -> int:\n    return x + 1  # a trailing comment stays"
    )


def test_source_of_a_method_is_dedented() -> None:
    text = source_of(UnsafeRegistry.job_types, code_only=True)
    assert text == "def job_types(self) -> list[str]:\n    return list(self._order)"


def test_source_of_a_builtin_is_refused() -> None:
    with pytest.raises(TypeError, match=r"^no source for <built-in function len>$"):
        source_of(len)


def _before(d: dict[str, int], k: str) -> None:
    d[k] = d.get(k, 0) + 1
    print(k)


_LOCK = threading.Lock()


def _after(d: dict[str, int], k: str) -> None:
    with _LOCK:
        d[k] = d.get(k, 0) + 1


def test_changed_lines_marks_additions_and_removals_and_ignores_indentation() -> None:
    assert changed_lines(_before, _after).splitlines() == [
        "- def _before(d: dict[str, int], k: str) -> None:",
        "+ def _after(d: dict[str, int], k: str) -> None:",
        "+     with _LOCK:",
        "          d[k] = d.get(k, 0) + 1",
        "-     print(k)",
    ]


def test_changed_lines_of_a_function_with_itself_marks_nothing() -> None:
    lines = changed_lines(_after, _after).splitlines()
    assert len(lines) == 3
    assert all(line.startswith("  ") for line in lines)
