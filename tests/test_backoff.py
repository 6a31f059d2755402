"""Backoff policies: the delays they give and the arguments they refuse."""

from __future__ import annotations

import pytest

from goqueue.backoff import Constant, EqualJitter, Exponential, FullJitter, Quadratic


def test_constant() -> None:
    assert [Constant()(n) for n in (1, 5)] == [0.0, 0.0]
    assert [Constant(0.25)(n) for n in (1, 5)] == [0.25, 0.25]


def test_quadratic_is_the_tutorials_attempts_squared() -> None:
    assert [Quadratic()(n) for n in (1, 2, 3, 4)] == [1.0, 4.0, 9.0, 16.0]
    assert [Quadratic(base=0.5)(n) for n in (1, 2, 3)] == [0.5, 2.0, 4.5]


def test_exponential_doubles_up_to_its_cap() -> None:
    policy = Exponential(base=0.5, cap=3.0)
    assert [policy(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert Exponential(base=1.0, factor=3.0, cap=100.0)(3) == 9.0
    assert Exponential()(10_000) == 60.0
    assert Exponential(base=0.0)(10_000) == 0.0


def test_full_jitter_stays_between_zero_and_the_policy_and_varies() -> None:
    policy = FullJitter(Exponential(base=1.0, cap=8.0), seed=7)
    delays = [policy(4) for _ in range(200)]
    assert all(0.0 <= d <= 8.0 for d in delays)
    assert len(set(delays)) > 100
    again = FullJitter(Exponential(base=1.0, cap=8.0), seed=7)
    assert [again(4) for _ in range(200)] == delays


def test_equal_jitter_stays_in_the_upper_half() -> None:
    policy = EqualJitter(Constant(2.0), seed=3)
    delays = [policy(1) for _ in range(200)]
    assert all(1.0 <= d <= 2.0 for d in delays)
    assert len(set(delays)) > 100


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Constant(-1), r"^seconds must be >= 0, got -1$"),
        (lambda: Quadratic(base=-0.5), r"^base must be >= 0, got -0.5$"),
        (lambda: Exponential(base=-1), r"^base must be >= 0, got -1$"),
        (lambda: Exponential(cap=-2), r"^cap must be >= 0, got -2$"),
        (lambda: Exponential(factor=0.5), r"^factor must be >= 1, got 0.5$"),
    ],
)
def test_bad_arguments_are_refused(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]
