"""Drive one notebook in JupyterLab through Playwright: open, run all, inspect, click.

Everything here talks to the page the way a student does (clicks, typing) except two
things read from the app object that ``--LabApp.expose_app_in_browser`` puts on
``window.jupyterapp``: the command that runs "Restart Kernel and Run All", and the cell
models (execution counts, tags, output types), which are more exact than prompt text.

Widgets are found by the CSS classes the notebooks give them with
``widget.add_class("gq-...")``; ipywidgets 8 puts that class on the widget's root element.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_ERRORS = ("Error displaying widget", "model not found")

# The notebook on screen (JupyterLab hides, but keeps, the panels of other tabs).
NOTEBOOK_ROOT = ".jp-NotebookPanel:not(.lm-mod-hidden)"
# The notebook panel in the main area that the app considers current.
_PANEL = "window.jupyterapp.shell.currentWidget"

_KERNEL_IDLE = f"""() => {{
    const panel = window.jupyterapp && {_PANEL};
    return !!(panel && panel.sessionContext && panel.content
        && panel.sessionContext.session?.kernel?.status === 'idle');
}}"""

# Per code cell: counts, tags, the model's outputs, and what the DOM shows for each output.
_CELL_REPORT = f"""() => {{
    const panel = {_PANEL};
    return panel.content.widgets.map((cell, index) => {{
        if (cell.model.type !== 'code') return null;
        const outputs = cell.model.outputs.toJSON();
        const children = cell.outputArea
            ? Array.from(cell.outputArea.node.querySelectorAll(':scope > .jp-OutputArea-child'))
            : [];
        return {{
            index,
            source: cell.model.sharedModel.getSource(),
            count: cell.model.executionCount,
            tags: cell.model.getMetadata('tags') || [],
            outputs: outputs.map((output, i) => ({{
                type: output.output_type,
                name: output.name || null,
                ename: output.ename || null,
                evalue: output.evalue || null,
                text: output.output_type === 'stream' ? String(output.text) : null,
                mimes: Object.keys(output.data || {{}}),
                rendered_widget: !!(children[i]
                    && children[i].querySelector('.jupyter-widgets, .widget-container')),
                dom_text: children[i] ? children[i].innerText.slice(0, 2000) : '',
            }})),
        }};
    }}).filter(cell => cell !== null);
}}"""

# Done: the kernel is idle and no cell is queued or running (prompt "[*]"). A cell that
# raised stops "Run All", so the cells after it are left without a count, not queued.
_RUN_SETTLED = f"""() => {{
    const panel = {_PANEL};
    const kernel = panel.sessionContext.session?.kernel;
    if (!kernel || kernel.status !== 'idle') return false;
    return panel.content.widgets.every(cell => cell.model.type !== 'code'
        || !(cell.promptNode?.innerText || '').includes('*'));
}}"""

# Records every change of the text of the first element with a class, with a timestamp,
# so a test can ask afterwards whether it changed *while* something ran, however fast.
_WATCH = """([cls, selector]) => {
    const el = document.querySelector(selector);
    if (!el) throw new Error('no element with class ' + cls);
    window.__gqWatch = window.__gqWatch || {};
    if (window.__gqWatch[selector]) window.__gqWatch[selector].observer.disconnect();
    const record = {texts: [{t: performance.now(), text: el.innerText}], observer: null};
    record.observer = new MutationObserver(() => {
        const text = el.innerText;
        if (text !== record.texts[record.texts.length - 1].text) {
            record.texts.push({t: performance.now(), text});
        }
    });
    record.observer.observe(el, {subtree: true, childList: true, characterData: true,
                                 attributes: true});
    window.__gqWatch[selector] = record;
}"""


@dataclass(frozen=True)
class OutputReport:
    """One output of one code cell, as the model holds it and the page shows it."""

    type: str
    name: str | None
    ename: str | None
    evalue: str | None
    text: str | None
    mimes: list[str]
    rendered_widget: bool
    dom_text: str


@dataclass(frozen=True)
class CellReport:
    """One code cell after a run."""

    index: int
    source: str
    count: int | None
    tags: list[str]
    outputs: list[OutputReport] = field(default_factory=list)

    @property
    def expects_error(self) -> bool:
        """Whether the cell is marked to raise (JupyterLab's and nbval's markers)."""
        return "raises-exception" in self.tags or "NBVAL_RAISES_EXCEPTION" in self.source

    def problems(self) -> list[str]:
        """Return what is wrong with this cell's outputs as shown ([] if nothing)."""
        found: list[str] = []
        where = f"cell {self.index} [{self.count}]"
        for output in self.outputs:
            if output.type == "error" and not self.expects_error:
                found.append(f"{where}: {output.ename}: {output.evalue}")
            if (
                output.type == "stream"
                and output.name == "stderr"
                and output.text
                and ("Traceback" in output.text or "Exception in thread" in output.text)
            ):
                found.append(f"{where}: traceback on stderr: {output.text[-400:]}")
            if WIDGET_MIME in output.mimes and not output.rendered_widget:
                found.append(f"{where}: widget view not rendered: {output.dom_text[:200]!r}")
            for marker in WIDGET_ERRORS:
                if marker in output.dom_text:
                    found.append(f"{where}: {marker!r} shown: {output.dom_text[:200]!r}")
        return found


