"""A pytest plugin with a ``race_free`` fixture: the test fails if the race detector fires.

Load it with ``pytest -p goqueue.lab.interleavings.pytest_plugin`` (or ``pytest_plugins`` in a
top-level ``conftest.py``), then ask for the fixture::

    def test_registry_under_load(race_free):
        ...  # threads hammering instrumented objects

The test body runs under ``race_detector()``; if any race was found, the test fails with
the Go-style report, like ``go test -race``. pytest is imported here only: the rest of
``goqueue.lab`` never needs it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from goqueue.lab.interleavings.detector import RaceDetector, race_detector

__all__ = ["check_race_free", "race_free"]


def check_race_free(detector: RaceDetector) -> None:
    """Fail the running test with the report if *detector* found a race."""
    if detector.races:
        pytest.fail(detector.report(), pytrace=False)


@pytest.fixture
def race_free() -> Iterator[RaceDetector]:
    """Run the test under the race detector; fail it if a race was found."""
    with race_detector() as detector:
        yield detector
    check_race_free(detector)
