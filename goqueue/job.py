"""The job: what a worker runs, and the state machine every job moves through.

::

               mark_running            mark_completed
    PENDING ───────────────▶ PROCESSING ─────────────▶ COMPLETED
       ▲  │                     │   │
       │  │ cancel              │   │ mark_failed, no attempts left
       │  ▼                     │   ▼
       │ CANCELLED              │  FAILED
       └────────────────────────┘
         mark_failed, attempts left (the retry waits for its backoff)

COMPLETED, FAILED and CANCELLED are final. A ``Job`` object belongs to one thread at a
time: the storage hands out copies (see ``goqueue.storage``), so a caller's snapshot never
changes under it while a worker runs the job.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .backoff import MAX_DELAY
from .errors import InvalidTransition
from .ids import new_job_id
from .payload import SURROGATE, copy_payload

__all__ = [
    "MAX_ERROR_LENGTH",
    "MAX_JOB_TYPE_LENGTH",
    "MAX_RETRY_LIMIT",
    "Job",
    "JobStatus",
    "check_job_type",
    "check_max_retry",
    "error_text",
]


class JobStatus(enum.Enum):
    """Where a job is in its life. The values are the lowercase names."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value

    # Members are singletons compared by identity, so an identity hash is correct, and it
    # is a C slot where Enum's own hash is Python code: statuses are dict keys and set
    # members several times per job on the workers' hot path.
    __hash__ = object.__hash__

    @property
    def is_final(self) -> bool:
        """True for COMPLETED, FAILED and CANCELLED: the job will not run again."""
        return self in _FINAL

    def next_statuses(self) -> frozenset[JobStatus]:
        """The statuses a job in this status may move to (empty for a final status).

        >>> sorted(str(s) for s in JobStatus.PROCESSING.next_statuses())
        ['completed', 'failed', 'pending']
        >>> JobStatus.COMPLETED.next_statuses()
        frozenset()
        """
        return _TRANSITIONS[self]


_FINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

# Globals for the members every job passes through: read faster than ``JobStatus.PENDING``
# (with the pool's own, a no-op job's sequential cost fell from 9.9 to 9.0 us, 3.11).
_PENDING = JobStatus.PENDING
_PROCESSING = JobStatus.PROCESSING
_COMPLETED = JobStatus.COMPLETED

# Every allowed move. Anything else raises InvalidTransition.
_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.PROCESSING, JobStatus.CANCELLED}),
    JobStatus.PROCESSING: frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.PENDING}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ``_clock(_UTC)`` is ``_now()`` without a Python call: change_status runs twice per job.
_clock = datetime.now
_UTC = timezone.utc


# The default of ``Job.updated_at``, told apart by identity: a new job was last updated
# when it was created.
_SAME_AS_CREATED = datetime.min.replace(tzinfo=timezone.utc)

#: The largest ``max_retry``: what an SQLite INTEGER (signed 64 bits) can hold.
MAX_RETRY_LIMIT = 2**63 - 1

#: The longest job type, in characters.
MAX_JOB_TYPE_LENGTH = 200

#: The longest error text a job records; a longer one is cut, saying so.
MAX_ERROR_LENGTH = 4000


def _show_int(number: int) -> str:
    # str() of an int with more than 4300 digits raises ValueError (Python >= 3.11).
    if number.bit_length() > 256:
        return f"an int of {number.bit_length()} bits"
    return str(number)


def check_max_retry(max_retry: object) -> None:
    """Check a ``max_retry``: an int from 1 to ``MAX_RETRY_LIMIT`` (a bool is refused).

    Raises:
        TypeError: *max_retry* is not an int.
        ValueError: *max_retry* < 1 or > ``MAX_RETRY_LIMIT`` (2**63 - 1).

    >>> check_max_retry(0)
    Traceback (most recent call last):
      ...
    ValueError: max_retry must be >= 1, got 0
    """
    if isinstance(max_retry, bool) or not isinstance(max_retry, int):
        raise TypeError(f"max_retry must be an int, got {type(max_retry).__name__}")
    if max_retry < 1:
        raise ValueError(f"max_retry must be >= 1, got {_show_int(max_retry)}")
    if max_retry > MAX_RETRY_LIMIT:
        raise ValueError(f"max_retry must be <= 2**63 - 1, got {_show_int(max_retry)}")


