"""Backoff policies: the delays they give and the arguments they refuse."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goqueue.backoff import (
    MAX_DELAY,
    BackoffPolicy,
    Constant,
    EqualJitter,
    Exponential,
    FullJitter,
    Quadratic,
    checked_delay,
)


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


FIELDS = [
    (Constant, "seconds"),
    (Quadratic, "base"),
    (Exponential, "base"),
    (Exponential, "factor"),
    (Exponential, "cap"),
]


@pytest.mark.parametrize(("policy", "name"), FIELDS)
@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (math.nan, "nan"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        pytest.param(10**400, "an int of 1329 bits", id="10**400"),
    ],
)
def test_a_field_that_is_not_finite_is_refused(
    policy: Callable[..., object], name: str, value: float, shown: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be finite, got {shown}$"):
        policy(**{name: value})


@pytest.mark.parametrize(("policy", "name"), FIELDS)
@pytest.mark.parametrize(
    ("value", "type_name"), [(True, "bool"), ("1", "str"), (None, "NoneType"), (1j, "complex")]
)
def test_a_field_that_is_not_a_number_is_refused(
    policy: Callable[..., object], name: str, value: object, type_name: str
) -> None:
    with pytest.raises(TypeError, match=rf"^{name} must be a number, got {type_name}$"):
        policy(**{name: value})


def test_fields_are_stored_as_floats() -> None:
    assert Constant(2) == Constant(2.0) and isinstance(Constant(2).seconds, float)
    assert Exponential(base=Fraction(1, 2), cap=3)(3) == 2.0  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "policy",
    [
        Constant(1e300),
        Quadratic(base=1e300),
        Exponential(base=1e300, cap=1e300),
        Exponential(factor=1e300, cap=1e300),
        Exponential(base=5e-324, factor=2.0, cap=1e300),
    ],
    ids=repr,
)
@pytest.mark.parametrize("attempts", [1, 10**6, 10**9, 10**400])
def test_huge_delays_are_capped_at_max_delay_without_overflow(
    policy: BackoffPolicy, attempts: int
) -> None:
    delay = policy(attempts)
    assert type(delay) is float
    assert 0.0 <= delay <= MAX_DELAY
    if attempts >= 10**6:
        assert delay == MAX_DELAY


def test_max_delay_is_a_year() -> None:
    assert MAX_DELAY == 365 * 24 * 3600
    # What the scheduler does with a delay must work for the largest one.
    assert datetime.max - datetime(9000, 1, 1) > timedelta(seconds=MAX_DELAY)


def test_a_tiny_base_with_a_huge_power_is_computed_not_capped() -> None:
    # 2.0 ** 1070 overflows a float; 5e-324 * 2 ** 1070 is about 0.06 s.
    assert Exponential(base=5e-324, factor=2.0)(1071) == pytest.approx(0.0625, rel=0.01)


def test_checked_delay_passes_good_delays_through_as_floats() -> None:
    assert checked_delay(Quadratic(), 3) == 9.0
    assert checked_delay(lambda attempts: 5, 1) == 5.0
    assert type(checked_delay(lambda attempts: 5, 1)) is float
    assert checked_delay(lambda attempts: Fraction(1, 4), 1) == 0.25  # type: ignore[arg-type, return-value]
    assert str(checked_delay(lambda attempts: -0.0, 1)) == "0.0"


@pytest.mark.parametrize("huge", [math.inf, 1e300, 10**400, MAX_DELAY + 1])
def test_checked_delay_clamps_huge_delays_to_max_delay(huge: float) -> None:
    assert checked_delay(lambda attempts: huge, 1) == MAX_DELAY


@pytest.mark.parametrize(
    ("returned", "shown"),
    [
        (math.nan, "nan"),
        (-1, "-1"),
        (-math.inf, "-inf"),
        (-(10**400), "an int of 1329 bits"),
        ("3", "'3'"),
        (None, "None"),
        (True, "True"),
        (timedelta(seconds=1), re.escape("datetime.timedelta(seconds=1)")),
    ],
    ids=str,
)
def test_checked_delay_refuses_what_is_not_a_delay_naming_the_policy(
    returned: object, shown: str
) -> None:
    def policy(attempts: int) -> object:
        return returned

    name = re.escape(policy.__qualname__)  # e.g. test_...naming_the_policy.<locals>.policy
    with pytest.raises(
        ValueError,
        match=rf"^backoff policy {name} returned {shown} for attempts=2;"
        r" a delay must be a number of seconds >= 0$",
    ):
        checked_delay(policy, 2)  # type: ignore[arg-type]


class Backwards:
    """A policy object (not a function): named by its repr."""

    def __repr__(self) -> str:
        return "Backwards()"

    def __call__(self, attempts: int) -> float:
        return -float(attempts)


def test_checked_delay_names_a_policy_object_by_its_repr() -> None:
    with pytest.raises(
        ValueError,
        match=r"^backoff policy Backwards\(\) returned -3\.0 for attempts=3;"
        r" a delay must be a number of seconds >= 0$",
    ):
        checked_delay(Backwards(), 3)


def test_checked_delay_lets_an_exception_of_the_policy_through() -> None:
    def broken(attempts: int) -> float:
        raise ZeroDivisionError("policy bug")

    with pytest.raises(ZeroDivisionError, match=r"^policy bug$"):
        checked_delay(broken, 1)


@pytest.mark.parametrize("wrapper", [FullJitter, EqualJitter])
def test_jitter_stays_within_max_delay_and_refuses_a_bad_inner_delay(
    wrapper: Callable[..., BackoffPolicy],
) -> None:
    assert all(0.0 <= wrapper(lambda n: math.inf, seed=n)(1) <= MAX_DELAY for n in range(50))
    with pytest.raises(
        ValueError, match=r"^backoff policy \S+<lambda> returned nan for attempts=1;"
    ):
        wrapper(lambda n: math.nan)(1)
    with pytest.raises(TypeError, match=r"^policy must be callable, got 3$"):
        wrapper(3)


# Property tests: for every valid policy and attempts from 1 to 10**9, the delay is a
# finite float in [0, MAX_DELAY], and never shrinks as attempts grow.
fields = st.one_of(
    st.floats(min_value=0.0, max_value=1e308, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=10**300),
)
factors = st.floats(min_value=1.0, max_value=1e308, allow_nan=False, allow_infinity=False)
plain_policies = st.one_of(
    st.builds(Constant, fields),
    st.builds(Quadratic, fields),
    st.builds(Exponential, fields, factors, fields),
)
policies = st.one_of(
    plain_policies,
    st.builds(FullJitter, plain_policies, st.integers()),
    st.builds(EqualJitter, plain_policies, st.integers()),
)
attempt_counts = st.integers(min_value=1, max_value=10**9)


@settings(max_examples=500, deadline=None)
@given(policies, attempt_counts)
def test_every_policy_gives_a_usable_delay(policy: BackoffPolicy, attempts: int) -> None:
    delay = policy(attempts)
    assert type(delay) is float
    assert 0.0 <= delay <= MAX_DELAY
    assert checked_delay(policy, attempts) <= MAX_DELAY


@settings(max_examples=500, deadline=None)
@given(plain_policies, attempt_counts, attempt_counts)
def test_plain_policies_never_shrink_as_attempts_grow(
    policy: BackoffPolicy, first: int, second: int
) -> None:
    low, high = sorted((first, second))
    assert policy(low) <= policy(high)
