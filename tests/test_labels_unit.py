"""Unit tests for bitcoin_controller.apimachinery.labels (k8s.io/apimachinery/pkg/labels)."""

from __future__ import annotations

import pytest

from bitcoin_controller.apimachinery import labels


@pytest.mark.parametrize(
    ("selector", "lbls", "expected"),
    [
        ("a=b", {"a": "b"}, True),
        ("a=b", {"a": "c"}, False),
        ("a=b", {}, False),
        ("a==b", {"a": "b"}, True),
        ("a!=b", {"a": "c"}, True),
        ("a!=b", {}, True),  # absent key satisfies !=
        ("a!=b", {"a": "b"}, False),
        ("e in (x,y)", {"e": "y"}, True),
        ("e in (x,y)", {"e": "z"}, False),
        ("e in (x,y)", {}, False),
        ("e notin (x,y)", {}, True),
        ("e notin (x,y)", {"e": "x"}, False),
        ("g", {"g": ""}, True),
        ("g", {}, False),
        ("!f", {}, True),
        ("!f", {"f": "1"}, False),
        ("n>2", {"n": "3"}, True),
        ("n>2", {"n": "2"}, False),
        ("n>2", {"n": "x"}, False),
        ("n<2", {"n": "1"}, True),
        ("a=", {"a": ""}, True),
        ("a=b,c!=d,e in (x,y),!f,g", {"a": "b", "e": "x", "g": "1"}, True),
        ("a=b,c!=d,e in (x,y),!f,g", {"a": "b", "e": "x", "g": "1", "f": "1"}, False),
        ("a=b,c!=d,e in (x,y),!f,g", {"a": "b", "e": "x", "g": "1", "c": "d"}, False),
        ("app.kubernetes.io/name=bitcoind", {"app.kubernetes.io/name": "bitcoind"}, True),
    ],
)
def test_parse_and_match_unit(selector, lbls, expected):
    assert labels.parse(selector).matches(lbls) is expected


def test_string_is_canonical_unit():
    sel = labels.parse("z in (b, a), !y,  x=1 ,w notin (q),v")
    assert str(sel) == "v,w notin (q),x=1,!y,z in (a,b)"
    # The canonical form parses back to the same selector.
    assert labels.parse(str(sel)) == sel


@pytest.mark.parametrize(
    "bad",
    ["a=b,", ",a", "a in x", "=b", "a b", "a in (x", "x>y", "a=b c", "-a=b", "a=b!", "a/=b"]
    + ["x/y/z=1"],
)
def test_parse_rejects_bad_syntax_unit(bad):
    with pytest.raises(ValueError):
        labels.parse(bad)


def test_value_validation_unit():
    with pytest.raises(ValueError):
        labels.parse("a=" + "v" * 64)
    with pytest.raises(ValueError):
        labels.selector_from_set({"a": "not valid!"})
    assert labels.parse("a=" + "v" * 63).matches({"a": "v" * 63})


def test_everything_and_nothing_unit():
    assert labels.everything().empty()
    assert labels.everything().matches({"any": "thing"})
    assert labels.parse("").empty()
    assert not labels.nothing().empty()
    assert not labels.nothing().matches({})
    assert not labels.parse("a").empty()


def test_selector_from_set_unit():
    sel = labels.selector_from_set({"b": "2", "a": "1"})
    assert str(sel) == "a=1,b=2"
    assert sel.matches({"a": "1", "b": "2", "c": "3"})
    assert not sel.matches({"a": "1"})
    assert labels.selector_from_set({}).empty()
    assert labels.selector_from_validated_set({"a": "1"}).matches({"a": "1"})


def test_add_returns_new_selector_unit():
    base = labels.parse("a=1")
    more = base.add(labels.new_requirement("b", labels.Operator.EXISTS))
    assert str(base) == "a=1"
    assert str(more) == "a=1,b"
    assert labels.nothing().add(labels.new_requirement("b", "exists")) is labels.nothing()


def test_requirement_arity_unit():
    with pytest.raises(ValueError):
        labels.new_requirement("a", labels.Operator.EQUALS, ["1", "2"])
    with pytest.raises(ValueError):
        labels.new_requirement("a", labels.Operator.IN, [])
    with pytest.raises(ValueError):
        labels.new_requirement("a", labels.Operator.EXISTS, ["1"])
    assert str(labels.new_requirement("a", labels.Operator.IN, ["y", "x", "y"])) == "a in (x,y)"
