"""Job and JobStatus: the state machine, attempts, backoff, copies."""

from __future__ import annotations

import dataclasses
import itertools
import os
import random
import re
from datetime import datetime, timedelta, timezone

import pytest

from goqueue import InvalidTransition, Job, JobStatus
from goqueue.job import check_max_retry, new_job_id

S = JobStatus
# The whole state machine, written out by hand so that a change to the table in job.py
# has to be made here too.
ALLOWED = {
    (S.PENDING, S.PROCESSING),
    (S.PENDING, S.CANCELLED),
    (S.PROCESSING, S.COMPLETED),
    (S.PROCESSING, S.FAILED),
    (S.PROCESSING, S.PENDING),
}
FORBIDDEN = sorted(
    set(itertools.product(S, S)) - ALLOWED, key=lambda pair: (pair[0].value, pair[1].value)
)


def test_status_values_are_the_lowercase_names() -> None:
    assert [(s.name, s.value, str(s)) for s in S] == [
        ("PENDING", "pending", "pending"),
        ("PROCESSING", "processing", "processing"),
        ("COMPLETED", "completed", "completed"),
        ("FAILED", "failed", "failed"),
        ("CANCELLED", "cancelled", "cancelled"),
    ]
    assert [s for s in S if s.is_final] == [S.COMPLETED, S.FAILED, S.CANCELLED]


def test_a_new_job_is_pending_with_no_attempts() -> None:
    before = datetime.now(timezone.utc)
    job = Job(type="email", payload={"to": "ada"})
    assert (job.type, job.payload, job.status, job.attempts, job.max_retry, job.error) == (
        "email",
        {"to": "ada"},
        S.PENDING,
        0,
        1,
        None,
    )
    assert before <= job.created_at <= datetime.now(timezone.utc)
    assert job.created_at.tzinfo is not None
    assert job.updated_at == job.created_at  # never updated yet
    assert job.next_attempt_at is None


def test_ids_are_unique_uuids() -> None:
    ids = {Job(type="email").id for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"[0-9a-f]{32}", job_id) for job_id in ids)


def test_seeding_the_random_module_does_not_repeat_ids() -> None:
    # A notebook's setup cell calls random.seed(0); two runs of it (or two processes
    # sharing an SQLite file) must not draw the same job ids.
    state = random.getstate()
    try:
        random.seed(0)
        first = [new_job_id() for _ in range(5)]
        random.seed(0)
        second = [new_job_id() for _ in range(5)]
    finally:
        random.setstate(state)
    assert set(first).isdisjoint(second)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send one id, exit without running pytest's cleanup
        try:
            os.write(write_end, new_job_id().encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        child_id = os.read(read_end, 64).decode()
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    parent_id = new_job_id()  # the id the child would repeat if it kept our generator
    assert re.fullmatch(r"[0-9a-f]{32}", child_id)
    assert child_id != parent_id


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED, key=str))
def test_allowed_transitions(current: JobStatus, target: JobStatus) -> None:
    job = Job(type="email", status=current)
    before = job.updated_at
    job.change_status(target)
    assert job.status is target
    assert job.updated_at >= before


@pytest.mark.parametrize(("current", "target"), FORBIDDEN)
def test_every_other_transition_is_invalid(current: JobStatus, target: JobStatus) -> None:
    job = Job(type="email", status=current)
    message = f"^invalid job status transition: {current.value} -> {target.value}$"
    with pytest.raises(InvalidTransition, match=message) as info:
        job.change_status(target)
    assert (info.value.current, info.value.target) == (current, target)
    assert job.status is current


def test_invalid_transition_message_example() -> None:
    job = Job(type="email")
    with pytest.raises(
        InvalidTransition, match=r"^invalid job status transition: pending -> completed$"
    ):
        job.mark_completed()
    assert isinstance(InvalidTransition(S.PENDING, S.FAILED), ValueError)


def test_mark_running_counts_an_attempt_and_clears_the_schedule() -> None:
    job = Job(type="email", max_retry=3, next_attempt_at=datetime.now(timezone.utc))
    job.mark_running()
    assert (job.status, job.attempts, job.next_attempt_at) == (S.PROCESSING, 1, None)


def test_mark_completed_clears_an_earlier_error() -> None:
    job = Job(type="email", max_retry=2)
    job.mark_running()
    job.mark_failed(ValueError("boom"))
    job.mark_running()
    job.mark_completed()
    assert (job.status, job.attempts, job.error) == (S.COMPLETED, 2, None)


def test_mark_failed_retries_while_attempts_are_left_then_fails() -> None:
    job = Job(type="email", max_retry=3)
    history = []
    for n in range(3):
        job.mark_running()
        job.mark_failed(ValueError(f"boom {n}"))
        history.append((job.status, job.attempts, job.error, job.can_retry()))
    assert history == [
        (S.PENDING, 1, "ValueError: boom 0", True),
        (S.PENDING, 2, "ValueError: boom 1", True),
        (S.FAILED, 3, "ValueError: boom 2", False),
    ]
    with pytest.raises(
        InvalidTransition, match=r"^invalid job status transition: failed -> processing$"
    ):
        job.mark_running()


