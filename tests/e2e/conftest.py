"""Fixtures for the browser tests: one JupyterLab server, one Chromium, one notebook at a time.

Run them with ``make test-e2e`` (or ``scripts/run-e2e.sh``). They need Debian's
``chromium`` on PATH; the script, not these fixtures, decides whether a missing browser is
an error (``make test-e2e``) or a loud notice (``make test``). Run by hand, a missing
browser is a failure with the reason, never a silent pass.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")

from lab_runner import RUN_SECONDS, NotebookRunner  # noqa: E402
from lab_server import (  # noqa: E402
    NOTEBOOKS_ENV,
    REPO,
    LabServer,
    make_working_copy,
    notebooks_dir,
    stale_copies,
    start_lab,
    stop_lab,
)
from playwright.sync_api import Browser  # noqa: E402

ARTIFACTS = REPO / "test-artifacts" / "e2e"
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_configure(config: pytest.Config) -> None:
    """Make or update ``lab/``, the working copy the tests open, before they are collected."""
    if not os.environ.get(NOTEBOOKS_ENV):
        make_working_copy()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how long each notebook took to run in the browser, and which copies in
    ``lab/`` differ from ``notebooks/``."""
    stale = [] if os.environ.get(NOTEBOOKS_ENV) else stale_copies()
    if stale:
        terminalreporter.section("lab/ differs from notebooks/")
        for name in stale:
            terminalreporter.write_line(
                f"lab/{name}: tested as it is in lab/ (edited, or copied before the lesson "
                "changed; make reset-lab for fresh copies)"
            )
    if not RUN_SECONDS:
        return
    terminalreporter.section("notebooks run in the browser (Restart Kernel and Run All)")
    for name, seconds in sorted(RUN_SECONDS.items()):
        terminalreporter.write_line(f"{seconds:7.1f} s  {name}")
    terminalreporter.write_line(f"screenshots: {ARTIFACTS}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests notebook by notebook: each notebook's run-all test, then the
    tests of its panel, so a panel test reuses the page that has just run its notebook."""
    here = Path(__file__).parent
    slots = [i for i, item in enumerate(items) if Path(str(item.path)).parent == here]

    def key(item: pytest.Item) -> tuple[str, int, str]:
        callspec = getattr(item, "callspec", None)
        name = str(callspec.params.get("name", "~")) if callspec else "~"  # "~": last
        first = getattr(item, "originalname", "") == "test_notebook_runs_in_browser"
        return (name, 0 if first else 1, item.nodeid)

    ordered = sorted((items[i] for i in slots), key=key)
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """A JupyterLab server over a temporary copy of ``lab/``, stopped afterwards."""
    lab = start_lab(notebooks_dir(), tmp_path_factory.mktemp("jupyterlab"))
    try:
        yield lab
    finally:
        try:
            lab.shutdown_kernels()
        finally:
            stop_lab(lab)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Debian Chromium for the whole run."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "chromium is not installed (apt-get install chromium): browser tests cannot run"
        )
    args = list(CHROMIUM_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.insert(0, "--no-sandbox")
    with playwright_sync.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def notebooks(lab_server: LabServer, browser: Browser) -> Iterator[NotebookRunner]:
    """Runs notebooks in the browser, one open at a time (see :class:`NotebookRunner`)."""
    runner = NotebookRunner(lab_server, browser)
    try:
        yield runner
    finally:
        runner.quit()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """The folder for screenshots: ``test-artifacts/e2e/`` (not committed), emptied first
    so that every picture in it comes from this run."""
    if ARTIFACTS.is_dir():
        for old in ARTIFACTS.glob("*.png"):
            old.unlink()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
