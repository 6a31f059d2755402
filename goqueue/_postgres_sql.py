"""The SQL of ``PostgresStorage`` and its row codecs: what the tables look like, every
statement it sends, and how a row becomes a ``Job`` and an outcome a row.

Kept apart from ``goqueue.postgres_storage`` so that the storage reads as what it does
(connections, errors, leases, batches) and this as what it says to the server. Names of
schemas are checked identifiers (see ``PostgresStorage``); values always go as parameters.
"""

from __future__ import annotations

from typing import Any

from .job import Job, JobStatus

__all__ = ["CREATE", "Statements", "job_from_row", "outcome_row"]

# {s} is the schema. payload is ``json``, not ``jsonb``: it keeps the keys in their order.
# The script is run split at every ";": none may stand in a comment.
CREATE = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.version (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.jobs (
    seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- insertion order
    id               text NOT NULL UNIQUE,
    type             text NOT NULL,
    payload          json NOT NULL,
    max_retry        integer NOT NULL,
    status           text NOT NULL,
    attempts         integer NOT NULL,
    error            text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    next_attempt_at  timestamptz,
    owner            text,          -- the PostgresStorage.owner running it
    lease_expires_at timestamptz    -- by the server's clock
);
-- Partial: a change of status is never a HOT update (status is indexed), so every claim
-- and every outcome would add an entry to a full (status, seq) index. This one only gets
-- entries for rows that become pending.
CREATE INDEX IF NOT EXISTS jobs_pending ON {s}.jobs (seq) WHERE status = 'pending';
"""

_COLUMNS = (
    "id, type, payload, max_retry, status, attempts, error, created_at, updated_at, next_attempt_at"
)

_PENDING = JobStatus.PENDING.value
_PROCESSING = JobStatus.PROCESSING.value
_CANCELLED = JobStatus.CANCELLED.value
_FAILED = JobStatus.FAILED.value
# Statuses an unreadable row keeps (as in SQLiteStorage): its owner rewrites a running
# job's whole row, and a finished job stays finished. A pending row, or one with no known
# status, is failed.
_KEEP_WHEN_UNREADABLE = ", ".join(f"'{s.value}'" for s in JobStatus if s is not JobStatus.PENDING)


class Statements:
    """The SQL of one schema, composed once (the names are checked identifiers)."""

    def __init__(self, s: str, channel: str) -> None:
        jobs = f"{s}.jobs"
        lease_end = "clock_timestamp() + %s * interval '1 second'"
        # Pending saves notify in the same statement: sent when it commits.
        self.save = (
            f"WITH saved AS (INSERT INTO {jobs} ({_COLUMNS}, owner, lease_expires_at)"
            " VALUES (%s, %s, %s::json, %s, %s, %s, %s, %s, %s, %s, %s,"
            f" {lease_end}) ON CONFLICT (id) DO UPDATE SET type = excluded.type,"
            " payload = excluded.payload, max_retry = excluded.max_retry,"
            " status = excluded.status, attempts = excluded.attempts, error = excluded.error,"
            " created_at = excluded.created_at, updated_at = excluded.updated_at,"
            " next_attempt_at = excluded.next_attempt_at, owner = excluded.owner,"
            " lease_expires_at = excluded.lease_expires_at RETURNING status)"
            f" SELECT pg_notify('{channel}', '') FROM saved WHERE status = '{_PENDING}'"
        )
        self.update = (
            f"WITH changed AS (UPDATE {jobs} SET type = %s, payload = %s::json,"
            " max_retry = %s, status = %s, attempts = %s, error = %s, created_at = %s,"
            f" updated_at = %s, next_attempt_at = %s, owner = %s, lease_expires_at = {lease_end}"
            " WHERE id = %s RETURNING status)"
            f" SELECT status, CASE WHEN status = '{_PENDING}' THEN pg_notify('{channel}', '')"
            " END FROM changed"
        )
        # Lock order (see the postgres_storage docstring): the statements that must wait
        # for a row lock their rows by id first; the others skip a locked row.
        in_order = f"SELECT seq FROM {jobs} WHERE id = ANY(%s::text[])"
        locked = " ORDER BY id FOR UPDATE"
        # Outcomes of many runs (hand_over_jobs): one array a column, no owner or lease
        # left; the ids stored, and one notice if a retry is among them. A row another
        # owner holds is left alone: its lease ran out here and that owner runs it now.
        self.hand_over = (
            "WITH v AS (SELECT e->>0 AS id, e->>1 AS type, e->2 AS payload,"
            " (e->>3)::integer AS max_retry, e->>4 AS status, (e->>5)::integer AS attempts,"
            " e->>6 AS error, (e->>7)::timestamptz AS created_at,"
            " (e->>8)::timestamptz AS updated_at, (e->>9)::timestamptz AS next_attempt_at"
            f" FROM json_array_elements(%s::json) AS e), mine AS ({in_order}"
            f" AND (owner IS NULL OR owner = %s){locked}),"
            f" changed AS (UPDATE {jobs} AS j"
            " SET type = v.type, payload = v.payload, max_retry = v.max_retry,"
            " status = v.status, attempts = v.attempts, error = v.error,"
            " created_at = v.created_at, updated_at = v.updated_at,"
            " next_attempt_at = v.next_attempt_at, owner = NULL, lease_expires_at = NULL"
            " FROM v, mine WHERE j.seq = mine.seq AND j.id = v.id RETURNING j.id, j.status)"
            f" SELECT id, CASE WHEN status = '{_PENDING}' THEN pg_notify('{channel}', '') END"
            " FROM changed"
        )
        self.get = f"SELECT {_COLUMNS} FROM {jobs} WHERE id = %s"
        self.owners = f"SELECT id, owner FROM {jobs} WHERE id = ANY(%s::text[])"
        # Job.mark_running in SQL: processing, one more attempt, no due time.
        self.claim = (
            f"UPDATE {jobs} SET status = '{_PROCESSING}', attempts = attempts + 1,"
            f" updated_at = %s, next_attempt_at = NULL, owner = %s, lease_expires_at = {lease_end}"
            f" WHERE seq = (SELECT seq FROM {jobs} WHERE id = %s AND status = '{_PENDING}'"
            f" FOR UPDATE SKIP LOCKED) RETURNING {_COLUMNS}"
        )
        # A pool's feeder claims many due jobs at once (reserve_due): the oldest that no
        # other claim holds right now, each as claim does; the seq orders them.
        self.reserve = (
            f"WITH due AS (SELECT seq FROM {jobs} WHERE status = '{_PENDING}'"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= now())"
            " ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED)"
            f" UPDATE {jobs} AS j SET status = '{_PROCESSING}', attempts = j.attempts + 1,"
            " updated_at = %s, next_attempt_at = NULL, owner = %s,"
            f" lease_expires_at = {lease_end} FROM due WHERE j.seq = due.seq"
            f" RETURNING j.seq, {', '.join('j.' + c for c in _COLUMNS.split(', '))}"
        )
        # Reserved jobs not run here go back, their attempt returned; waiting pools are
        # told.
        self.release = (
            f"WITH mine AS ({in_order} AND owner = %s AND status = '{_PROCESSING}'{locked}),"
            f" back AS (UPDATE {jobs} AS j SET status = '{_PENDING}',"
            " attempts = j.attempts - 1, owner = NULL, lease_expires_at = NULL"
            " FROM mine WHERE j.seq = mine.seq RETURNING 1)"
            f" SELECT pg_notify('{channel}', '') FROM (SELECT 1 FROM back LIMIT 1) AS any_back"
        )
        # A reserved job cancelled before it started: its attempt returned.
        self.cancel_reserved = (
            f"UPDATE {jobs} SET status = '{_CANCELLED}', attempts = attempts - 1,"
            " updated_at = %s, owner = NULL, lease_expires_at = NULL WHERE id = %s"
            f" AND owner = %s AND status = '{_PROCESSING}' RETURNING {_COLUMNS}"
        )
        # An unreadable reserved row (a claim cannot hand it to a worker): failed.
        self.fail_reserved = (
            f"UPDATE {jobs} SET status = '{_FAILED}', error = %s, updated_at = %s,"
            " owner = NULL, lease_expires_at = NULL WHERE id = %s AND owner = %s"
            f" AND status = '{_PROCESSING}'"
        )
        # Job.cancel in SQL. Waits for a claim under way (which then wins).
        self.cancel = (
            f"UPDATE {jobs} SET status = '{_CANCELLED}', updated_at = %s,"
            f" next_attempt_at = NULL WHERE id = %s AND status = '{_PENDING}'"
            f" RETURNING {_COLUMNS}"
        )
        self.list_all = f"SELECT {_COLUMNS} FROM {jobs} ORDER BY seq"
        self.list_status = f"SELECT {_COLUMNS} FROM {jobs} WHERE status = %s ORDER BY seq"
        # The batch: due jobs first (oldest first), then retries by due time; returned
        # in saving order.
        self.pending = (
            f"SELECT id, type, next_attempt_at FROM (SELECT seq, id, type, next_attempt_at"
            f" FROM {jobs} WHERE status = '{_PENDING}' ORDER BY"
            " greatest(next_attempt_at, now()), seq"
            " LIMIT %s) AS batch ORDER BY seq"
        )
        self.count = f"SELECT count(*) FROM {jobs}"
        self.clear = f"DELETE FROM {jobs}"
        # How many came back; one notice for all of them.
        self.recover = (
            f"WITH lapsed AS (SELECT seq FROM {jobs} WHERE status = '{_PROCESSING}'"
            " AND (owner IS NULL OR lease_expires_at IS NULL"
            " OR lease_expires_at <= clock_timestamp())"
            " AND NOT (owner IS NOT DISTINCT FROM %s AND id = ANY(%s))"
            f" FOR UPDATE SKIP LOCKED), taken AS (UPDATE {jobs} AS j"
            f" SET status = '{_PENDING}', error = %s, owner = NULL, lease_expires_at = NULL"
            " FROM lapsed WHERE j.seq = lapsed.seq RETURNING 1),"
            " counted AS (SELECT count(*) AS n FROM taken)"
            f" SELECT n, CASE WHEN n > 0 THEN pg_notify('{channel}', '') END FROM counted"
        )
        self.renew = (
            f"WITH mine AS (SELECT seq FROM {jobs} WHERE owner = %s"
            f" AND status = '{_PROCESSING}' AND id = ANY(%s) FOR UPDATE SKIP LOCKED)"
            f" UPDATE {jobs} AS j SET lease_expires_at = {lease_end}"
            " FROM mine WHERE j.seq = mine.seq"
        )
        self.end_leases = (
            f"WITH mine AS (SELECT seq FROM {jobs} WHERE owner = %s"
            f" AND status = '{_PROCESSING}' FOR UPDATE SKIP LOCKED)"
            f" UPDATE {jobs} AS j SET lease_expires_at = clock_timestamp()"
            " FROM mine WHERE j.seq = mine.seq"
        )
        self.fail_unreadable = (
            f"UPDATE {jobs} SET status = '{_FAILED}', error = %s, updated_at = %s,"
            " owner = NULL, lease_expires_at = NULL WHERE id = %s"
            f" AND status NOT IN ({_KEEP_WHEN_UNREADABLE})"
        )


def outcome_row(job: Job) -> list[Any]:
    """A run's outcome as a JSON array, in the columns' order (see ``hand_over_jobs``)."""
    due = job.next_attempt_at
    return [
        job.id,
        job.type,
        job.payload,
        job.max_retry,
        job.status.value,
        job.attempts,
        job.error,
        job.created_at.isoformat(),
        job.updated_at.isoformat(),
        None if due is None else due.isoformat(),
    ]


def job_from_row(row: tuple[Any, ...]) -> Job:
    """The job a row holds; ``ValueError`` naming the first wrong column if it cannot."""
    job_id, job_type, payload, max_retry, status, attempts, error, created, updated, due = row
    if not isinstance(payload, dict):
        kind = "a JSON array" if isinstance(payload, list) else "not a JSON object"
        raise ValueError(f"payload is {kind}, not an object")
    try:
        state = JobStatus(status)
    except ValueError:
        raise ValueError(f"unknown status {status!r}") from None
    try:
        return Job(
            id=job_id,
            type=job_type,
            payload=payload,
            max_retry=max_retry,
            status=state,
            attempts=attempts,
            error=error,
            created_at=created,
            updated_at=updated,
            next_attempt_at=due,
        )
    except (TypeError, ValueError) as err:
        raise ValueError(str(err)) from None