def _pick(labels: list[str], wanted: str, cls: str) -> str:
    """Return the label equal to ``wanted``, else the one label that starts with it."""
    for label in labels:
        if label.lower() == wanted.lower():
            return label
    starting = [label for label in labels if label.lower().startswith(wanted.lower())]
    if len(starting) != 1:
        raise ValueError(f"no single option {wanted!r} in widget {cls!r}: {labels}")
    return starting[0]


class NotebookPage:
    """A notebook open in its own JupyterLab page.

    Args:
        page: a fresh Playwright page.
        url: the JupyterLab URL that opens the notebook (with the token).
        name: the notebook's file name, for messages.
    """

    def __init__(self, page: Page, url: str, name: str) -> None:
        self.page = page
        self.url = url
        self.name = name
        self.root = NOTEBOOK_ROOT

    # -- opening and running --

    def open(self, *, timeout: float = 90.0) -> None:
        """Load JupyterLab on the notebook and wait until its kernel is idle.

        Raises:
            playwright.sync_api.TimeoutError: if that takes longer than ``timeout`` seconds.
        """
        self.page.goto(self.url, timeout=timeout * 1000)
        self.page.wait_for_function(_KERNEL_IDLE, timeout=timeout * 1000)
        # Give the notebook the whole width: the file browser adds nothing to a screenshot.
        self.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")

    def restart_and_run_all(self, *, timeout: float = 180.0) -> float:
        """Clear outputs, then run "Restart Kernel and Run All" and wait until it is done.

        Done means: the command's promise settled, the kernel is idle and no cell is queued.
        Outputs and counts were cleared first, so every count and output seen afterwards
        comes from this run; a cell after one that raised keeps no count.

        Returns:
            The seconds the run took.

        Raises:
            playwright.sync_api.TimeoutError: if the run is not done within ``timeout``.
        """
        started = time.monotonic()
        self.page.evaluate(
            """() => {
                const app = window.jupyterapp;
                window.__gqRun = {done: false, result: null};
                return app.commands.execute('notebook:clear-all-cell-outputs').then(() => {
                    app.commands.execute('notebook:restart-run-all').then(
                        result => { window.__gqRun = {done: true, result: String(result)}; },
                        error => { window.__gqRun = {done: true, result: 'error: ' + error}; });
                });
            }"""
        )
        self.page.wait_for_function("() => window.__gqRun.done", timeout=timeout * 1000)
        remaining = max(1.0, timeout - (time.monotonic() - started))
        self.page.wait_for_function(_RUN_SETTLED, timeout=remaining * 1000)
        return time.monotonic() - started

    def wait_for_widget_views(self, *, timeout: float = 30.0) -> None:
        """Wait until every widget output shows a view or an error (not still loading)."""
        deadline = time.monotonic() + timeout
        while True:
            pending = [
                (cell.index, output.dom_text[:80])
                for cell in self.cells()
                for output in cell.outputs
                if WIDGET_MIME in output.mimes
                and not output.rendered_widget
                and not any(marker in output.dom_text for marker in WIDGET_ERRORS)
            ]
            if not pending or time.monotonic() >= deadline:
                return
            self.page.wait_for_timeout(200)  # a poll interval, not an ordering device

    def cells(self) -> list[CellReport]:
        """Return a report of every code cell (model state plus what the page shows)."""
        raw: list[dict[str, Any]] = self.page.evaluate(_CELL_REPORT)
        return [
            CellReport(
                index=cell["index"],
                source=cell["source"],
                count=cell["count"],
                tags=list(cell["tags"]),
                outputs=[OutputReport(**output) for output in cell["outputs"]],
            )
            for cell in raw
        ]

    def cell_types(self) -> list[str]:
        """Return the type of every cell, in order (a stray keyboard shortcut changes it)."""
        types: list[str] = self.page.evaluate(
            f"() => {_PANEL}.content.widgets.map(cell => cell.model.type)"
        )
        return types

    def page_text(self) -> str:
        """Return the visible text of the notebook panel."""
        return self.page.locator(NOTEBOOK_ROOT).inner_text()

    def screenshot(self, path: Path, *, max_height: int = 30000) -> None:
        """Save a screenshot of the whole notebook, every cell, at ``path``.

        The notebook scrolls inside its own panel, so a "full page" screenshot of the
        window would show one screen; the viewport is made as tall as the notebook instead.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        height = self.page.evaluate(
            f"() => {_PANEL}.content.node.querySelector('.jp-WindowedPanel-inner')"
            "?.scrollHeight ?? document.body.scrollHeight"
        )
        size = self.page.viewport_size or {"width": 1280, "height": 900}
        self.page.set_viewport_size(
            {"width": size["width"], "height": min(max_height, int(height) + 200)}
        )
        try:
            self.page.wait_for_timeout(300)  # let the layout settle before the picture
            self.page.screenshot(path=str(path), full_page=True)
        finally:
            self.page.set_viewport_size(size)

    # -- widgets --

    def _selector(self, cls: str) -> str:
        return f"{self.root} .{cls}"

    def within(self, selector: str) -> NotebookPage:
        """Return a view of this page whose widget look-ups stay inside ``selector``
        (for a notebook that shows the same widget twice)."""
        scoped = NotebookPage(self.page, self.url, self.name)
        scoped.root = f"{self.root} {selector}"
        return scoped

    def tag_all(self, cls: str) -> list[str]:
        """Give every element with class ``cls`` its own ``data-gq-index`` and return a
        selector for each, in page order (use them with :meth:`within`)."""
        count: int = self.page.evaluate(
            """([selector]) => {
                const all = document.querySelectorAll(selector);
                all.forEach((el, i) => { el.dataset.gqIndex = String(i); });
                return all.length;
            }""",
            [self._selector(cls)],
        )
        return [f'.{cls}[data-gq-index="{i}"]' for i in range(count)]

    def widget(self, cls: str) -> Locator:
        """Return the (first) widget element that carries the CSS class ``cls``."""
        return self.page.locator(self._selector(cls)).first

    def has_widget(self, cls: str) -> bool:
        """Whether the open notebook shows a widget with the CSS class ``cls``."""
        return self.page.locator(self._selector(cls)).count() > 0

    def text(self, cls: str) -> str:
        """Return the visible text of the widget with class ``cls``."""
        return self.widget(cls).inner_text()

    def set_value(self, cls: str, value: int | float | str) -> None:
        """Set a slider, a text/number box, a dropdown or a toggle group the way a user does.

        Sliders get the value typed into their editable readout; boxes get it typed and
        Enter pressed; dropdowns get the option chosen; toggle buttons and radio buttons get
        the one whose label is ``value`` clicked. An option label matches ``value`` exactly,
        else as the one label that starts with it (case ignored).

        Raises:
            ValueError: if the widget is none of those kinds, or no single option matches.
        """
        element = self.widget(cls)
        classes = element.get_attribute("class") or ""
        text = str(value)
        if "widget-slider" in classes:
            element.locator(".widget-readout").click()
            self.page.keyboard.press("ControlOrMeta+a")
            self.page.keyboard.type(text)
            self.page.keyboard.press("Enter")
        elif element.locator("select").count() > 0:
            select = element.locator("select")
            labels = [label.strip() for label in select.locator("option").all_inner_texts()]
            select.select_option(label=_pick(labels, text, cls))
        elif "widget-toggle-buttons" in classes:
            buttons = element.locator("button")
            labels = [label.strip() for label in buttons.all_inner_texts()]
            buttons.nth(labels.index(_pick(labels, text, cls))).click()
        elif "widget-radio" in classes:
            labels_loc = element.locator("label")
            labels = [label.strip() for label in labels_loc.all_inner_texts()]
            labels_loc.nth(labels.index(_pick(labels, text, cls))).click()
        elif element.locator("input").count() > 0:
            box = element.locator("input").first
            box.fill(text)
            box.press("Enter")
        else:
            raise ValueError(f"cannot set a value on widget with class: {cls!r} ({classes})")

    def value_text(self, cls: str) -> str:
        """Return what a value widget shows: a slider's readout, a box's or a select's value,
        the pressed toggle button's label; otherwise its text."""
        element = self.widget(cls)
        classes = element.get_attribute("class") or ""
        if "widget-slider" in classes:
            return element.locator(".widget-readout").inner_text().strip()
        if element.locator("select").count() > 0:
            return str(
                element.locator("select").evaluate("s => s.options[s.selectedIndex].text")
            ).strip()
        if "widget-toggle-buttons" in classes:
            return element.locator("button.mod-active").inner_text().strip()
        if "widget-radio" in classes:
            return str(
                element.locator("input:checked").evaluate(
                    "i => i.closest('label')?.innerText ?? i.value"
                )
            ).strip()
        if element.locator("input").count() > 0:
            return element.locator("input").first.input_value().strip()
        return element.inner_text().strip()

    def click(self, cls: str) -> None:
        """Click the button with class ``cls`` (the class may be on the button itself)."""
        element = self.widget(cls)
        button = element if element.evaluate("e => e.tagName") == "BUTTON" else None
        (button or element.locator("button").first).click()

    def click_and_settle(self, cls: str, *, timeout: float = 30.0) -> None:
        """Click the button with class ``cls`` and wait until the kernel has handled it.

        A click reaches the kernel as one comm message, which the kernel brackets with a
        busy and an idle status; waiting for one more idle than before the click means the
        handler has run and its widget updates (sent before that idle) have arrived.

        Raises:
            playwright.sync_api.TimeoutError: if the kernel does not answer within ``timeout``.
        """
        before: int = self.page.evaluate(
            f"""() => {{
                const kernel = {_PANEL}.sessionContext.session.kernel;
                if (window.__gqIdle === undefined || window.__gqKernel !== kernel) {{
                    window.__gqIdle = 0;
                    window.__gqKernel = kernel;
                    kernel.statusChanged.connect((_, status) => {{
                        if (status === 'idle') window.__gqIdle += 1;
                    }});
                }}
                return window.__gqIdle;
            }}"""
        )
        self.click(cls)
        # Checked once per animation frame: by then the views have applied the updates.
        self.page.wait_for_function(
            "([n]) => window.__gqIdle > n", arg=[before], timeout=timeout * 1000
        )

    def classes_with_prefix(self, prefix: str) -> list[str]:
        """Return the widget CSS classes that start with ``prefix``, in page order."""
        found: list[str] = self.page.evaluate(
            """([root, prefix]) => {
                const seen = [];
                for (const el of document.querySelectorAll(root + ' [class*="' + prefix + '"]')) {
                    for (const c of el.classList) {
                        if (c.startsWith(prefix) && !seen.includes(c)) seen.push(c);
                    }
                }
                return seen;
            }""",
            [self.root, prefix],
        )
        return found

    def enabled(self, classes: list[str]) -> list[str]:
        """Return those of the buttons with ``classes`` that can be clicked, in one look."""
        found: list[str] = self.page.evaluate(
            """([root, classes]) => classes.filter(cls => {
                const host = document.querySelector(root + ' .' + cls);
                const b = host && (host.tagName === 'BUTTON' ? host : host.querySelector('button'));
                return !!b && !b.disabled;
            })""",
            [self.root, classes],
        )
        return found

    def is_enabled(self, cls: str) -> bool:
        """Whether the button with class ``cls`` can be clicked."""
        element = self.widget(cls)
        if element.evaluate("e => e.tagName") == "BUTTON":
            return element.is_enabled()
        return element.locator("button").first.is_enabled()

    def watch(self, cls: str) -> None:
        """Start recording every change of the text of the widget with class ``cls``."""
        self.page.evaluate(_WATCH, [cls, self._selector(cls)])

    def watched(self, cls: str) -> list[tuple[float, str]]:
        """Return ``(milliseconds, text)`` for each distinct text seen since :meth:`watch`."""
        records: list[dict[str, Any]] = self.page.evaluate(
            "([selector]) => window.__gqWatch[selector].texts", [self._selector(cls)]
        )
        return [(float(r["t"]), str(r["text"])) for r in records]

    def wait_for_run(self, button_cls: str, result_cls: str, *, timeout: float = 120.0) -> str:
        """Wait until a run started by clicking ``button_cls`` is over.

        Over means: the widget ``result_cls`` (watched with :meth:`watch` before the click)
        has changed at least once, the button is enabled again and the kernel is idle (the
        click handler keeps it busy until the run is done).

        Returns:
            The result's new text.

        Raises:
            playwright.sync_api.TimeoutError: if the run is not over within ``timeout``.
        """
        self.page.wait_for_function(
            f"""([result, button]) => {{
                const record = window.__gqWatch && window.__gqWatch[result];
                const host = document.querySelector(button);
                const b = host && (host.tagName === 'BUTTON' ? host : host.querySelector('button'));
                const kernel = {_PANEL}.sessionContext.session?.kernel;
                return !!record && record.texts.length > 1 && !!b && !b.disabled
                    && !!kernel && kernel.status === 'idle';
            }}""",
            arg=[self._selector(result_cls), self._selector(button_cls)],
            timeout=timeout * 1000,
        )
        return self.text(result_cls)

    def screenshot_panel(self, cls: str, path: Path) -> None:
        """Save a screenshot of the cell output that holds the widget with class ``cls``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        output = self.widget(cls).locator(
            "xpath=ancestor::div[contains(concat(' ', @class, ' '), ' jp-OutputArea-output ')]"
        )
        output.last.screenshot(path=str(path))

    def attribute(self, cls: str, name: str) -> str | None:
        """Return attribute ``name`` of the widget with class ``cls`` or of its first
        descendant that has it (an HTML widget's value carries it on an inner element)."""
        element = self.widget(cls)
        own = element.get_attribute(name)
        if own is not None:
            return own
        inner = element.locator(f"[{name}]")
        return inner.first.get_attribute(name) if inner.count() > 0 else None