def check_job_type(job_type: object) -> None:
    r"""Check a job type: a non-empty ``str`` of at most 200 characters, valid as UTF-8.

    Every storage must be able to hold it: SQLite refuses text with a lone surrogate
    (what ``os.fsdecode`` makes of a file name that is not UTF-8).

    Raises:
        TypeError: *job_type* is not a ``str``, or is empty.
        ValueError: *job_type* is longer than ``MAX_JOB_TYPE_LENGTH`` (200) characters
            or holds a lone surrogate.

    >>> check_job_type("email")
    >>> check_job_type("report-\udcff")
    Traceback (most recent call last):
      ...
    ValueError: job_type must be valid UTF-8, got 'report-\udcff' (a lone surrogate at index 7)
    """
    if not isinstance(job_type, str) or not job_type:
        raise TypeError(f"job_type must be a non-empty str, got {job_type!r}")
    if len(job_type) > MAX_JOB_TYPE_LENGTH:
        raise ValueError(
            f"job_type must be at most {MAX_JOB_TYPE_LENGTH} characters, got {len(job_type)}"
        )
    if not job_type.isascii():
        surrogate = SURROGATE.search(job_type)
        if surrogate is not None:
            raise ValueError(
                f"job_type must be valid UTF-8, got {job_type!r}"
                f" (a lone surrogate at index {surrogate.start()})"
            )


def error_text(err: BaseException | str) -> str:
    r"""The text a failed job records for *err*: ``"ValueError: smtp down"``.

    Never raises for any exception: an exception whose ``str()`` raises is recorded by
    its type and the failure (``"ValueError: <str() failed: RuntimeError: no>"``); lone
    surrogates, which no storage can encode, are escaped (``\udcff``); and a text
    longer than ``MAX_ERROR_LENGTH`` (4,000) characters is cut, saying so.

    Args:
        err: the exception, or a message to record as it is.

    Returns:
        A ``str`` that encodes as UTF-8, at most ``MAX_ERROR_LENGTH`` characters long.

    >>> error_text(OSError("cannot open \udcff.txt"))
    'OSError: cannot open \\udcff.txt'
    >>> len(error_text("x" * 10_000))
    4000
    """
    try:
        text = str.__str__(err) if isinstance(err, str) else _describe(err)
    except Exception:  # e.g. a metaclass whose __name__ raises: give up on the text
        text = f"<{object.__repr__(err)}: no text>"
    whole = len(text)
    if whole > MAX_ERROR_LENGTH:
        text = text[:MAX_ERROR_LENGTH]  # escaping a huge text first would be wasted
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > MAX_ERROR_LENGTH or whole > MAX_ERROR_LENGTH:
        note = f" ... [cut: {whole} characters]"
        text = text[: MAX_ERROR_LENGTH - len(note)] + note
    return text


def _describe(err: object) -> str:
    name = type(err).__name__
    try:
        detail = str(err)
    except Exception as failure:
        try:
            why = f"{type(failure).__name__}: {failure}"
        except Exception:
            why = type(failure).__name__
        return f"{name}: <str() failed: {why}>"
    return f"{name}: {detail}"


