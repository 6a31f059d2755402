"""What a class meets: the working copy, the exercises' hints and solutions, a small screen.

* The server serves ``lab/`` (the copy ``make lab`` serves), never ``notebooks/``.
* Every ``hint(...)``, ``solution(...)`` and ``check_answer(...)`` cell of a lesson renders
  its text in the browser, with no error.
* The race panel (03) and the step-through widget (08) fit a 1024x768 projector with
  JupyterLab's file browser open: no control beyond the notebook's right edge, no output
  that scrolls sideways, no slider squashed too narrow to drag, no code cut off. A
  screenshot of each goes to ``test-artifacts/e2e/``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from lab_driver import CellReport, NotebookPage
from lab_runner import NotebookRunner
from lab_server import NOTEBOOKS_ENV, WORKING_COPY, LabServer, lesson_notebooks, notebooks_dir

pytestmark = pytest.mark.e2e

SMALL_SCREEN = {"width": 1024, "height": 768}
# What each call shows first: "hint 03.1: ...", "solution 03.1:", "03.2: right: ...".
CALLS = {
    "hint": re.compile(r"^hint (\d\d\.\d+): \S"),
    "solution": re.compile(r"^solution (\d\d\.\d+):"),
    "check_answer": re.compile(r"^(\d\d\.\d+): (right|not right): \S"),
}
PROMPT = re.compile(r"^\[\d*\]:$")
CALL = re.compile(r"\b(hint|solution|check_answer)\(\s*[\"'](\d\d\.\d+)[\"']")


def code_of(name: str) -> str:
    cells = json.loads((notebooks_dir() / name).read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def lessons_with_exercises() -> list[object]:
    params = [
        pytest.param(name, id=name[:2]) for name in lesson_notebooks() if CALL.search(code_of(name))
    ]
    return params or [pytest.param("", marks=pytest.mark.skip(reason="no exercise calls yet"))]


def lesson(prefix: str) -> object:
    for name in lesson_notebooks():
        if name.startswith(f"{prefix}_"):
            return pytest.param(name, id=prefix)
    return pytest.param("", id=prefix, marks=pytest.mark.skip(reason=f"no notebook {prefix}"))


def test_the_server_opens_the_working_copy(lab_server: LabServer) -> None:
    if os.environ.get(NOTEBOOKS_ENV):
        pytest.skip(f"{NOTEBOOKS_ENV} points the tests at another folder")
    assert notebooks_dir() == WORKING_COPY
    served = sorted(path.name for path in lab_server.root_dir.glob("[0-9][0-9]_*.ipynb"))
    assert served == lesson_notebooks() != []
    tracked = sorted(path.name for path in (WORKING_COPY.parent / "notebooks").glob("*.ipynb"))
    assert set(tracked) <= set(served)  # make lab-copy brought every lesson in


def shown(cell: CellReport) -> str:
    return "\n".join(output.dom_text or output.text or "" for output in cell.outputs).strip()


@pytest.mark.parametrize("name", lessons_with_exercises())
def test_hints_solutions_and_self_checks_render(name: str, notebooks: NotebookRunner) -> None:
    run = notebooks.run(name)
    seen: list[tuple[str, str]] = []
    for cell in run.cells:
        calls = CALL.findall(cell.source)
        if not calls:
            continue
        assert not cell.problems(), cell.problems()
        text = shown(cell)
        function, key = calls[-1]  # the cell shows its last call's result
        # (The first line of an execute_result is its prompt, "[24]:".)
        lines = [line for line in text.splitlines() if line.strip()]
        first = next((line for line in lines if not PROMPT.match(line)), "")
        match = CALLS[function].match(first)
        assert match, f"cell {cell.index} ({function}({key!r})) shows {text[:200]!r}"
        assert match[1] == key
        seen.append((function, key))
    assert seen, f"{name}: no hint, solution or self-check cell was found"


def fits(page: NotebookPage, classes: list[str], right: float) -> list[str]:
    """The widgets among *classes* that reach past *right* (px), with their boxes."""
    over = []
    for cls in classes:
        box = page.widget(cls).bounding_box()
        assert box is not None, f"{cls} is not shown"
        if box["x"] + box["width"] > right + 1:
            over.append(f"{cls}: {box}")
    return over


#: A slider track narrower than this cannot be dragged with a projector's mouse: a row of
#: sliders that does not wrap squashes them (ipywidgets shrinks before it overflows).
MIN_TRACK_PX = 100


def squashed(page: NotebookPage) -> list[str]:
    """Slider tracks narrower than ``MIN_TRACK_PX`` and code blocks cut off at the right."""
    found: list[str] = page.page.evaluate(
        """([root, least]) => {
            const out = [];
            for (const el of document.querySelectorAll(`${root} .widget-slider .noUi-target,`
                                                       + `${root} .widget-slider .slider`)) {
                const width = el.getBoundingClientRect().width;
                if (width < least) out.push(`slider track ${Math.round(width)} px`);
            }
            for (const el of document.querySelectorAll(`${root} pre`)) {
                if (el.scrollWidth > el.clientWidth + 1)
                    out.push(`code cut: ${el.scrollWidth} > ${el.clientWidth}`);
            }
            return out;
        }""",
        [page.root, MIN_TRACK_PX],
    )
    return found


def sideways_outputs(page: NotebookPage) -> list[str]:
    """Output areas holding a gq- widget whose content is wider than the area."""
    found: list[str] = page.page.evaluate(
        """() => [...document.querySelectorAll('.jp-OutputArea-output')]
            .filter(el => el.querySelector('[class*="gq-"]'))
            .filter(el => el.scrollWidth > el.clientWidth + 1)
            .map(el => `${el.scrollWidth} > ${el.clientWidth}`)"""
    )
    return found


def on_a_small_screen_with_the_sidebar_open(
    page: NotebookPage, anchor: str, classes: list[str], picture: Path
) -> None:
    size = page.page.viewport_size
    page.page.set_viewport_size(SMALL_SCREEN)
    page.page.evaluate("() => window.jupyterapp.shell.expandLeft()")
    try:
        page.page.wait_for_function("() => !window.jupyterapp.shell.leftCollapsed")
        page.widget(anchor).scroll_into_view_if_needed()
        page.page.wait_for_timeout(300)  # let the layout settle before measuring
        panel = page.page.locator(".jp-NotebookPanel:visible").first.bounding_box()
        assert panel is not None
        right = min(panel["x"] + panel["width"], SMALL_SCREEN["width"])
        assert panel["x"] > 150, "the file browser is not open"
        page.page.screenshot(path=str(picture))
        assert fits(page, classes, right) == []
        assert sideways_outputs(page) == []
        assert squashed(page) == []
    finally:
        page.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        if size is not None:
            page.page.set_viewport_size(size)


@pytest.mark.parametrize("name", [lesson("03")])
def test_race_panel_fits_1024x768_with_the_sidebar_open(
    name: str, notebooks: NotebookRunner, artifacts: Path
) -> None:
    page = notebooks.run(name).notebook
    controls = ["gq-threads", "gq-seconds", "gq-switch", "gq-registry", "gq-run", "gq-result"]
    on_a_small_screen_with_the_sidebar_open(
        page, "gq-run", controls, artifacts / f"{Path(name).stem}-panel-1024x768.png"
    )


@pytest.mark.parametrize("name", [lesson("08")])
def test_stepper_fits_1024x768_with_the_sidebar_open(
    name: str, notebooks: NotebookRunner, artifacts: Path
) -> None:
    page = notebooks.run(name).notebook
    stepper = page.within(page.tag_all("gq-stepper")[0])
    steps = stepper.classes_with_prefix("gq-step-")
    assert len(steps) >= 2, steps
    on_a_small_screen_with_the_sidebar_open(
        stepper,
        "gq-reset",
        [*steps, "gq-undo", "gq-reset", "gq-state", "gq-banner"],
        artifacts / f"{Path(name).stem}-stepper-1024x768.png",
    )
