"""Every lesson notebook, run in JupyterLab in headless Chromium, and its panels driven.

nbval runs the kernel side only and never renders a widget; these tests open each notebook
in a real JupyterLab page, run "Restart Kernel and Run All", and check what a student sees:
no error output, every widget view rendered, and the interactive panels answering clicks.
A screenshot of every notebook goes to ``test-artifacts/e2e/<notebook>.png``.

Notebooks are found by glob (``notebooks/NN_*.ipynb``), so a new lesson is tested as soon as
it lands. A panel test is skipped, with the reason, only while its notebook does not exist.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import NotebookRunner
from lab_driver import WIDGET_ERRORS
from lab_server import lesson_notebooks

pytestmark = pytest.mark.e2e

LESSONS = lesson_notebooks()


def lesson(prefix: str) -> object:
    """Return a ``pytest.param`` for the notebook ``<prefix>_*.ipynb``, skipped if absent."""
    for name in LESSONS:
        if name.startswith(f"{prefix}_"):
            return pytest.param(name, id=prefix)
    return pytest.param(
        f"{prefix}_",
        id=prefix,
        marks=pytest.mark.skip(reason=f"notebook {prefix}_*.ipynb does not exist yet"),
    )


@pytest.mark.parametrize(
    "name",
    LESSONS or [pytest.param("", marks=pytest.mark.skip(reason="no notebooks/NN_*.ipynb yet"))],
)
def test_notebook_runs_in_browser(name: str, notebooks: NotebookRunner, artifacts: Path) -> None:
    run = notebooks.run(name)
    run.notebook.screenshot(artifacts / f"{Path(name).stem}.png")
    code_cells = [cell for cell in run.cells if cell.source.strip()]
    assert code_cells, f"{name} has no code cells"
    problems = [problem for cell in run.cells for problem in cell.problems()]
    assert not problems, "\n".join(problems)
    assert [cell.count for cell in code_cells] == list(range(1, len(code_cells) + 1))
    page_text = run.notebook.page_text()
    assert [marker for marker in WIDGET_ERRORS if marker in page_text] == []