def test_max_retry_one_means_one_attempt() -> None:
    job = Job(type="email")
    job.mark_running()
    job.mark_failed(KeyError("k"))
    assert (job.status, job.attempts, job.error) == (S.FAILED, 1, "KeyError: 'k'")


def test_mark_failed_without_retry_fails_at_once() -> None:
    job = Job(type="email", max_retry=5)
    job.mark_running()
    job.mark_failed("no handler", retry=False)
    assert (job.status, job.error, job.can_retry()) == (S.FAILED, "no handler", True)


def test_cancel_only_from_pending() -> None:
    job = Job(type="email", next_attempt_at=datetime.now(timezone.utc))
    job.cancel()
    assert (job.status, job.next_attempt_at) == (S.CANCELLED, None)
    running = Job(type="email")
    running.mark_running()
    with pytest.raises(
        InvalidTransition, match=r"^invalid job status transition: processing -> cancelled$"
    ):
        running.cancel()


def test_backoff_duration_is_attempts_squared_seconds() -> None:
    job = Job(type="email", max_retry=10)
    assert job.backoff_duration() == 0.0
    durations = []
    for _ in range(5):
        job.mark_running()
        durations.append(job.backoff_duration())
        job.mark_failed("x")
    assert durations == [1.0, 4.0, 9.0, 16.0, 25.0]


@pytest.mark.parametrize("bad", [0, -1])
def test_max_retry_below_one_is_refused(bad: int) -> None:
    with pytest.raises(ValueError, match=rf"^max_retry must be >= 1, got {bad}$"):
        Job(type="email", max_retry=bad)


@pytest.mark.parametrize(("bad", "name"), [(1.5, "float"), ("3", "str"), (True, "bool")])
def test_max_retry_must_be_an_int(bad: object, name: str) -> None:
    with pytest.raises(TypeError, match=rf"^max_retry must be an int, got {name}$"):
        Job(type="email", max_retry=bad)  # type: ignore[arg-type]


def test_copy_is_independent_payload_included() -> None:
    job = Job(type="email", payload={"to": ["ada"], "meta": {"n": 1}}, max_retry=2)
    clone = job.copy()
    assert clone is not job and clone.payload is not job.payload
    assert dataclasses.asdict(clone) == dataclasses.asdict(job)
    clone.payload["to"].append("grace")
    clone.payload["meta"]["n"] = 2
    clone.mark_running()
    assert job.payload == {"to": ["ada"], "meta": {"n": 1}}
    assert (job.status, job.attempts) == (S.PENDING, 0)


def test_copy_copies_every_field() -> None:
    job = Job(type="email", payload={"to": "ada"}, max_retry=3)
    job.mark_running()  # PROCESSING, one attempt
    job.error = "ValueError: smtp down"
    job.next_attempt_at = job.updated_at + timedelta(seconds=1)
    job.updated_at += timedelta(microseconds=1)  # not the default (created_at) any more
    defaults = Job(type="sms", payload={})
    names = [f.name for f in dataclasses.fields(Job)]
    # The job differs from a new one in every field, so a field the copy forgot or
    # reset would show.
    assert [n for n in names if getattr(job, n) == getattr(defaults, n)] == []
    clone = job.copy()
    assert [n for n in names if getattr(clone, n) != getattr(job, n)] == []


def test_repr_shows_status_and_attempts() -> None:
    job = Job(type="email", max_retry=3)
    job.mark_running()
    assert repr(job) == f"<Job {job.id[:8]} 'email' processing attempts=1/3>"


def test_submitted_builds_the_same_job_as_the_constructor() -> None:
    payload = {"to": "ada"}
    fast = Job._submitted("email", payload, 3)
    slow = Job(type="email", payload={"to": "ada"}, max_retry=3)
    names = [f.name for f in dataclasses.fields(Job)]
    assert not hasattr(fast, "__dict__")  # nothing but the fields...
    assert [n for n in names if not hasattr(fast, n)] == []  # ...and every one set
    same = {"id", "created_at", "updated_at"}  # fresh for every job
    assert [n for n in names if n not in same and getattr(fast, n) != getattr(slow, n)] == []
    assert fast.payload is payload  # the caller hands over a fresh copy
    assert fast.updated_at == fast.created_at
    assert fast.created_at.tzinfo is timezone.utc
    assert re.fullmatch(r"[0-9a-f]{32}", fast.id) and fast.id != slow.id


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (0, ValueError, r"^max_retry must be >= 1, got 0$"),
        (True, TypeError, r"^max_retry must be an int, got bool$"),
    ],
)
def test_check_max_retry_refuses_what_the_constructor_refuses(
    bad: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        check_max_retry(bad)
    with pytest.raises(error, match=message):
        Job(type="email", max_retry=bad)  # type: ignore[arg-type]
