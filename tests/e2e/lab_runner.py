"""Open and run notebooks in the browser one at a time, for the fixtures and the tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lab_driver import CellReport, NotebookPage
from lab_server import LabServer
from playwright.sync_api import Browser, BrowserContext, ViewportSize

VIEWPORT: ViewportSize = {"width": 1280, "height": 900}

#: "Restart Kernel and Run All" seconds per notebook, printed at the end of the run.
RUN_SECONDS: dict[str, float] = {}


@dataclass(frozen=True)
class NotebookRun:
    """A notebook that has been opened and run top to bottom in the browser."""

    notebook: NotebookPage
    seconds: float
    cells: list[CellReport]


class NotebookRunner:
    """Opens and runs notebooks one at a time, keeping only the latest open.

    Keeping one notebook (one page, one kernel) at a time keeps the machine quiet for the
    run being measured; keeping the latest lets the panel tests drive the page that the
    run-all test just ran instead of running the notebook twice. The pages share one
    browser context, so JupyterLab's scripts come from its cache after the first load.

    Args:
        lab: the running server.
        browser: the browser to open pages in.
    """

    def __init__(self, lab: LabServer, browser: Browser) -> None:
        self.lab = lab
        self.browser = browser
        self._context: BrowserContext | None = None
        self._current: tuple[str, NotebookRun] | None = None

    def run(self, name: str) -> NotebookRun:
        """Return ``name`` opened and run in a fresh page (reused if it is the latest).

        Args:
            name: a notebook file name in ``lab/`` (the working copy).

        Returns:
            The run: the page, the seconds "Restart Kernel and Run All" took, the cells.
        """
        if self._current is not None and self._current[0] == name:
            return self._current[1]
        self.close()
        if self._context is None:
            self._context = self.browser.new_context(viewport=VIEWPORT)
        page = self._context.new_page()
        page.set_default_timeout(60_000)
        workspace = re.sub(r"[^A-Za-z0-9_-]", "-", Path(name).stem)
        notebook = NotebookPage(
            page, self.lab.url(f"lab/workspaces/e2e-{workspace}/tree/{name}"), name
        )
        try:
            notebook.open()
            seconds = notebook.restart_and_run_all()
            notebook.wait_for_widget_views()
            run = NotebookRun(notebook, seconds, notebook.cells())
            RUN_SECONDS[name] = seconds
        except BaseException:
            page.close()
            self.lab.shutdown_kernels()
            raise
        self._current = (name, run)
        return run

    def close(self) -> None:
        """Close the open page, if any, and shut down every kernel."""
        if self._current is not None:
            _, run = self._current
            self._current = None
            run.notebook.page.close()
        self.lab.shutdown_kernels()

    def quit(self) -> None:
        """Close everything this runner opened (the browser itself stays open)."""
        self.close()
        if self._context is not None:
            self._context.close()
            self._context = None
