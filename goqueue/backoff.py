"""How long a failed job waits before its next attempt.

A backoff policy is any callable ``policy(attempts) -> seconds``, where *attempts* is the
number of attempts made so far (1 after the first failure). The queue never sleeps a worker
for it: the retry is scheduled, and the worker moves on to other jobs.

* ``Quadratic`` is the tutorial's ``attempts² × base`` (1 s, 4 s, 9 s … with base 1).
* ``Exponential`` doubles each time up to a cap, the usual choice for remote services.
* ``FullJitter`` and ``EqualJitter`` randomise another policy's delay, so that jobs which
  failed together (an outage) do not all retry at the same instant — the "thundering herd".
  See the AWS Architecture Blog, "Exponential Backoff and Jitter" (2015).

Every policy here refuses a field that is not a finite number >= 0 when it is built, and
never returns more than ``MAX_DELAY`` (365 days): a delay the scheduler can always add to
a date. ``checked_delay`` holds any other policy (a user's lambda) to the same bounds.

>>> [Quadratic()(n) for n in (1, 2, 3)]
[1.0, 4.0, 9.0]
>>> [Exponential(base=0.5, cap=3.0)(n) for n in (1, 2, 3, 4, 5)]
[0.5, 1.0, 2.0, 3.0, 3.0]
>>> 0.0 <= FullJitter(Exponential(), seed=1)(3) <= 4.0
True
>>> Quadratic(base=1e300)(10**6) == MAX_DELAY
True
"""

from __future__ import annotations

import math
import numbers
import random
import types
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "MAX_DELAY",
    "BackoffPolicy",
    "Constant",
    "EqualJitter",
    "Exponential",
    "FullJitter",
    "Quadratic",
    "checked_delay",
]

#: The longest wait before a retry, in seconds (365 days): every policy here stays below
#: it, and ``checked_delay`` clamps what any other policy returns to it.
MAX_DELAY = 365 * 24 * 3600.0

#: ``policy(attempts) -> seconds to wait before the next attempt``
BackoffPolicy = Callable[[int], float]


def checked_delay(policy: BackoffPolicy, attempts: int) -> float:
    """Call *policy* for *attempts* and return its delay as a float in [0, MAX_DELAY].

    An infinite or larger delay is clamped to ``MAX_DELAY``; a delay that is not a
    number, is NaN or is negative is refused. An exception the policy raises passes
    through unchanged.

    Args:
        policy: any backoff policy, the ones here or a user's callable.
        attempts: the attempts made so far (>= 1).

    Returns:
        The delay in seconds, finite, between 0 and ``MAX_DELAY``.

    Raises:
        ValueError: the policy returned something other than a number >= 0 (a ``bool``
            included); the message names the policy and the value.

    >>> checked_delay(Quadratic(), 3)
    9.0
    >>> checked_delay(lambda attempts: float("inf"), 1) == MAX_DELAY
    True
    """
    delay: object = policy(attempts)
    if delay.__class__ is float and 0.0 <= delay <= MAX_DELAY:
        return delay + 0.0  # the usual case, checked at once (+ 0.0: -0.0 becomes 0.0)
    seconds = math.nan
    if isinstance(delay, bool):
        pass  # a number to Python, but surely a mistake here
    elif isinstance(delay, int):
        if delay.bit_length() < 1000:  # float() raises past about 2**1024
            seconds = float(delay)
        else:
            seconds = math.inf if delay > 0 else -math.inf
    elif isinstance(delay, numbers.Real):  # float, a numpy float, Fraction
        seconds = float(delay)
    if seconds >= 0.0:  # False for nan
        return min(seconds, MAX_DELAY) + 0.0  # + 0.0: -0.0 becomes 0.0
    raise ValueError(
        f"backoff policy {_policy_name(policy)} returned {_short_repr(delay)} for"
        f" attempts={attempts}; a delay must be a number of seconds >= 0"
    )