# slots=True: a fixed set of fields and no __dict__ make a job cheaper to build, copy and
# store (a storage keeps one per job).
@dataclass(eq=False, slots=True)
class Job:
    """One unit of work: a type that picks the handler, and the payload it gets.

    ``max_retry`` is, as in the tutorial, the maximum number of *attempts* in total:
    ``max_retry=3`` runs the handler at most three times.

    >>> job = Job(type="email", payload={"to": "ada"}, max_retry=2)
    >>> job.status, job.attempts
    (<JobStatus.PENDING: 'pending'>, 0)
    >>> job.mark_running(); job.mark_failed(ValueError("smtp down"))
    >>> job.status, job.attempts, job.error, job.can_retry()
    (<JobStatus.PENDING: 'pending'>, 1, 'ValueError: smtp down', True)
    >>> job.mark_completed()
    Traceback (most recent call last):
      ...
    goqueue.errors.InvalidTransition: invalid job status transition: pending -> completed
    """

    type: str
    payload: dict[str, Any] = field(default_factory=dict)
    max_retry: int = 1
    id: str = field(default_factory=new_job_id)
    status: JobStatus = JobStatus.PENDING
    attempts: int = 0
    error: str | None = None
    created_at: datetime = field(default_factory=_now)
    updated_at: datetime = _SAME_AS_CREATED  # replaced by created_at in __post_init__
    #: When a retry waiting for its backoff becomes due (None when nothing is scheduled).
    next_attempt_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.updated_at is _SAME_AS_CREATED:  # one clock read per new job, not two
            self.updated_at = self.created_at
        check_job_type(self.type)
        check_max_retry(self.max_retry)

    @classmethod
    def _submitted(cls, job_type: str, payload: dict[str, Any], max_retry: int) -> Job:
        """A new pending job, built without ``__init__``: for ``Queue.submit_job`` only.

        The caller has checked *job_type* (``check_job_type``) and *max_retry*
        (``check_max_retry``) and owns *payload* (a fresh copy). Every field is set;
        tests/test_job.py checks none is missed.
        """
        # Runs once per submitted job: the dataclass __init__, with its default factories
        # and __post_init__'s checks, cost about as much again as this.
        job = object.__new__(cls)
        job.type = job_type
        job.payload = payload
        job.max_retry = max_retry
        job.id = new_job_id()
        job.status = _PENDING
        job.attempts = 0
        job.error = None
        job.created_at = job.updated_at = _clock(_UTC)
        job.next_attempt_at = None
        return job

    def __repr__(self) -> str:
        return (
            f"<Job {self.id[:8]} {self.type!r} {self.status.value}"
            f" attempts={self.attempts}/{self.max_retry}>"
        )

    def change_status(self, status: JobStatus) -> None:
        """Move to *status*, or raise ``InvalidTransition`` if the state machine forbids it."""
        if status not in _TRANSITIONS[self.status]:
            raise InvalidTransition(self.status, status)
        self.status = status
        self.updated_at = _clock(_UTC)

    def mark_running(self) -> None:
        """PENDING -> PROCESSING, counting one more attempt."""
        self.change_status(_PROCESSING)
        self.attempts += 1
        self.next_attempt_at = None

    def mark_completed(self) -> None:
        """PROCESSING -> COMPLETED, clearing the error of any earlier attempt."""
        self.change_status(_COMPLETED)
        self.error = None

    def mark_failed(self, err: BaseException | str, *, retry: bool = True) -> None:
        """Record a failed attempt: back to PENDING if attempts are left, else FAILED.

        Never raises for any *err*: the text recorded is ``error_text(err)``, which
        survives an exception whose ``str()`` raises, escapes lone surrogates and cuts
        a text longer than ``MAX_ERROR_LENGTH`` characters.

        Args:
            err: the exception the handler raised (recorded as ``"ValueError: boom"``)
                or a message.
            retry: False for failures that another attempt cannot fix (no handler for
                the type): the job fails at once.

        Raises:
            InvalidTransition: the job is not PROCESSING.
        """
        self.error = error_text(err)
        if retry and self.can_retry():
            self.change_status(_PENDING)
        else:
            self.change_status(JobStatus.FAILED)

    def cancel(self) -> None:
        """PENDING -> CANCELLED: the queue stopped before this job (or its retry) started."""
        self.change_status(JobStatus.CANCELLED)
        self.next_attempt_at = None

    def can_retry(self) -> bool:
        """True while fewer than ``max_retry`` attempts have been made."""
        return self.attempts < self.max_retry

    def backoff_duration(self) -> float:
        """The tutorial's wait before the next attempt: ``attempts ** 2`` seconds.

        Never more than ``goqueue.backoff.MAX_DELAY`` (365 days).

        >>> job = Job(type="email", max_retry=5)
        >>> [(job.mark_running(), job.backoff_duration(), job.mark_failed("x"))[1]
        ...  for _ in range(4)]
        [1.0, 4.0, 9.0, 16.0]
        """
        return float(min(self.attempts**2, MAX_DELAY))

    def copy(self) -> Job:
        """An independent snapshot: changing it (payload included) changes nothing else."""
        # Field by field (a Job has ``__slots__``, no ``__dict__``): every field is
        # listed; tests/test_job.py checks that none is missed.
        clone = object.__new__(Job)
        clone.type = self.type
        clone.payload = copy_payload(self.payload)
        clone.max_retry = self.max_retry
        clone.id = self.id
        clone.status = self.status
        clone.attempts = self.attempts
        clone.error = self.error
        clone.created_at = self.created_at
        clone.updated_at = self.updated_at
        clone.next_attempt_at = self.next_attempt_at
        return clone
