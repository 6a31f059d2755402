"""The state-machine diagram draws exactly the transitions the Job class allows."""

from __future__ import annotations

import pytest

from goqueue import InvalidTransition, Job, JobStatus
from goqueue.lab import draw_state_machine, state_machine_edges
from goqueue.lab.widgets.diagrams import STATE_POSITIONS


def _job_in(status: JobStatus) -> Job:
    job = Job(type="t", max_retry=2)
    paths = {
        JobStatus.PENDING: [],
        JobStatus.PROCESSING: [JobStatus.PROCESSING],
        JobStatus.COMPLETED: [JobStatus.PROCESSING, JobStatus.COMPLETED],
        JobStatus.FAILED: [JobStatus.PROCESSING, JobStatus.FAILED],
        JobStatus.CANCELLED: [JobStatus.CANCELLED],
    }
    for step in paths[status]:
        job.change_status(step)
    return job


@pytest.mark.parametrize("source", list(JobStatus))
def test_next_statuses_are_exactly_the_moves_change_status_allows(source: JobStatus) -> None:
    for target in JobStatus:
        job = _job_in(source)
        if target in source.next_statuses():
            job.change_status(target)
            assert job.status is target
        else:
            with pytest.raises(
                InvalidTransition, match=rf"^invalid job status transition: {source} -> {target}$"
            ):
                job.change_status(target)


def test_edges_cover_every_allowed_move_and_final_states_have_none() -> None:
    edges = {(a, b) for a, b, _ in state_machine_edges()}
    assert edges == {(a, b) for a in JobStatus for b in a.next_statuses()}
    assert {a for a, _ in edges} == {s for s in JobStatus if not s.is_final}
    assert all(label for _, _, label in state_machine_edges())


def test_draw_state_machine_draws_one_arrow_per_edge_and_one_box_per_status() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        assert draw_state_machine(ax) is ax
        arrows = [c for c in ax.texts if getattr(c, "arrow_patch", None) is not None]
        assert len(arrows) == len(state_machine_edges())
        box_texts = {t.get_text() for t in ax.texts}
        assert {s.value.upper() for s in STATE_POSITIONS} <= box_texts
    finally:
        plt.close(fig)


def test_draw_state_machine_makes_its_own_axes() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = draw_state_machine()
    try:
        assert ax.get_title().startswith("the job state machine")
    finally:
        plt.close(ax.figure)
