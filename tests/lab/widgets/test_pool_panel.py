"""The pool panel: its controls, a synchronous run, the live line, the button."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

import matplotlib

matplotlib.use("Agg")

from goqueue.lab import PoolPanel, pool_panel


def test_controls_carry_the_css_classes_a_browser_test_looks_for() -> None:
    panel = pool_panel(jobs=4, workers=3, duration=0.02)
    assert isinstance(panel, PoolPanel)
    classes = {
        "gq-workers": panel.workers,
        "gq-duration": panel.duration,
        "gq-run": panel.run_button,
        "gq-live": panel.live,
        "gq-result": panel.result,
        "gq-plot": panel.plot,
    }
    for css, widget in classes.items():
        assert css in widget._dom_classes
    assert (panel.workers.value, panel.duration.value) == (3, 0.02)


def test_run_uses_the_sliders_and_reports_a_machine_readable_result() -> None:
    panel = pool_panel(jobs=6, workers=1, duration=0.01)
    panel.workers.value = 3
    row = panel.run()
    assert (row.workers, row.jobs, row.completed) == (3, 6, 6)
    assert re.fullmatch(
        r"6 jobs in \d+\.\d\d s with 3 workers \(ideal 0\.02 s\)", panel.result.value
    )
    assert panel.live.value == "done: 6/6 completed"
    assert panel.live_history[0] == "starting 6 jobs on 3 workers"
    assert not panel.run_button.disabled
    assert panel.figure is not None


def test_the_live_line_counts_progress_without_losing_or_inventing_jobs() -> None:
    panel = PoolPanel(jobs=8, workers=2, duration=0.03, refresh=0.005)
    panel.run()
    lines = [line for line in panel.live_history if line.startswith("running:")]
    assert lines, panel.live_history  # 0.12 s of work, polled every 5 ms
    done = []
    for line in lines:
        m = re.fullmatch(r"running: (\d+)/8 done, (\d+) running, (\d+) waiting", line)
        assert m is not None, line
        d, r, w = map(int, m.groups())
        assert d + r + w == 8 and 0 <= r <= 2 and w >= 0
        done.append(d)
    assert done == sorted(done)


def test_the_button_runs_and_redraws_every_worker_count_so_far() -> None:
    panel = pool_panel(jobs=4, workers=1, duration=0.01)
    panel.run_button.click()
    panel.workers.value = 2
    panel.run_button.click()
    assert [row.workers for row in panel.rows] == [1, 2]
    measured, ideal = panel.figure.axes[0].get_lines()
    assert list(measured.get_xdata()) == [1, 2]
    assert list(ideal.get_xdata()) == list(range(1, 17))  # every slider position
    assert ideal.get_ydata()[0] == pytest.approx(4 * 0.01)  # 1 worker: 4 rounds of 0.01 s
    assert not panel.run_button.disabled


def test_a_failing_run_is_reported_and_reenables_the_button() -> None:
    panel = pool_panel(jobs=2, workers=1, duration=0.01)
    panel.duration.value = 0.01
    panel.jobs = 0  # time_sleeping_jobs refuses it inside the background thread
    with pytest.raises(RuntimeError, match=r"^pool panel run failed$"):
        panel.run()
    assert panel.result.value == "run failed: ValueError: jobs must be >= 1, got 0"
    assert not panel.run_button.disabled


def test_a_failing_click_is_shown_not_raised() -> None:
    panel = pool_panel(jobs=2, workers=1, duration=0.01)
    panel.jobs = 0
    panel.run_button.click()
    assert panel.result.value.startswith("run failed: ValueError")
    assert not panel.run_button.disabled


def test_the_button_is_disabled_until_the_result_and_plot_are_shown() -> None:
    panel = pool_panel(jobs=3, workers=3, duration=0.01)
    events: list[tuple[str, object]] = []
    panel.run_button.observe(lambda c: events.append(("disabled", c["new"])), names="disabled")
    panel.result.observe(lambda c: events.append(("result", c["new"])), names="value")
    panel.run_button.click()
    assert events[:2] == [("disabled", True), ("result", "running…")]
    assert events[-1] == ("disabled", False)
    assert events[-2][0] == "result" and str(events[-2][1]).startswith("3 jobs in ")


def test_jobs_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"^jobs must be >= 1, got 0$"):
        PoolPanel(jobs=0)


def test_a_saved_notebook_shows_a_note_in_place_of_the_panel() -> None:
    from goqueue.lab.widgets.pool_panel import PLACEHOLDER

    bundle = pool_panel()._repr_mimebundle_()
    assert bundle["text/plain"] == PLACEHOLDER
    assert PLACEHOLDER.startswith("[the ") and "VBox" not in PLACEHOLDER
    assert "application/vnd.jupyter.widget-view+json" in bundle
