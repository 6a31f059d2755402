"""``timeline.render_text``: the wide table, or one step per entry to fit a width."""

from __future__ import annotations

from goqueue.lab.interleavings.explore import explore_scenario
from goqueue.lab.interleavings.model import Execution
from goqueue.lab.interleavings.timeline import render_text
from goqueue.lab.specimens.scenarios import SCENARIOS


def failing(name: str) -> Execution:
    execution = explore_scenario(SCENARIOS[name]()).first_failure
    assert execution is not None
    return execution


def test_without_a_width_or_when_it_fits_the_table_is_unchanged() -> None:
    execution = failing("registry")
    table = render_text(execution)
    assert table == execution.timeline()
    assert table.split("\n")[0].startswith("step  worker-1")
    assert render_text(execution, width=max(map(len, table.split("\n")))) == table


def test_narrow_output_fits_and_keeps_every_step_and_state_whole() -> None:
    execution = failing("registry")
    narrow = render_text(execution, width=60)
    lines = narrow.split("\n")
    assert max(len(line) for line in lines) <= 60
    assert lines[0] == "step  thread    action, then shared state after"
    assert lines[1] == "   1  worker-1  check 'sms' in handlers -> False"
    assert lines[-1] == "result: invariant violated"
    flat = " ".join(narrow.split())  # undo the wrapping: every text is there, in order
    position = 0
    for number, step in enumerate(execution.steps, 1):
        entry = f"{number} {step.thread} {' '.join(step.text.split())} after: "
        entry += " ".join(step.state.split())
        position = flat.index(entry, position)
