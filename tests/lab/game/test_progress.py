"""Progress: levels unlock in order, a JSON file keeps them, an instructor sees every level."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from goqueue.lab.game.levels import LEVELS
from goqueue.lab.game.progress import Progress, session_progress


def test_levels_unlock_one_at_a_time_in_order() -> None:
    progress = Progress()
    assert progress.unlocked() == [LEVELS[0]]
    assert not progress.is_unlocked(LEVELS[2])
    progress.record_win(LEVELS[0])
    progress.record_win(LEVELS[1])
    assert progress.unlocked() == list(LEVELS[:3])
    assert progress.solved() == list(LEVELS[:2])
    assert progress.next_level(LEVELS[1]) is LEVELS[2]
    assert progress.next_level(LEVELS[-1]) is None


def test_an_instructor_may_play_any_level() -> None:
    assert Progress(instructor=True).unlocked() == list(LEVELS)


def test_progress_is_saved_and_loaded(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    Progress(path).record_win(LEVELS[0])
    assert json.loads(path.read_text()) == {"solved": [LEVELS[0].key]}
    assert Progress(path).unlocked() == list(LEVELS[:2])


def test_a_file_that_is_not_progress_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"^not a progress file: '.*progress\.json'$"):
        Progress(path)


def test_the_session_progress_is_one_object() -> None:
    assert session_progress() is session_progress()
