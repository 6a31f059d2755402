"""The race panel: clicking Run hammers the chosen registry, shows live counts, then the table."""

from __future__ import annotations

import importlib
import re
import sys
import threading
from typing import Any

import pytest

pytest.importorskip("ipywidgets")

from goqueue.lab.widgets.race_panel import RacePanel, race_panel


def classes(widget: Any) -> list[str]:
    return list(widget._dom_classes)


def test_controls_carry_the_classes_browser_tests_look_for() -> None:
    panel = race_panel()
    assert classes(panel.threads) == ["gq-threads"]
    assert classes(panel.seconds) == ["gq-seconds"]
    assert classes(panel.switch) == ["gq-switch"]
    assert classes(panel.registry) == ["gq-registry"]
    assert classes(panel.run_button) == ["gq-run"]
    assert classes(panel.live) == ["gq-live"]
    assert classes(panel.result) == ["gq-result"]
    assert panel.registry.value == "unsafe"
    assert list(panel.registry.options) == [("unsafe", "unsafe"), ("locked", "locked")]


def anomalies_shown(panel: RacePanel) -> int:
    value = panel.result.value
    attribute = re.search(r'data-anomalies="(\d+)"', value)
    text = re.search(r"\banomalies: (\d+) in ", value)
    assert attribute is not None and text is not None, value
    assert attribute[1] == text[1]
    return int(attribute[1])


def click_and_watch(panel: RacePanel) -> tuple[list[bool], list[tuple[str, str]]]:
    """Click Run; record the button's disabled flag and, per live update, the thread."""
    disabled: list[bool] = []
    live: list[tuple[str, str]] = []
    panel.run_button.observe(lambda change: disabled.append(change["new"]), "disabled")
    panel.live.observe(
        lambda change: live.append((threading.current_thread().name, panel.result.value)),
        "value",
    )
    panel.run_button.click()  # runs the handler here; it returns once the run is joined
    return disabled, live


def test_clicking_run_on_the_unsafe_registry_shows_anomalies() -> None:
    panel = race_panel(threads=4, seconds=0.5)
    disabled, live = click_and_watch(panel)
    assert disabled == [True, False]  # disabled for the whole run, enabled after
    # Live counts came from the hammer's thread while the result still said "running…".
    from_run = [result for name, result in live if name == "gq-race-panel"]
    assert len(from_run) >= 2
    assert set(from_run) == {"running…"}
    assert panel.live_history[-1].endswith("· done")
    assert len(panel.history) == 1
    assert anomalies_shown(panel) == panel.history[0].anomalies > 0
    assert not [t for t in threading.enumerate() if t.name == "gq-race-panel"]


def test_the_locked_registry_shows_zero_anomalies_with_the_chosen_settings() -> None:
    panel = race_panel()
    panel.registry.value = "locked"
    panel.threads.value = 3
    panel.seconds.value = 0.3
    panel.switch.value = 1e-4
    outcomes = panel.run()
    assert anomalies_shown(panel) == outcomes.anomalies == 0
    assert (outcomes.target, outcomes.threads, outcomes.seconds) == ("locked", 3, 0.3)
    assert outcomes.switch_interval == pytest.approx(1e-4)
    assert outcomes.operations > 0
    assert not panel.run_button.disabled


def test_a_failed_run_is_shown_and_the_button_enabled_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    panel = race_panel()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("no threads left")

    # (goqueue.lab.widgets.race_panel is also the name of the function, so fetch the module)
    monkeypatch.setattr(importlib.import_module("goqueue.lab.widgets.race_panel"), "hammer", broken)
    with pytest.raises(RuntimeError, match=r"^race panel run failed$"):
        panel.run()
    assert panel.result.value == "run failed: OSError: no threads left"
    assert not panel.run_button.disabled
    panel.run_button.click()  # a click swallows the error: the result line shows it
    assert panel.history == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"registry": "core"}, r"^registry must be one of \['unsafe', 'locked'\], got 'core'$"),
        ({"trials": 0}, r"^trials must be >= 1, got 0$"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RacePanel(**kwargs)


def test_the_switch_interval_starts_at_the_interpreters_own_exactly() -> None:
    panel = race_panel()
    assert panel.switch.value == sys.getswitchinterval()
    assert min(value for _, value in panel.switch.options) == 1e-6


def test_a_saved_notebook_shows_a_note_in_place_of_the_panel() -> None:
    from goqueue.lab.widgets.race_panel import PLACEHOLDER

    bundle = race_panel()._repr_mimebundle_()
    assert bundle["text/plain"] == PLACEHOLDER
    assert PLACEHOLDER.startswith("[the ") and "VBox" not in PLACEHOLDER
    assert "application/vnd.jupyter.widget-view+json" in bundle
