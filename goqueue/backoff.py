"""How long a failed job waits before its next attempt.

A backoff policy is any callable ``policy(attempts) -> seconds``, where *attempts* is the
number of attempts made so far (1 after the first failure). The queue never sleeps a worker
for it: the retry is scheduled, and the worker moves on to other jobs.

* ``Quadratic`` is the tutorial's ``attempts² × base`` (1 s, 4 s, 9 s … with base 1).
* ``Exponential`` doubles each time up to a cap, the usual choice for remote services.
* ``FullJitter`` and ``EqualJitter`` randomise another policy's delay, so that jobs which
  failed together (an outage) do not all retry at the same instant — the "thundering herd".
  See the AWS Architecture Blog, "Exponential Backoff and Jitter" (2015).

>>> [Quadratic()(n) for n in (1, 2, 3)]
[1.0, 4.0, 9.0]
>>> [Exponential(base=0.5, cap=3.0)(n) for n in (1, 2, 3, 4, 5)]
[0.5, 1.0, 2.0, 3.0, 3.0]
>>> 0.0 <= FullJitter(Exponential(), seed=1)(3) <= 4.0
True
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "BackoffPolicy",
    "Constant",
    "EqualJitter",
    "Exponential",
    "FullJitter",
    "Quadratic",
]

#: ``policy(attempts) -> seconds to wait before the next attempt``
BackoffPolicy = Callable[[int], float]


def _check_non_negative(name: str, value: float) -> None:
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


@dataclass(frozen=True)
class Constant:
    """Always the same delay (``Constant(0)``: retry at once)."""

    seconds: float = 0.0

    def __post_init__(self) -> None:
        _check_non_negative("seconds", self.seconds)

    def __call__(self, attempts: int) -> float:
        return float(self.seconds)


@dataclass(frozen=True)
class Quadratic:
    """The tutorial's ``Job.BackoffDuration``: ``attempts ** 2 * base`` seconds, no cap."""

    base: float = 1.0

    def __post_init__(self) -> None:
        _check_non_negative("base", self.base)

    def __call__(self, attempts: int) -> float:
        return float(attempts**2 * self.base)


@dataclass(frozen=True)
class Exponential:
    """``base * factor ** (attempts - 1)`` seconds, never more than *cap*."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0

    def __post_init__(self) -> None:
        _check_non_negative("base", self.base)
        _check_non_negative("cap", self.cap)
        if self.factor < 1:
            raise ValueError(f"factor must be >= 1, got {self.factor}")

    def __call__(self, attempts: int) -> float:
        exponent = max(attempts - 1, 0)
        # Compare in log space first so large attempt counts cannot overflow.
        if self.base == 0 or exponent > 1000:
            return float(self.cap if self.base else 0.0)
        return float(min(self.cap, self.base * self.factor**exponent))


@dataclass(frozen=True)
class FullJitter:
    """A uniformly random delay between 0 and what *policy* says."""

    policy: BackoffPolicy
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rng", random.Random(self.seed))

    def __call__(self, attempts: int) -> float:
        return self._rng.uniform(0.0, self.policy(attempts))


@dataclass(frozen=True)
class EqualJitter:
    """Half of what *policy* says, plus a random part up to the other half."""

    policy: BackoffPolicy
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rng", random.Random(self.seed))

    def __call__(self, attempts: int) -> float:
        half = self.policy(attempts) / 2
        return half + self._rng.uniform(0.0, half)
