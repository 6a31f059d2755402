"""Tests for goqueue.context: the handler's read-only JobContext."""

from __future__ import annotations

import threading

import pytest

from goqueue import JobContext


def test_fields_are_read_only() -> None:
    event = threading.Event()
    ctx = JobContext("job-1", 2, event)
    assert (ctx.job_id, ctx.attempt, ctx.cancelled) == ("job-1", 2, event)
    for name in ("job_id", "attempt", "cancelled"):
        with pytest.raises(AttributeError):
            setattr(ctx, name, None)
    with pytest.raises(AttributeError):
        ctx.extra = 1  # type: ignore[attr-defined]
    assert (ctx.job_id, ctx.attempt, ctx.cancelled) == ("job-1", 2, event)


def test_equal_when_every_field_is_equal() -> None:
    event = threading.Event()
    ctx = JobContext("job-1", 1, event)
    assert ctx == JobContext("job-1", 1, event)
    assert hash(ctx) == hash(JobContext("job-1", 1, event))
    assert ctx != JobContext("job-1", 2, event)
    assert ctx != JobContext("job-1", 1, threading.Event())
    assert ctx != ("job-1", 1, event)


def test_repr_shows_the_cancel_state() -> None:
    event = threading.Event()
    ctx = JobContext("job-1", 1, event)
    assert repr(ctx) == "JobContext(job_id='job-1', attempt=1, cancelled=<unset>)"
    event.set()
    assert repr(ctx) == "JobContext(job_id='job-1', attempt=1, cancelled=<set>)"
