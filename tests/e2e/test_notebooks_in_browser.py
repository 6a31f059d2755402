"""Every lesson notebook, run in JupyterLab in headless Chromium, and its panels driven.

nbval runs the kernel side only and never renders a widget; these tests open each notebook
in a real JupyterLab page, run "Restart Kernel and Run All", and check what a student sees:
no error output, every widget view rendered, and the interactive panels answering clicks.
A screenshot of every notebook goes to ``test-artifacts/e2e/<notebook>.png``.

Notebooks are found by glob (``lab/NN_*.ipynb``, the working copy ``make lab`` serves, brought
up to date from ``notebooks/`` first), so a new lesson is tested as soon as
it lands. A panel test is skipped, with the reason, only while its notebook does not exist.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lab_driver import WIDGET_ERRORS, NotebookPage
from lab_runner import NotebookRunner
from lab_server import LabServer, lesson_notebooks, notebooks_dir

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


def ran_cleanly(notebooks: NotebookRunner, name: str) -> NotebookPage:
    """Run ``name`` (or reuse its run) and fail at once, with the reasons, if any cell
    failed: a panel test has nothing to drive then."""
    run = notebooks.run(name)
    problems = [problem for cell in run.cells for problem in cell.problems()]
    assert not problems, "\n".join(problems)
    return run.notebook


@pytest.mark.parametrize(
    "name",
    LESSONS or [pytest.param("", marks=pytest.mark.skip(reason="no lab/NN_*.ipynb yet"))],
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


@pytest.mark.parametrize("name", [lesson("02")])
def test_worker_pool_panel_reruns_with_new_settings(
    name: str, notebooks: NotebookRunner, artifacts: Path
) -> None:
    nb = ran_cleanly(notebooks, name)
    cell_types = nb.cell_types()
    workers = "2" if nb.value_text("gq-workers") != "2" else "3"
    nb.set_value("gq-workers", workers)
    nb.set_value("gq-duration", "0.1")  # 20 jobs of 0.1 s on 2-3 workers: about a second
    assert (nb.value_text("gq-workers"), nb.value_text("gq-duration")) == (workers, "0.10")
    plot = nb.widget("gq-plot").locator("img")
    plot_before = plot.first.get_attribute("src") if plot.count() else None
    nb.watch("gq-live")
    nb.watch("gq-result")

    nb.click("gq-run")
    result = nb.wait_for_run("gq-run", "gq-result")

    assert re.search(rf"\bwith {workers} workers\b", result), result
    live = nb.watched("gq-live")
    result_changes = nb.watched("gq-result")
    finished_at = result_changes[-1][0]
    counts_while_running = [text for t, text in live if t < finished_at and "running:" in text]
    assert counts_while_running, f"no live counts before the result: {live}"
    assert plot.count() >= 1
    assert plot.first.get_attribute("src") != plot_before  # redrawn with the new point
    assert nb.cell_types() == cell_types  # typing into the widgets reached no shortcut
    nb.screenshot_panel("gq-run", artifacts / f"{Path(name).stem}-panel.png")


def run_race_panel(nb: NotebookPage, registry: str) -> tuple[int, str, list[str]]:
    """Choose ``registry``, click Run, wait for the result.

    Returns:
        The anomalies the result reports, its text, and the live texts shown before it.
    """
    nb.set_value("gq-registry", registry)
    nb.watch("gq-live")
    nb.watch("gq-result")
    nb.click("gq-run")
    result = nb.wait_for_run("gq-run", "gq-result")
    anomalies = nb.attribute("gq-result", "data-anomalies")
    assert anomalies is not None and anomalies.isdigit(), result
    assert re.search(rf"\banomalies: {anomalies}\b", result), result
    finished_at = nb.watched("gq-result")[-1][0]
    live = [text for t, text in nb.watched("gq-live")[1:] if t < finished_at]
    return int(anomalies), result, live


@pytest.mark.parametrize("name", [lesson("03")])
def test_race_panel_finds_anomalies_unsafe_and_none_locked(
    name: str, notebooks: NotebookRunner, artifacts: Path
) -> None:
    nb = ran_cleanly(notebooks, name)
    cell_types = nb.cell_types()
    threads = "8" if nb.value_text("gq-threads") != "8" else "6"
    nb.set_value("gq-threads", threads)
    assert nb.value_text("gq-threads") == threads

    unsafe, result, live = run_race_panel(nb, "unsafe")
    assert unsafe > 0, result
    assert f"{threads} threads" in result  # the slider's value reached the kernel
    # The line shown at the start, then at least one count while the threads ran.
    assert len(live) >= 2, f"the live counts did not change while the run went on: {live}"
    nb.screenshot_panel("gq-run", artifacts / f"{Path(name).stem}-panel-unsafe.png")

    locked, result, live = run_race_panel(nb, "locked")
    assert locked == 0, result
    assert len(live) >= 2, f"the live counts did not change while the run went on: {live}"
    assert nb.value_text("gq-registry").lower().startswith("locked")
    assert nb.cell_types() == cell_types
    nb.screenshot_panel("gq-run", artifacts / f"{Path(name).stem}-panel-locked.png")


# The banner's words once a run broke the invariant ("not broken" does not count).
BROKEN = re.compile(r"(?<!not )\b(broken|violated)\b", re.IGNORECASE)


def with_steppers() -> list[object]:
    """Params for every notebook whose code builds a step-through widget, and for 08."""
    names = set()
    for name in LESSONS:
        cells = json.loads((notebooks_dir() / name).read_text())["cells"]
        code = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        if "StepperWidget" in code or "gq-step-" in code:
            names.add(name)
    params: list[object] = [pytest.param(name, id=name[:2]) for name in sorted(names)]
    if not any(name.startswith("08_") for name in names):
        params.append(lesson("08"))
    return params


def find_breaking_schedule(nb: NotebookPage, steps: list[str], budget: int) -> list[str] | None:
    """Click step buttons depth first, undoing back out of dead ends, until the banner
    says the invariant is broken.

    Args:
        nb: the step-through widget (a view scoped to it).
        steps: the step buttons' classes (``gq-step-<thread>``).
        budget: the most clicks to spend.

    Returns:
        The step classes clicked, in order, to break the invariant; ``None`` if no order
        did (or the budget ran out first).
    """
    schedule: list[str] = []
    clicks = 0

    def search() -> bool:
        nonlocal clicks
        if BROKEN.search(nb.text("gq-banner")):
            return True
        for step in nb.enabled(steps):
            if clicks >= budget:
                return False
            clicks += 2
            nb.click_and_settle(step)
            schedule.append(step)
            if search():
                return True
            schedule.pop()
            nb.click_and_settle("gq-undo")
        return False

    return schedule if search() else None


@pytest.mark.parametrize("name", with_steppers())
def test_step_through_widgets_break_the_invariant(
    name: str, notebooks: NotebookRunner, artifacts: Path
) -> None:
    page = ran_cleanly(notebooks, name)
    cell_types = page.cell_types()
    steppers = page.tag_all("gq-stepper") or ([""] if page.has_widget("gq-undo") else [])
    assert steppers, f"{name} shows no step-through widget"
    broken_by: list[list[str]] = []
    for index, scope in enumerate(steppers):
        nb = page.within(scope) if scope else page
        steps = nb.classes_with_prefix("gq-step-")
        assert len(steps) >= 2, steps
        nb.click_and_settle("gq-reset")
        start = (nb.text("gq-state"), nb.text("gq-banner"))
        assert not BROKEN.search(start[1]), start

        schedule = find_breaking_schedule(nb, steps, budget=300)

        if schedule is None:  # a fixed version: no order of steps breaks it
            continue
        broken_by.append(schedule)
        broken = (nb.text("gq-state"), nb.text("gq-banner"))
        nb.screenshot_panel("gq-banner", artifacts / f"{Path(name).stem}-stepper-{index}.png")
        nb.click_and_settle("gq-undo")
        assert not BROKEN.search(nb.text("gq-banner"))
        assert nb.is_enabled(schedule[-1])
        nb.click_and_settle(schedule[-1])  # the same step again: the same broken state
        assert (nb.text("gq-state"), nb.text("gq-banner")) == broken
        nb.click_and_settle("gq-reset")
        assert (nb.text("gq-state"), nb.text("gq-banner")) == start
        if nb.has_widget("gq-next") and nb.is_enabled("gq-next"):
            # A schedule loaded from the explorer: Next walks it to the failure it found.
            for _ in range(300):
                if not nb.is_enabled("gq-next"):
                    break
                nb.click_and_settle("gq-next")
            banner = nb.text("gq-banner")
            assert banner.strip() and "holds" not in banner, banner
            nb.click_and_settle("gq-reset")
    assert broken_by, "no order of steps broke the invariant in any step-through widget"
    assert page.cell_types() == cell_types


def test_a_broken_notebook_is_reported(notebooks: NotebookRunner, lab_server: LabServer) -> None:
    # The checks above must be able to fail: a notebook with a widget whose model is gone,
    # a thread that dies with a traceback, and an uncaught error that stops "Run All".
    cells = [
        "from IPython.display import display\nimport threading",
        "display({'application/vnd.jupyter.widget-view+json': {'model_id': 'gone',"
        " 'version_major': 2, 'version_minor': 0}, 'text/plain': 'IntSlider()'}, raw=True)",
        "worker = threading.Thread(target=lambda: 1 / 0)\nworker.start()\nworker.join()",
        "raise KeyError('sms')",
        "print('never runs')",
    ]
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": source,
                "outputs": [],
                "execution_count": None,
            }
            for source in cells
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (lab_server.root_dir / "zz_broken.ipynb").write_text(json.dumps(notebook))

    run = notebooks.run("zz_broken.ipynb")

    problems = "\n".join(problem for cell in run.cells for problem in cell.problems())
    assert "cell 1 [2]: 'Error displaying widget' shown" in problems
    assert "cell 2 [3]: traceback on stderr" in problems
    assert "cell 3 [4]: KeyError: 'sms'" in problems
    assert [cell.count for cell in run.cells] == [1, 2, 3, 4, None]
