"""The game's view (widgets/game.py): buttons per thread, the highlight, the win, the unlock."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from goqueue.lab.game.levels import LEVELS, find_level
from goqueue.lab.game.progress import Progress
from goqueue.lab.game.tally import tally
from goqueue.lab.widgets.game import PLACEHOLDER, GameWidget

pytest.importorskip("ipywidgets")


def highlighted(widget: GameWidget, thread: str) -> str:
    """The text of the line shown as next in *thread*'s column."""
    html = widget.code[thread].value
    found = re.search(r"<span class='gq-next-line'>(.*?)</span>", html)
    return found.group(1) if found else ""


def test_clicking_to_a_win_shows_the_count_and_unlocks_the_next_level() -> None:
    progress = Progress()
    widget = GameWidget(progress=progress)
    try:
        assert widget.attempt.level is LEVELS[0]
        assert widget.picker.options == ((f"1. {LEVELS[0].title}", LEVELS[0].key),)
        assert widget.next_level_button.disabled and widget.replay_button.disabled
        for thread in LEVELS[0].winning:
            widget.step_buttons[thread].click()
        assert "you win in 4 steps" in widget.banner.value
        found = tally(LEVELS[0])
        assert f"you found 1 of {found.winning} breaking schedules ({found.total} total)" in (
            widget.found.value
        )
        assert progress.solved() == [LEVELS[0]]
        assert [key for _, key in widget.picker.options] == [LEVELS[0].key, LEVELS[1].key]
        assert not widget.next_level_button.disabled
        widget.next_level_button.click()
        assert widget.attempt.level is LEVELS[1] and widget.picker.value == LEVELS[1].key
        assert widget.banner.value == "" and widget.found.value == ""
    finally:
        widget.close()


def test_the_highlight_moves_and_undo_moves_it_back() -> None:
    widget = GameWidget("half-locked", instructor=True)
    try:
        first = highlighted(widget, "t1")
        assert "with shared.lock:" in first
        for _ in range(3):
            widget.step_buttons["t1"].click()
        assert "seen + 1" in highlighted(widget, "t1")
        assert "<code>seen</code>" in widget.code["t1"].value  # the local is shown
        assert widget.step_buttons["t2"].disabled is False
        widget.undo_button.click()
        widget.undo_button.click()
        assert "seen = shared.counts" in highlighted(widget, "t1")
        assert widget.step_buttons["t2"].disabled  # t1 holds the lock
        widget.reset_button.click()
        assert highlighted(widget, "t1") == first and widget.history.value == ""
    finally:
        widget.close()


def test_the_replay_walks_the_shortest_win() -> None:
    widget = GameWidget("lock-order", instructor=True)
    try:
        widget.play(["t1", "t2"])
        assert "deadlock" in widget.banner.value
        widget.replay_button.click()
        assert widget.banner.value == "" and not widget.next_button.disabled
        while not widget.next_button.disabled:
            widget.next_button.click()
        assert widget.attempt.schedule == list(tally(find_level("lock-order")).shortest)
        assert "you win" in widget.banner.value
    finally:
        widget.close()


def test_a_locked_level_cannot_be_opened(tmp_path: Path) -> None:
    widget = GameWidget(progress=Progress(tmp_path / "p.json"))
    try:
        with pytest.raises(ValueError, match=r"^level 3 is locked: solve level 2$"):
            widget.open_level(3)
        assert widget.attempt.level is LEVELS[0]
    finally:
        widget.close()


def test_the_unbreakable_level_is_solved_by_playing_it_through() -> None:
    progress = Progress(instructor=True)
    widget = GameWidget("locked-right", progress=progress)
    try:
        while not widget.attempt.finished:
            ready = [name for name, b in widget.step_buttons.items() if not b.disabled]
            widget.step_buttons[ready[-1]].click()
        assert "nothing broke, as always here" in widget.banner.value
        assert "no schedule wins: all 396 were tried" in widget.found.value
        assert widget.replay_button.disabled
        assert find_level("locked-right") in progress.solved()
    finally:
        widget.close()


def test_a_saved_notebook_shows_a_note_in_place_of_the_game() -> None:
    widget = GameWidget(instructor=True)
    try:
        assert widget._repr_mimebundle_()["text/plain"] == PLACEHOLDER
    finally:
        widget.close()
