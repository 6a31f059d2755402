"""The stepper widget (widgets/stepper.py): buttons that drive the puzzle's engine."""

from __future__ import annotations

import pytest

from goqueue.lab import SharedVars
from goqueue.lab.widgets.stepper import PLACEHOLDER, StepperWidget


def bump(state: SharedVars) -> None:
    value = state.count
    state.count = value + 1


def setup() -> SharedVars:
    return SharedVars(count=0)


def check(state: SharedVars) -> bool:
    return bool(state.count == 2)


def test_widget_buttons_drive_the_engine() -> None:
    pytest.importorskip("ipywidgets")
    widget = StepperWidget(setup, {"alice": bump, "bob": bump}, check)
    try:
        alice, bob = widget.step_buttons["alice"], widget.step_buttons["bob"]
        assert "gq-step-alice" in alice._dom_classes and "gq-step-bob" in bob._dom_classes
        assert "gq-undo" in widget.undo_button._dom_classes
        assert "gq-reset" in widget.reset_button._dom_classes
        assert "gq-state" in widget.state_panel._dom_classes
        assert "gq-banner" in widget.banner._dom_classes
        assert widget.undo_button.disabled and widget.banner.value == ""
        assert "gq-next-line" in widget.code["alice"].value
        for button in (alice, bob, alice, bob):
            button.click()
        assert "invariant broken after 4 steps: count=1" in widget.banner.value
        assert alice.disabled and bob.disabled
        widget.undo_button.click()
        assert widget.banner.value == "" and not bob.disabled
        assert "count=1" in widget.state_panel.value
        widget.reset_button.click()
        assert widget.stepper.schedule == [] and "count=0" in widget.state_panel.value
    finally:
        widget.stepper.close()


def test_widget_next_walks_a_loaded_schedule() -> None:
    pytest.importorskip("ipywidgets")
    widget = StepperWidget(setup, [bump, bump], check, schedule=["t1", "t2", "t1", "t2"])
    try:
        assert not widget.next_button.disabled
        for _ in range(4):
            widget.next_button.click()
        assert widget.next_button.disabled
        assert "invariant broken" in widget.banner.value
        assert "write count = 1" in widget.history.value
    finally:
        widget.stepper.close()


def test_a_saved_notebook_shows_a_note_in_place_of_the_widget() -> None:
    pytest.importorskip("ipywidgets")
    widget = StepperWidget(setup, [bump, bump], check)
    try:
        bundle = widget._repr_mimebundle_()
        assert bundle["text/plain"] == PLACEHOLDER
        assert "VBox" not in bundle["text/plain"]
        assert "application/vnd.jupyter.widget-view+json" in bundle
    finally:
        widget.stepper.close()
