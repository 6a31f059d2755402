"""The classic ``counter += 1`` demo: nothing lost on 3.10+, loss with a call in the window."""

from __future__ import annotations

import sys

import pytest

from goqueue.lab.specimens.counter import (
    VARIANTS,
    count_in_threads,
    show_switch_points,
    switch_points,
)

GIL = getattr(sys, "_is_gil_enabled", lambda: True)()


@pytest.mark.skipif(not GIL, reason="without the GIL the plain increment does lose updates")
def test_plain_increment_loses_nothing_on_this_python_even_with_tiny_switch_interval() -> None:
    # The lesson's claim for CPython 3.10-3.13 with the GIL (the package needs >= 3.10).
    result = count_in_threads("plain", threads=4, increments=50_000, trials=3, switch_interval=1e-6)
    assert result.observed == (200_000, 200_000, 200_000)
    assert result.lost == 0
    assert result.trials_with_loss == 0


def test_a_call_inside_the_window_loses_updates() -> None:
    result = count_in_threads("call", threads=4, increments=50_000, trials=3, switch_interval=1e-6)
    assert result.statement == "counter = add(counter, 1)"
    assert result.expected == 200_000
    assert all(0 < value <= 200_000 for value in result.observed)
    assert result.lost > 0, str(result)
    assert result.lost == sum(200_000 - value for value in result.observed)


def test_switch_interval_is_restored() -> None:
    before = sys.getswitchinterval()
    result = count_in_threads("plain", threads=2, increments=10, trials=1, switch_interval=1e-4)
    assert result.switch_interval == pytest.approx(1e-4)
    assert sys.getswitchinterval() == before


def test_result_text() -> None:
    result = count_in_threads("plain", threads=1, increments=1_000, trials=2)
    assert str(result) == (
        "'counter += 1' on 1 threads x 1,000: lost 0 increments, 0 of 2 trials short "
        f"(Python {result.python_version}, switch interval {sys.getswitchinterval():g} s)"
    )


def test_plain_increment_has_no_switch_point_between_read_and_write() -> None:
    points = switch_points("counter += 1")
    first, last = points.window
    assert points.instructions[first][0].startswith("LOAD")
    assert points.instructions[first][1].endswith("counter")
    assert points.instructions[last] == ("STORE_GLOBAL", "counter", False)
    assert not any(may for _, _, may in points.instructions[first : last + 1])
    assert points.window_has_switch_point is False


def test_a_call_puts_a_switch_point_in_the_window() -> None:
    points = switch_points(VARIANTS["call"])
    first, last = points.window
    inside = [op for op, _, may in points.instructions[first + 1 : last] if may]
    assert inside and all(op.startswith("CALL") for op in inside)
    assert points.window_has_switch_point is True


def test_show_switch_points_prints_the_listing(capsys: pytest.CaptureFixture[str]) -> None:
    show_switch_points("counter = add(counter, 1)")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("counter = add(counter, 1)    (Python 3.")
    assert any("read counter" in line for line in out)
    assert any("write counter" in line for line in out)
    assert any(line.startswith(">> |") and "may switch threads here" in line for line in out)
    assert out[-1] == "a switch point lies between the read and the write: updates can be lost"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"variant": "fast"}, r"^unknown variant: 'fast' \(expected one of 'plain', 'call'\)$"),
        ({"threads": 0}, r"^threads must be >= 1, got 0$"),
        ({"increments": 0}, r"^increments must be >= 1, got 0$"),
        ({"trials": 0}, r"^trials must be >= 1, got 0$"),
        ({"switch_interval": 0}, r"^switch_interval must be > 0, got 0$"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        count_in_threads(**kwargs)  # type: ignore[arg-type]


def test_statement_must_read_and_write_counter() -> None:
    with pytest.raises(ValueError, match=r"^statement must read and write counter, got 'x = 1'$"):
        switch_points("x = 1")
