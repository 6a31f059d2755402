"""The crash test: kill a queue process mid-run, restart it on the same file, count."""

from __future__ import annotations

import re

import pytest

from goqueue.lab.measure.crash import kill_mid_run


@pytest.mark.slow  # two processes, and the killed one's leases must run out
def test_kill_mid_run_loses_nothing_and_reruns_only_interrupted_jobs() -> None:
    result = kill_mid_run(jobs=120, workers=3, work_seconds=0.01, kill_after=8)
    assert (result.jobs, result.completed, result.lost) == (120, 120, 0)
    # The first 8 jobs are quick, the rest slow in the first process: at the kill, the
    # quick ones are done and each of the 3 workers is in the middle of a slow one.
    assert (result.completed_at_kill, result.processing_at_kill) == (8, 3)
    assert result.completed_at_kill + result.processing_at_kill + result.pending_at_kill == 120
    assert result.recovered == result.processing_at_kill
    assert 0 <= result.rerun <= result.recovered
    assert result.runs == result.jobs + result.rerun
    assert re.fullmatch(
        r"120 jobs; killed with \d+ completed, \d+ processing, \d+ pending;"
        r" restart recovered \d+; finally 120 completed, 0 lost; \d+ handler runs, \d+ re-run",
        str(result),
    )


def test_kill_mid_run_needs_more_jobs_than_it_completes_before_the_kill() -> None:
    with pytest.raises(ValueError, match=r"^jobs must be >= kill_after \+ workers, got 12$"):
        kill_mid_run(jobs=12, workers=4, kill_after=10)
