"""Notebook 10, races in the database, run in JupyterLab as a student runs it.

"Restart Kernel and Run All" (or the run the notebook test just made) must leave no error,
and what a student reads must be on the screen: with a PostgreSQL server, every schedule's
timeline drawn as a table (one column per connection) with its verdict, the failing ones in
words, and the throughput plot; without one, the cell that says what to install and a
"skipped" line where each experiment would be, so the lesson still runs to the end.
"""

from __future__ import annotations

from pathlib import Path

import pg
import pytest
from lab_runner import NotebookRunner
from lab_server import lesson_notebooks

pytestmark = pytest.mark.e2e

LESSON = next((name for name in lesson_notebooks() if name.startswith("10_")), None)
#: The schedules the notebook replays, in order, and each one's verdict line.
VERDICTS = [
    "result: lost update: 2 increments committed, but n = 1",
    "result: ok",  # atomic update
    "result: ok",  # select for update
    "result: ok",  # serializable, after the retry
    "result: double claim: A and B both took job 1",
    "result: ok",  # claim for update
    "result: ok",  # skip locked
    "result: deadlock: the server cancelled a transaction; 1 of 2 committed",
    "result: ok",  # one lock order
]


@pytest.fixture
def lesson() -> str:
    if LESSON is None:
        pytest.skip("notebook 10_*.ipynb does not exist yet")
    return LESSON


def test_the_database_lesson_shows_its_timelines_verdicts_and_plot(
    lesson: str, notebooks: NotebookRunner, artifacts: Path
) -> None:
    run = notebooks.run(lesson)
    nb = run.notebook
    nb.screenshot(artifacts / f"{Path(lesson).stem}-database.png")
    problems = [problem for cell in run.cells for problem in cell.problems()]
    assert not problems, "\n".join(problems)
    page = nb.page
    timelines = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) table.gq-timeline")
    if pg.unavailable() is not None:
        text = nb.page_text()
        assert "no PostgreSQL server here" in text
        assert "sudo apt-get install postgresql" in text
        assert text.count("skipped (") >= len(VERDICTS) + 2  # and the two counts, throughput
        assert timelines.count() == 0
        return
    assert timelines.count() == len(VERDICTS)
    for i in range(len(VERDICTS)):
        headers = timelines.nth(i).locator("th").all_inner_texts()
        assert headers == ["step", "A", "B", "shared state after"], headers
    verdicts = [
        out.dom_text.strip().splitlines()[-1]
        for cell in run.cells
        for out in cell.outputs
        if "text/html" in out.mimes and "shared state after" in out.dom_text
    ]
    assert verdicts == VERDICTS
    plots = [cell for cell in run.cells if any("image/png" in out.mimes for out in cell.outputs)]
    assert len(plots) == 1 and "plot_process_throughput" in plots[0].source
    assert page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea img").count() == 1
