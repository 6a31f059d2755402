"""Job and JobStatus: the state machine, attempts, backoff, copies."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import random
import re
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from support import join_all, run_all, run_in_thread

from goqueue import InvalidTransition, Job, JobStatus, SQLiteStorage
from goqueue.backoff import MAX_DELAY
from goqueue.ids import new_job_id
from goqueue.job import (
    MAX_ERROR_LENGTH,
    MAX_JOB_TYPE_LENGTH,
    MAX_RETRY_LIMIT,
    check_job_type,
    check_max_retry,
    error_text,
)

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


@pytest.mark.parametrize("bad", [2**63, 2**64 + 5])
def test_max_retry_above_the_storable_range_is_refused(bad: int) -> None:
    check_max_retry(MAX_RETRY_LIMIT)
    with pytest.raises(ValueError, match=rf"^max_retry must be <= 2\*\*63 - 1, got {bad}$"):
        check_max_retry(bad)


def test_a_huge_max_retry_is_refused_without_printing_it() -> None:
    # str() of an int of more than 4300 digits raises ValueError: the message must not try.
    with pytest.raises(
        ValueError, match=r"^max_retry must be <= 2\*\*63 - 1, got an int of 16610 bits$"
    ):
        check_max_retry(10**5000)
    with pytest.raises(ValueError, match=r"^max_retry must be >= 1, got an int of 16610 bits$"):
        check_max_retry(-(10**5000))


# Job types ----------------------------------------------------------------------------


@pytest.mark.parametrize("good", ["email", "é-mail", "x" * MAX_JOB_TYPE_LENGTH, "a\x00b"])
def test_check_job_type_accepts_storable_names(good: str) -> None:
    check_job_type(good)
    assert Job(type=good).type == good


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        ("", TypeError, r"^job_type must be a non-empty str, got ''$"),
        (b"email", TypeError, r"^job_type must be a non-empty str, got b'email'$"),
        (None, TypeError, r"^job_type must be a non-empty str, got None$"),
        ("x" * 201, ValueError, r"^job_type must be at most 200 characters, got 201$"),
        (
            "report-\udcff",
            ValueError,
            r"^job_type must be valid UTF-8, got 'report-\\udcff'"
            r" \(a lone surrogate at index 7\)$",
        ),
    ],
)
def test_check_job_type_refuses_what_a_storage_cannot_hold(
    bad: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        check_job_type(bad)
    with pytest.raises(error, match=message):
        Job(type=bad)  # type: ignore[arg-type]


def test_backoff_duration_never_passes_max_delay() -> None:
    job = Job(type="email", max_retry=MAX_RETRY_LIMIT)
    job.attempts = 10**6  # 10**12 s by the tutorial's formula: 31,710 years
    assert job.backoff_duration() == MAX_DELAY


# Error text -----------------------------------------------------------------------------


class StrRaises(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class StrRaisesUnprintably(Exception):
    def __str__(self) -> str:
        raise StrRaises()


class StrNotAStr(Exception):
    def __str__(self) -> str:
        return 42  # type: ignore[return-value]


class NamelessMeta(type):
    @property
    def __name__(cls) -> str:  # type: ignore[override]
        raise RuntimeError("no name either")


class Nameless(Exception, metaclass=NamelessMeta):
    def __str__(self) -> str:
        raise RuntimeError("no text")


class Message(str):
    def __str__(self) -> str:
        return "not the message"


def assert_storable(text: str) -> None:
    """What every storage needs of an error text: UTF-8, JSON, and not too long."""
    text.encode("utf-8")
    assert json.loads(json.dumps(text)) == text
    assert len(text) <= MAX_ERROR_LENGTH


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (ValueError("smtp down"), "ValueError: smtp down"),
        (KeyError("k"), "KeyError: 'k'"),
        ("no handler", "no handler"),
        (StrRaises(), "StrRaises: <str() failed: RuntimeError: no text for you>"),
        (StrRaisesUnprintably(), "StrRaisesUnprintably: <str() failed: StrRaises>"),
        (
            StrNotAStr(),
            "StrNotAStr: <str() failed: TypeError: __str__ returned non-string (type int)>",
        ),
        # What os.fsdecode makes of a file name that is not UTF-8: a lone surrogate.
        (OSError("cannot open \udcff.txt"), "OSError: cannot open \\udcff.txt"),
        ("bad \ud800 text", "bad \\ud800 text"),
        (ValueError("ünïcode 😀 is kept"), "ValueError: ünïcode 😀 is kept"),
        (Message("no handler"), "no handler"),
    ],
)
def test_error_text_is_readable_and_storable_for_any_exception(
    err: BaseException | str, expected: str
) -> None:
    assert error_text(err) == expected
    assert_storable(error_text(err))


def test_error_text_survives_an_exception_without_a_name() -> None:
    text = error_text(Nameless())
    assert re.fullmatch(r"<<test_job\.Nameless object at 0x[0-9a-f]+>: no text>", text), text


@pytest.mark.parametrize("length", [MAX_ERROR_LENGTH + 1, 10**6])
def test_a_long_error_text_is_cut_saying_so(length: int) -> None:
    text = error_text(ValueError("x" * length))
    note = f" ... [cut: {length + len('ValueError: ')} characters]"
    assert text == ("ValueError: " + "x" * length)[: MAX_ERROR_LENGTH - len(note)] + note
    assert_storable(text)


def test_an_error_text_of_exactly_the_limit_is_kept_whole() -> None:
    message = "y" * MAX_ERROR_LENGTH
    assert error_text(message) == message


def test_escaping_cannot_push_a_text_past_the_limit() -> None:
    # Each lone surrogate grows to six characters when escaped.
    text = error_text("\udcff" * (MAX_ERROR_LENGTH - 10))
    assert text.startswith("\\udcff" * 10) and text.endswith(" characters]")
    assert_storable(text)


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (StrRaises(), "StrRaises: <str() failed: RuntimeError: no text for you>"),
        (ValueError("cannot open \udcff.txt"), "ValueError: cannot open \\udcff.txt"),
    ],
)
def test_mark_failed_ends_the_job_whatever_the_exception(err: Exception, expected: str) -> None:
    job = Job(type="email", max_retry=2)
    job.mark_running()
    job.mark_failed(err)
    assert (job.status, job.error) == (S.PENDING, expected)
    job.mark_running()
    job.mark_failed(err)
    assert (job.status, job.error) == (S.FAILED, expected)


def test_a_failed_job_with_an_unencodable_error_is_stored_and_read_back(
    tmp_path: Path,
) -> None:
    # SQLite refuses text with a lone surrogate: the job stayed PROCESSING for ever.
    storage = SQLiteStorage(tmp_path / "jobs.db")
    try:
        job = Job(type="email")
        storage.save_job(job)
        job.mark_running()
        name = os.fsdecode(b"caf\xe9.txt")  # not UTF-8: 'caf\udce9.txt'
        job.mark_failed(FileNotFoundError("no such file: " + name))
        storage.update_job(job)
        stored = storage.get_job(job.id)
    finally:
        storage.close()
    assert stored is not None
    assert (stored.status, stored.error) == (
        S.FAILED,
        "FileNotFoundError: no such file: caf\\udce9.txt",
    )


# Job ids --------------------------------------------------------------------------------


def test_ids_are_version_4_uuids_in_hex() -> None:
    ids = [new_job_id() for _ in range(2_000)]  # several blocks of the buffer
    parsed = [uuid.UUID(hex=job_id) for job_id in ids]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert [u.hex for u in parsed] == ids  # lowercase, 32 digits, no dashes
    # 122 random bits: every hex digit that is not fixed takes many values.
    free = [i for i in range(32) if i not in (12, 16)]
    assert all(len({job_id[i] for job_id in ids}) == 16 for i in free)
    assert {job_id[12] for job_id in ids} == {"4"}
    assert {job_id[16] for job_id in ids} == set("89ab")


def test_ids_drawn_by_eight_threads_at_once_are_unique() -> None:
    threads_n, per_thread = 8, 25_000
    barrier = threading.Barrier(threads_n)
    drawn: list[list[str]] = [[] for _ in range(threads_n)]

    def draw(mine: list[str]) -> None:
        barrier.wait()
        mine.extend(new_job_id() for _ in range(per_thread))

    run_all([threading.Thread(target=draw, args=(mine,)) for mine in drawn], barrier=barrier)
    assert [len(mine) for mine in drawn] == [per_thread] * threads_n
    assert len({job_id for mine in drawn for job_id in mine}) == threads_n * per_thread


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_repeats_none_of_its_parents_ids() -> None:
    new_job_id()  # the parent's buffer now holds ids the child would inherit
    count = 600  # more than a block each
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its ids, exit without running pytest's cleanup
        try:
            os.write(write_end, "".join(new_job_id() for _ in range(count)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            sent = pipe.read().decode()
    finally:
        os.waitpid(pid, 0)
    child_ids = {sent[i : i + 32] for i in range(0, len(sent), 32)}
    parent_ids = {new_job_id() for _ in range(count)}
    assert len(child_ids) == count
    assert child_ids.isdisjoint(parent_ids)


def test_ids_are_the_bytes_of_os_urandom(monkeypatch: pytest.MonkeyPatch) -> None:
    # Unpredictable ids need a CSPRNG: the Mersenne Twister behind ``random`` gives its
    # state away after 624 outputs. Whatever os.urandom returns is what the ids are made
    # of (a new thread starts with an empty buffer, so it must draw).
    drawn: list[int] = []

    def fake_urandom(size: int) -> bytes:
        drawn.append(size)
        return bytes(range(256)) * (size // 256)

    monkeypatch.setattr(os, "urandom", fake_urandom)
    ids: list[str] = []
    join_all([run_in_thread(lambda: ids.extend(new_job_id() for _ in range(3)))])
    expected = [uuid.UUID(bytes=bytes(range(n, n + 16)), version=4).hex for n in (0, 16, 32)]
    assert ids == expected
    assert drawn and all(size >= 16 * 3 for size in drawn)
