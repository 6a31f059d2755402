"""Payloads: validated at submit with the offending path named, copied deeply."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pytest

from goqueue import PayloadNotStorable
from goqueue.payload import copy_payload, validate_payload


def test_json_values_are_accepted_and_returned_as_is() -> None:
    payload = {"s": "x", "i": 1, "f": 1.5, "b": True, "n": None, "l": [1, [2]], "d": {"k": {}}}
    assert validate_payload(payload) is payload


@pytest.mark.parametrize(("bad", "name"), [([1], "list"), ("x", "str"), (None, "NoneType")])
def test_payload_must_be_a_dict(bad: object, name: str) -> None:
    with pytest.raises(TypeError, match=rf"^payload must be a dict, got {name}$"):
        validate_payload(bad)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"when": datetime(2030, 1, 1)}, r"payload\['when'\] is a datetime"),
        ({"n": {1, 2}}, r"payload\['n'\] is a set"),
        ({"a": [1, {"b": b"x"}]}, r"payload\['a'\]\[1\]\['b'\] is a bytes"),
        ({"a": {"b": [object()]}}, r"payload\['a'\]\['b'\]\[0\] is a object"),
    ],
)
def test_a_value_json_cannot_hold_is_refused_naming_its_path(
    payload: dict[str, object], message: str
) -> None:
    with pytest.raises(PayloadNotStorable, match=rf"^{message}, which cannot be stored as JSON$"):
        validate_payload(payload)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused(value: float) -> None:
    with pytest.raises(
        PayloadNotStorable,
        match=rf"^payload\['x'\]\[0\] is {value!r}, which cannot be stored as JSON$",
    ):
        validate_payload({"x": [value]})


def test_keys_must_be_strings_at_every_level() -> None:
    with pytest.raises(
        PayloadNotStorable, match=r"^payload\['outer'\] has a key 1 of type int; keys must be str$"
    ):
        validate_payload({"outer": {1: "x"}})


def test_payload_not_storable_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        validate_payload({"x": {1, 2}})


def test_copy_payload_is_deep_and_turns_tuples_into_lists() -> None:
    original = {"l": [1, {"d": [2]}], "t": (3, 4), "s": "x"}
    copied = copy_payload(original)
    assert copied == {"l": [1, {"d": [2]}], "t": [3, 4], "s": "x"}
    copied["l"][1]["d"].append(5)
    copied["l"].append(6)
    assert original == {"l": [1, {"d": [2]}], "t": (3, 4), "s": "x"}


def test_copy_payload_of_an_empty_payload_is_a_new_dict() -> None:
    empty: dict[str, Any] = {}
    copied = copy_payload(empty)
    copied["added"] = 1
    assert copied is not empty and empty == {}
