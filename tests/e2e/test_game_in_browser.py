"""The scheduler game of notebook 09, played in JupyterLab by clicking, as a student does.

The notebook is run with "Restart Kernel and Run All" (or its run is reused), then the game
widget is driven through its buttons at 1024x768: level 1 is won by clicking, its banner and
the explorer's "you found 1 of N" line appear, the next level unlocks and opens; in level 2
the highlighted line moves with a step and back with Undo, the level is won too, and the
replay of the shortest win walks back to a win.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lab_driver import NotebookPage
from lab_runner import NotebookRunner
from lab_server import lesson_notebooks
from playwright.sync_api import ViewportSize
from test_classroom import on_a_small_screen_with_the_sidebar_open

pytestmark = pytest.mark.e2e

GAME = next((name for name in lesson_notebooks() if name.startswith("09_")), None)
SMALL_SCREEN: ViewportSize = {"width": 1024, "height": 768}


def game_page(notebooks: NotebookRunner, name: str) -> NotebookPage:
    """The notebook's page, run cleanly, scoped to its (only) game widget."""
    run = notebooks.run(name)
    problems = [problem for cell in run.cells for problem in cell.problems()]
    assert not problems, "\n".join(problems)
    games = run.notebook.tag_all("gq-game")
    assert len(games) == 1, f"{name} shows {len(games)} game widgets"
    return run.notebook.within(games[0])


def next_line(nb: NotebookPage, thread: str) -> str:
    """The line highlighted as the one *thread* runs next ("" once it is done)."""
    highlight = nb.widget(f"gq-code-{thread}").locator(".gq-next-line")
    return highlight.inner_text() if highlight.count() else ""


def levels_offered(nb: NotebookPage) -> list[str]:
    options = nb.widget("gq-level").locator("option").all_inner_texts()
    return [text.replace("\xa0", " ").strip() for text in options]  # ipywidgets uses nbsp


def play(nb: NotebookPage, threads: list[str]) -> None:
    for thread in threads:
        assert nb.is_enabled(f"gq-play-{thread}"), (thread, nb.text("gq-banner"))
        nb.click_and_settle(f"gq-play-{thread}")


NOTEBOOK_09 = [
    pytest.param(GAME, id="09")
    if GAME
    else pytest.param("09_", id="09", marks=pytest.mark.skip(reason="no notebook 09"))
]


@pytest.mark.parametrize("name", NOTEBOOK_09)
def test_the_game_fits_1024x768_with_the_sidebar_open(
    name: str, notebooks: NotebookRunner, artifacts: Path
) -> None:
    # The classroom check (test_classroom.py): every control inside the notebook panel, no
    # output sideways, no code cut off at the right, with the file browser open.
    nb = game_page(notebooks, name)
    controls = ["gq-level", "gq-goal", "gq-play-t1", "gq-play-t2", "gq-undo", "gq-reset"]
    controls += ["gq-replay", "gq-next", "gq-next-level", "gq-state", "gq-banner"]
    on_a_small_screen_with_the_sidebar_open(
        nb, "gq-reset", controls, artifacts / "09-game-1024x768.png"
    )


@pytest.mark.parametrize("name", NOTEBOOK_09)
def test_two_levels_played_by_clicking(
    name: str, notebooks: NotebookRunner, artifacts: Path
) -> None:
    nb = game_page(notebooks, name)
    page = nb.page
    size = page.viewport_size
    page.set_viewport_size(SMALL_SCREEN)
    try:
        nb.widget("gq-goal").scroll_into_view_if_needed()
        assert len(levels_offered(nb)) == 1 and levels_offered(nb)[0].startswith("1. ")
        assert not nb.is_enabled("gq-undo") and not nb.is_enabled("gq-next-level")
        for thread in ("t1", "t2"):  # both columns fit the small screen
            box = nb.widget(f"gq-play-{thread}").bounding_box()
            assert box is not None and box["x"] + box["width"] <= SMALL_SCREEN["width"], box

        # Level 1: two reads, then two writes.
        play(nb, ["t1", "t2", "t1", "t2"])
        assert "you win in 4 steps" in nb.text("gq-banner")
        found = nb.text("gq-found")
        assert re.search(
            r"you found 1 of 4 breaking schedules \(6 total\); the shortest has 4", found
        )
        nb.screenshot_panel("gq-banner", artifacts / "09-game-level-1-won.png")
        assert [text[:3] for text in levels_offered(nb)] == ["1. ", "2. "]  # unlocked
        nb.click_and_settle("gq-next-level")
        assert "Level 2" in nb.text("gq-goal") and nb.text("gq-banner").strip() == ""

        # Level 2: the highlight moves with a step, and back with Undo.
        before = next_line(nb, "t1")
        assert 'if "sms" not in shared.handlers:' in before
        play(nb, ["t1"])
        assert 'shared.order.append("sms")' in next_line(nb, "t1")
        assert "check 'sms' in handlers" in nb.text("gq-history")
        nb.click_and_settle("gq-undo")
        assert next_line(nb, "t1") == before and nb.text("gq-history").strip() == ""
        play(nb, ["t1", "t2", "t1", "t2", "t2", "t1"])
        assert "you win in 6 steps" in nb.text("gq-banner")
        assert "you found 1 of 18 breaking schedules (20 total)" in nb.text("gq-found")
        assert [text[:3] for text in levels_offered(nb)] == ["1. ", "2. ", "3. "]
        assert nb.is_enabled("gq-next-level")

        # The replay of the shortest win walks back to a win, step by step.
        nb.click_and_settle("gq-replay")
        assert nb.text("gq-banner").strip() == ""
        steps = 0
        while nb.is_enabled("gq-next") and steps < 50:
            nb.click_and_settle("gq-next")
            steps += 1
        assert steps == 6 and "you win in 6 steps" in nb.text("gq-banner")
        nb.screenshot_panel("gq-banner", artifacts / "09-game-level-2-replayed.png")
    finally:
        if size is not None:
            page.set_viewport_size(size)