def _policy_name(policy: object) -> str:
    """A function by its qualified name (``retry_policy``, ``<lambda>``); else its repr."""
    if isinstance(policy, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return policy.__qualname__
    return _short_repr(policy)


def _short_repr(value: object) -> str:
    if isinstance(value, int) and value.bit_length() > 256:
        return f"an int of {value.bit_length()} bits"  # repr() would raise past 4300 digits
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__name__}>"
    return text if len(text) <= 80 else f"{text[:70]}...{text[-7:]}"


def _finite(name: str, value: object) -> float:
    """*value* as a float, if it is a finite number >= 0; else raise naming *name*."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got {_short_repr(value)}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number!r}")
    if number < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return number


def _set(policy: object, name: str, value: float) -> None:
    object.__setattr__(policy, name, value)  # the dataclasses are frozen


@dataclass(frozen=True)
class Constant:
    """Always the same delay (``Constant(0)``: retry at once), at most ``MAX_DELAY``."""

    seconds: float = 0.0

    def __post_init__(self) -> None:
        _set(self, "seconds", _finite("seconds", self.seconds))

    def __call__(self, attempts: int) -> float:
        return min(self.seconds, MAX_DELAY)


@dataclass(frozen=True)
class Quadratic:
    """The tutorial's ``Job.BackoffDuration``: ``attempts ** 2 * base`` seconds.

    There is no cap but ``MAX_DELAY``.
    """

    base: float = 1.0

    def __post_init__(self) -> None:
        _set(self, "base", _finite("base", self.base))

    def __call__(self, attempts: int) -> float:
        if self.base == 0.0:
            return 0.0
        if attempts > 10**300:  # float() would raise; the delay is far past MAX_DELAY
            return MAX_DELAY
        steps = float(attempts)
        return min(steps * steps * self.base, MAX_DELAY)  # an overflow gives inf: no raise


@dataclass(frozen=True)
class Exponential:
    """``base * factor ** (attempts - 1)`` seconds, never more than *cap* (or MAX_DELAY)."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0

    def __post_init__(self) -> None:
        _set(self, "base", _finite("base", self.base))
        _set(self, "factor", _finite("factor", self.factor))
        _set(self, "cap", _finite("cap", self.cap))
        if self.factor < 1:
            raise ValueError(f"factor must be >= 1, got {self.factor}")

    def __call__(self, attempts: int) -> float:
        limit = min(self.cap, MAX_DELAY)
        if self.base == 0.0 or limit == 0.0:
            return 0.0
        # Far beyond any cap (the cap is at most MAX_DELAY), and still a float.
        exponent = min(max(attempts - 1, 0), 2**60)
        # factor ** exponent raises OverflowError when it is too large for a float, so
        # compare in log space first.
        log_delay = math.log(self.base) + exponent * math.log(self.factor)
        if log_delay >= math.log(limit):
            return limit
        try:
            return min(limit, self.base * self.factor**exponent)
        except OverflowError:  # a tiny base times a huge power
            return min(limit, math.exp(log_delay))


@dataclass(frozen=True)
class FullJitter:
    """A uniformly random delay between 0 and what *policy* says (see ``checked_delay``)."""

    policy: BackoffPolicy
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not callable(self.policy):
            raise TypeError(f"policy must be callable, got {_short_repr(self.policy)}")
        object.__setattr__(self, "_rng", random.Random(self.seed))

    def __call__(self, attempts: int) -> float:
        return min(self._rng.uniform(0.0, checked_delay(self.policy, attempts)), MAX_DELAY)


@dataclass(frozen=True)
class EqualJitter:
    """Half of what *policy* says, plus a random part up to the other half."""

    policy: BackoffPolicy
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not callable(self.policy):
            raise TypeError(f"policy must be callable, got {_short_repr(self.policy)}")
        object.__setattr__(self, "_rng", random.Random(self.seed))

    def __call__(self, attempts: int) -> float:
        half = checked_delay(self.policy, attempts) / 2
        return min(half + self._rng.uniform(0.0, half), MAX_DELAY)
