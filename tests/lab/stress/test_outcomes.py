"""Outcomes: grading final states, adding them up, and showing them as text, HTML and a plot."""

from __future__ import annotations

import pytest

from goqueue.lab.stress.outcomes import Grade, OutcomeRow, Outcomes, TrialResult


def make_outcomes(*trials: TrialResult) -> Outcomes:
    return Outcomes(
        target="unsafe",
        trials=trials,
        threads=4,
        seconds=1.0,
        iterations=None,
        elapsed=1.01,
        switch_interval=0.005,
        seed=0,
        python_version="3.12.1",
        gil_enabled=True,
    )


@pytest.mark.parametrize(
    ("trial", "state", "grade", "anomalies"),
    [
        (TrialResult(operations=5), "consistent", Grade.ACCEPTABLE, 0),
        (TrialResult(operations=0), "no operations", Grade.INCONCLUSIVE, 0),
        (TrialResult(operations=0, exceptions={"E": 1}), "E", Grade.FORBIDDEN, 1),
        (
            TrialResult(operations=5, overlaps=2),
            "consistent, threads interleaved",
            Grade.INTERESTING,
            0,
        ),
        (TrialResult(operations=5, lost_updates=7, overlaps=2), "lost updates", Grade.FORBIDDEN, 7),
        (
            TrialResult(operations=5, duplicates=1, missing=2, exceptions={"RuntimeError": 3}),
            "duplicate types + missing types + RuntimeError",
            Grade.FORBIDDEN,
            6,
        ),
    ],
)
def test_trial_state_and_grade(
    trial: TrialResult, state: str, grade: Grade, anomalies: int
) -> None:
    assert trial.state == state
    assert trial.grade is grade
    assert trial.anomalies == anomalies


def test_totals_add_up_over_trials() -> None:
    outcomes = make_outcomes(
        TrialResult(operations=10, lost_updates=2, exceptions={"RuntimeError": 1}),
        TrialResult(operations=20, duplicates=1, exceptions={"RuntimeError": 2, "KeyError": 1}),
        TrialResult(operations=30, overlaps=4),
    )
    assert outcomes.operations == 60
    assert outcomes.anomalies == 2 + 1 + 1 + 2 + 1
    assert outcomes.lost_updates == 2
    assert outcomes.invariant_violations == 1
    assert outcomes.exceptions == {"KeyError": 1, "RuntimeError": 3}
    assert outcomes.anomalous_trials == 2


def test_rows_count_states_worst_grade_first() -> None:
    outcomes = make_outcomes(
        TrialResult(operations=1),
        TrialResult(operations=1, overlaps=1),
        TrialResult(operations=1, lost_updates=1),
        TrialResult(operations=1, overlaps=1),
    )
    assert outcomes.rows() == [
        OutcomeRow("lost updates", Grade.FORBIDDEN, 1, 0.25),
        OutcomeRow("consistent, threads interleaved", Grade.INTERESTING, 2, 0.5),
        OutcomeRow("consistent", Grade.ACCEPTABLE, 1, 0.25),
    ]


def test_text_table() -> None:
    outcomes = make_outcomes(
        TrialResult(operations=1000, lost_updates=3), TrialResult(operations=500)
    )
    assert str(outcomes).splitlines() == [
        "unsafe: anomalies: 3 in 1,500 operations (2 trials, 4 threads, 1 s; Python 3.12.1, "
        "GIL on, switch interval 0.005 s, seed 0)",
        "  final state   grade        trials    freq",
        "  lost updates  FORBIDDEN         1     50%",
        "  consistent    ACCEPTABLE        1     50%",
        "  lost updates: 3",
        "  duplicate or missing types: 0",
        "  exceptions: none",
        "  forbidden trials: 1 of 2",
    ]


def test_html_carries_the_anomaly_count() -> None:
    html = make_outcomes(TrialResult(operations=9, exceptions={"RuntimeError": 2}))._repr_html_()
    assert 'data-anomalies="2"' in html
    assert 'data-operations="9"' in html
    assert "anomalies: 2 in 9 operations" in html
    assert "<td>RuntimeError</td><td>FORBIDDEN</td><td>1</td><td>100%</td>" in html


def test_plot_returns_the_axes_it_drew_on() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outcomes = make_outcomes(TrialResult(operations=1, lost_updates=1), TrialResult(operations=1))
    _, ax = plt.subplots()
    try:
        assert outcomes.plot(ax=ax) is ax
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert labels == ["lost updates", "consistent"]
        assert [p.get_width() for p in ax.patches] == [1, 1]
        legend = ax.get_legend()
        # Only the grades drawn, and outside the axes (to the right), never over a bar.
        assert [t.get_text() for t in legend.get_texts()] == ["acceptable", "forbidden"]
        assert legend.get_bbox_to_anchor().x0 > ax.get_window_extent().x1
        assert ax.get_title() == "unsafe: 1 anomalies in 2 operations"
        new_ax = outcomes.plot()
        assert new_ax is not ax
    finally:
        plt.close("all")
