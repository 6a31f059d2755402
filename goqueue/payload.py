"""Payloads: checked once at submit, then copied whenever they cross a thread boundary.

A payload is a ``dict`` with string keys whose values are JSON values (``None``, ``bool``,
``int``, ``float``, ``str``, lists and dicts of those). That is what every storage can hold,
the in-memory one and SQLite alike, so a job that works in a test works in production.
Checking at submit means a bad payload is refused before anything is accepted, with the
path of the offending value in the message, instead of failing later inside a worker.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import PayloadNotStorable

__all__ = ["copy_payload", "validate_payload"]

_SCALARS = (str, int, float, bool, type(None))


def validate_payload(payload: object) -> dict[str, Any]:
    """Check that *payload* can be stored, and return it.

    Args:
        payload: the job's payload.

    Returns:
        The same object, now known to be a JSON-compatible ``dict``.

    Raises:
        TypeError: the payload is not a ``dict``.
        PayloadNotStorable: a key is not a string or a value is not JSON; the message names
            the path, e.g. ``"payload['when'] is a datetime, which cannot be stored as JSON"``.

    >>> validate_payload({"to": "ada@example.com", "tries": [1, 2]})
    {'to': 'ada@example.com', 'tries': [1, 2]}
    >>> validate_payload({"n": {1, 2}})
    Traceback (most recent call last):
      ...
    goqueue.errors.PayloadNotStorable: payload['n'] is a set, which cannot be stored as JSON
    """
    if not isinstance(payload, dict):
        raise TypeError(f"payload must be a dict, got {type(payload).__name__}")
    _check(payload, "payload")
    return payload


def _check(value: object, path: str) -> None:
    if isinstance(value, _SCALARS):
        if isinstance(value, float) and not math.isfinite(value):
            raise PayloadNotStorable(f"{path} is {value!r}, which cannot be stored as JSON")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise PayloadNotStorable(
                    f"{path} has a key {key!r} of type {type(key).__name__}; keys must be str"
                )
            _check(item, f"{path}[{key!r}]")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    raise PayloadNotStorable(f"{path} is a {type(value).__name__}, which cannot be stored as JSON")


def copy_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Return a deep copy of a validated payload (faster than ``copy.deepcopy``).

    >>> original = {"to": ["ada"]}
    >>> copied = copy_payload(original)
    >>> copied["to"].append("grace")
    >>> original
    {'to': ['ada']}
    """
    if not payload:  # no arguments: nothing to look through
        return {}
    copied = payload.copy()  # one C call copies a flat payload, the common case
    for key, value in copied.items():
        if isinstance(value, (dict, list, tuple)):
            copied[key] = _copy(value)  # replacing a key's value while iterating is allowed
    return copied


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(item) for item in value]
    return value
