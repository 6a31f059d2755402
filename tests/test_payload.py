"""Payloads: validated at submit with the offending path named, copied deeply."""

from __future__ import annotations

import enum
import inspect
import json
import math
import os
import re
import sys
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goqueue import Job, JobStorage, PayloadNotStorable
from goqueue.payload import MAX_DEPTH, copy_payload, validate_payload

INT_MAX = 2**63 - 1  # what an SQLite INTEGER holds
INT_MIN = -(2**63)


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


def nested(levels: int, leaf: object = 1) -> dict[str, Any]:
    """A payload *levels* containers deep (the payload itself the first), dicts and lists."""
    value: object = leaf
    for level in range(levels - 1):
        value = {"a": value} if level % 2 else [value]
    return {"a": value}


def test_a_payload_max_depth_deep_is_accepted_and_copied() -> None:
    payload = nested(MAX_DEPTH)
    assert validate_payload(payload) is payload
    assert copy_payload(payload) == payload


def test_one_level_deeper_is_refused_naming_the_path() -> None:
    payload = nested(MAX_DEPTH + 1)
    path, value = "payload", payload
    for _ in range(MAX_DEPTH):  # down to the container at level 65
        key = "a" if isinstance(value, dict) else 0
        path, value = f"{path}[{key!r}]", value[key]
    assert isinstance(value, (dict, list))
    with pytest.raises(PayloadNotStorable) as info:
        validate_payload(payload)
    assert str(info.value) == f"{path} is nested deeper than 64 levels"


@pytest.mark.parametrize("levels", [500, 100_000])
def test_a_very_deep_payload_is_refused_without_recursion_error(levels: int) -> None:
    with pytest.raises(PayloadNotStorable, match=r" is nested deeper than 64 levels$"):
        validate_payload(nested(levels))


def test_copy_payload_needs_no_stack_depth() -> None:
    # A copy that recursed once per level would overflow here, 20 frames from the limit.
    payload = nested(MAX_DEPTH - 1, leaf=(1, 2))  # the tuple is the 64th level
    copies: list[dict[str, Any]] = []

    def at_depth(frames: int) -> None:
        if frames > 0:
            at_depth(frames - 1)
        else:
            copies.append(copy_payload(payload))

    at_depth(sys.getrecursionlimit() - len(inspect.stack()) - 20)
    assert copies == [nested(MAX_DEPTH - 1, leaf=[1, 2])]


def test_copy_payload_of_an_unvalidated_deep_payload_raises_as_validation_does() -> None:
    with pytest.raises(PayloadNotStorable, match=r" is nested deeper than 64 levels$"):
        copy_payload(nested(1_000))


def test_a_payload_that_contains_itself_is_refused_as_a_cycle() -> None:
    payload: dict[str, Any] = {"n": 1}
    payload["self"] = payload
    message = (
        r"^payload contains itself at payload\['self'\] \(a cycle\),"
        r" which cannot be stored as JSON$"
    )
    with pytest.raises(PayloadNotStorable, match=message):
        validate_payload(payload)
    with pytest.raises(PayloadNotStorable, match=message):
        copy_payload(payload)


def test_a_list_that_contains_itself_is_refused_as_a_cycle() -> None:
    loop: list[Any] = [1]
    loop.append({"back": loop})
    with pytest.raises(
        PayloadNotStorable,
        match=r"^payload\['l'\] contains itself at payload\['l'\]\[1\]\['back'\] \(a cycle\),"
        r" which cannot be stored as JSON$",
    ):
        validate_payload({"ok": [1, 2], "l": loop})


def test_the_same_list_twice_is_not_a_cycle() -> None:
    shared = [1, 2]
    assert validate_payload({"a": shared, "b": [shared, shared]})


@pytest.mark.parametrize("value", [INT_MAX, INT_MIN, 0, -1, True])
def test_ints_in_sqlite_range_are_accepted(value: int) -> None:
    assert validate_payload({"n": value, "deep": [value]})


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (INT_MAX + 1, "9223372036854775808"),
        (INT_MIN - 1, "-9223372036854775809"),
        pytest.param(10**5000, "an int of 16610 bits", id="10**5000"),
    ],
)
@pytest.mark.parametrize(("where", "path"), [("flat", r"\['n'\]"), ("nested", r"\['l'\]\[0\]")])
def test_ints_outside_64_bits_are_refused(value: int, shown: str, where: str, path: str) -> None:
    payload = {"n": value} if where == "flat" else {"l": [value]}
    with pytest.raises(
        PayloadNotStorable,
        match=rf"^payload{path} is {shown}, which does not fit in a signed 64-bit integer$",
    ):
        validate_payload(payload)


@pytest.mark.parametrize(("where", "path"), [("flat", r"\['s'\]"), ("nested", r"\['l'\]\[0\]")])
def test_a_string_with_a_lone_surrogate_is_refused(where: str, path: str) -> None:
    text = os.fsdecode(b"caf\xe9")  # what a file name that is not UTF-8 becomes: 'caf\udce9'
    payload = {"s": text} if where == "flat" else {"l": [text]}
    with pytest.raises(
        PayloadNotStorable,
        match=rf"^payload{path} is a str with a lone surrogate at index 3,"
        r" which cannot be encoded as UTF-8$",
    ):
        validate_payload(payload)


def test_a_key_with_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(
        PayloadNotStorable,
        match=r"^payload\['d'\] has a key 'x\\udc80' with a lone surrogate at index 1,"
        r" which cannot be encoded as UTF-8$",
    ):
        validate_payload({"d": {"ok": 1, "x\udc80": 2}})
    with pytest.raises(PayloadNotStorable, match=r"^payload has a key '\\ud800' with a lone"):
        validate_payload({"\ud800": 1})


@pytest.mark.parametrize("key", [1, None, True, ("a",), pytest.param(10**5000, id="10**5000")])
def test_keys_that_are_not_strings_are_refused_at_the_top_too(key: object) -> None:
    shown = "an int of 16610 bits" if key == 10**5000 else re.escape(repr(key))
    with pytest.raises(
        PayloadNotStorable,
        match=rf"^payload has a key {shown} of type {type(key).__name__}; keys must be str$",
    ):
        validate_payload({"ok": 1, key: "x"})


def test_text_beyond_ascii_that_encodes_is_accepted() -> None:
    payload = {"name": "Zoë 😀 中文", "ключ": ["ünïcode", {"é": "\x00"}]}
    assert validate_payload(payload) is payload


def test_a_long_key_is_shortened_in_the_message() -> None:
    key = "k" * 1000
    with pytest.raises(PayloadNotStorable) as info:
        validate_payload({key: {1, 2}})
    assert str(info.value) == (
        "payload['" + "k" * 49 + "...kkkkkk'] is a set, which cannot be stored as JSON"
    )


class Color(str, enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Meters(float):
    pass


# Every kind of value a payload may hold, including the ones JSON stores as something
# else (tuples become lists; subclasses of str, int, float become the plain value).
MIXED = {
    "s": "ada",
    "u": "Zoë 😀",
    "i": INT_MAX,
    "neg": INT_MIN,
    "f": 1.5,
    "b": False,
    "none": None,
    "t": (1, (2, 3)),
    "l": [1, {"d": (4,)}],
    "enum_str": Color.RED,
    "enum_int": Level.HIGH,
    "float_sub": Meters(2.5),
    "nested": {"color": Color.RED, "levels": [Level.HIGH]},
}


def shape(value: object) -> object:
    """*value* with every scalar paired with its exact type, to compare types as well."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return (type(value), [shape(item) for item in value])
    return (type(value), value)


def test_copy_payload_stores_what_json_stores() -> None:
    copied = copy_payload(validate_payload(MIXED))
    assert shape(copied) == shape(json.loads(json.dumps(MIXED)))


def test_every_storage_gives_back_the_same_payload(storage: JobStorage) -> None:
    # What submit_job does: validate, copy, build the job.
    job = Job._submitted("email", copy_payload(validate_payload(MIXED)), 1)
    storage.save_job(job)
    stored = storage.get_job(job.id)
    assert stored is not None
    assert shape(stored.payload) == shape(json.loads(json.dumps(MIXED)))


# Hypothesis: validate_payload (iterative, with a fast path) agrees with a plain recursive
# statement of the rules; what it accepts, JSON in UTF-8 holds, and the copy is what a
# storage gives back. The values drawn include ones that must be refused.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(st.characters(codec=None, exclude_categories=())),
)
keys = st.one_of(st.text(st.characters(exclude_categories=()), max_size=5), st.integers())
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(keys, children, max_size=4),
    ),
    max_leaves=20,
)


def encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable(value: object, level: int = 1) -> bool:
    """The payload rules, written as plainly as possible (recursive: fine for tests)."""
    if isinstance(value, dict):
        return level <= MAX_DEPTH and all(
            isinstance(key, str) and encodes(key) and storable(item, level + 1)
            for key, item in value.items()
        )
    if isinstance(value, (list, tuple)):
        return level <= MAX_DEPTH and all(storable(item, level + 1) for item in value)
    if isinstance(value, str):
        return encodes(value)
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return INT_MIN <= value <= INT_MAX
    return isinstance(value, float) and math.isfinite(value)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, trees, max_size=5))
def test_validation_follows_the_rules_and_accepted_payloads_round_trip(
    payload: dict[Any, Any],
) -> None:
    try:
        validate_payload(payload)
    except PayloadNotStorable:
        assert not storable(payload)
    else:
        assert storable(payload)
        text = json.dumps(payload, allow_nan=False).encode("utf-8")
        assert json.loads(text) == copy_payload(payload)
