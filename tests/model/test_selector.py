"""Calico label selectors: parsing, matching, canonical text and errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from birdgen.model.selector import (
    All,
    And,
    Contains,
    EndsWith,
    Equals,
    Expr,
    Has,
    In,
    Not,
    NotEquals,
    NotIn,
    Or,
    Selector,
    SelectorError,
    StartsWith,
    parse_selector,
)

NODE = {
    "rack": "r1",
    "zone": "eu-west-1a",
    "kubernetes.io/hostname": "node-1",
    "node-role.kubernetes.io/control-plane": "",
    "my_key": "it's",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("all()", True),
        ("has(rack)", True),
        ("has(missing)", False),
        ("!has(rack)", False),
        ("!has(missing)", True),
        ('rack == "r1"', True),
        ('rack == "r2"', False),
        ('missing == ""', False),
        ('rack != "r2"', True),
        ('rack != "r1"', False),
        ('missing != "r1"', True),  # != holds when the label is absent
        ('rack in {"r1", "r2"}', True),
        ('rack in {"r2", "r3"}', False),
        ("rack in {}", False),
        ('missing in {"r1"}', False),
        ('rack not in {"r2", "r3"}', True),
        ('rack not in {"r1"}', False),
        ("rack not in {}", True),
        ('missing not in {"r1"}', True),  # not in holds when the label is absent
        ('zone contains "west"', True),
        ('zone contains "east"', False),
        ('missing contains ""', False),
        ('zone starts with "eu-"', True),
        ('zone starts with "us-"', False),
        ('missing starts with ""', False),
        ('zone ends with "1a"', True),
        ('zone ends with "1b"', False),
        ('missing ends with ""', False),
        ('rack == "r1" && zone == "eu-west-1a"', True),
        ('rack == "r1" && zone == "other"', False),
        ('rack == "r2" || zone == "eu-west-1a"', True),
        ('rack == "r2" || zone == "other"', False),
        ('!rack == "r1"', False),  # ! negates the whole comparison after it
        ('!(rack == "r1" && has(zone))', False),
        ('!(rack == "r2" || has(missing))', True),
        ('!!(rack == "r1")', True),
        ("!!has(missing)", False),
        # keys with prefixes, dots, slashes, dashes and underscores
        ('kubernetes.io/hostname == "node-1"', True),
        ("has(node-role.kubernetes.io/control-plane)", True),
        ('node-role.kubernetes.io/control-plane == ""', True),
        ('my_key == "it\'s"', True),
        # both kinds of quote; each may hold the other
        ("rack == 'r1'", True),
        ('my_key == "it\'s"', True),
        ("rack in {'r1', \"r2\"}", True),
        ("zone contains 'west'", True),
        # whitespace anywhere between tokens, or none at all
        ('rack=="r1"&&has(zone)', True),
        ("  !  has ( rack )  ", False),
        ('\track\n==\n"r1"\n', True),
        ('rack in{"r1"}', True),
        ('rack not   in {  "r1" ,"r2"  }', False),
        ('zone starts\twith "eu"', True),
        # keywords are keys unless a function call or operator is where they stand
        ('all == "x"', False),
        ('has != "x"', True),
        ('in not in {"x"}', True),
    ],
)
def test_matches(text: str, expected: bool) -> None:
    assert parse_selector(text).matches(NODE) is expected


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        # && binds tighter than ||: a || (b && c)
        ('a == "1" || b == "2" && c == "3"', {"a": "1"}, True),
        ('a == "1" || b == "2" && c == "3"', {"b": "2"}, False),
        ('a == "1" || b == "2" && c == "3"', {"b": "2", "c": "3"}, True),
        ('(a == "1" || b == "2") && c == "3"', {"a": "1"}, False),
        ('(a == "1" || b == "2") && c == "3"', {"a": "1", "c": "3"}, True),
        ('a == "1" && b == "2" || c == "3"', {"c": "3"}, True),
        ('a == "1" && (b == "2" || c == "3")', {"c": "3"}, False),
        # ! takes one factor, not the rest of the expression
        ("!has(a) && has(b)", {"b": "x"}, True),
        ("!(has(a) && has(b))", {"b": "x"}, True),
        ("!(has(a) || has(b))", {"b": "x"}, False),
        ("!has(a) || has(b)", {"a": "x"}, False),
    ],
)
def test_precedence(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_selector(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "expr"),
    [
        (
            'a == "1" || b == "2" && c == "3"',
            Or((Equals("a", "1"), And((Equals("b", "2"), Equals("c", "3"))))),
        ),
        ("has(a) && has(b) && has(c)", And((Has("a"), Has("b"), Has("c")))),
        ("has(a) && (has(b) && has(c))", And((Has("a"), Has("b"), Has("c")))),
        ("(has(a) || has(b)) || has(c)", Or((Has("a"), Has("b"), Has("c")))),
        ("((has(a)))", Has("a")),
        ("!!has(a)", Not(Not(Has("a")))),
        ("!(has(a) && has(b))", Not(And((Has("a"), Has("b"))))),
        ('k in {"b", "a", "b"}', In("k", frozenset({"a", "b"}))),
        ("k not in {}", NotIn("k", frozenset())),
        ('k contains "x"', Contains("k", "x")),
        ("k starts with 'x'", StartsWith("k", "x")),
        ('k ends with "x"', EndsWith("k", "x")),
        ('k != "x"', NotEquals("k", "x")),
        ("all()", All()),
    ],
)
def test_tree(text: str, expr: Expr) -> None:
    assert parse_selector(text).expr == expr


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("all()", "all()"),
        ("  has( a )", "has(a)"),
        ("!has(a)", "!has(a)"),
        ("a=='1'", 'a == "1"'),
        ("a!='1'", 'a != "1"'),
        ("a == 'say \"hi\"'", "a == 'say \"hi\"'"),  # keeps single quotes only when it must
        ("a in {'y','x','y'}", 'a in {"x", "y"}'),
        ("a not in {}", "a not in {}"),
        ("a contains 'x'", 'a contains "x"'),
        ("a   starts   with 'x'", 'a starts with "x"'),
        ("a ends with 'x'", 'a ends with "x"'),
        ('!a == "1"', '!(a == "1")'),
        ("!(has(a)||has(b))", "!(has(a) || has(b))"),
        ("!(!(has(a)))", "!!has(a)"),
        ("(has(a) && has(b))", "has(a) && has(b)"),
        ("(has(a) || has(b)) && has(c)", "(has(a) || has(b)) && has(c)"),
        ("has(a) || (has(b) && has(c))", "has(a) || has(b) && has(c)"),
        ("has(a) && (has(b) && (has(c)))", "has(a) && has(b) && has(c)"),
        ("kubernetes.io/hostname=='n1'", 'kubernetes.io/hostname == "n1"'),
    ],
)
def test_canonical_text(text: str, canonical: str) -> None:
    selector = parse_selector(text)
    assert str(selector) == canonical
    again = parse_selector(canonical)
    assert again.expr == selector.expr
    assert str(again) == canonical


def test_selector_keeps_its_source() -> None:
    selector = parse_selector("a=='1'")
    assert selector.source == "a=='1'"
    assert selector == parse_selector("a=='1'")
    assert selector != parse_selector('a == "1"')  # equality is by the text as written
    assert repr(selector) == "Selector(source=\"a=='1'\")"
    assert isinstance(selector, Selector)


FACTOR = 'expected a label key, "all()", "has(", "!" or "("'
OPERATOR = (
    "expected an operator (==, !=, in, not in, contains, starts with or ends with)"
    " after the label key"
)
KEY = "expected a label key (letters, digits, '_', '.', '/', '-'; first alphanumeric)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # empty input
        ("", 'selector "": empty selector'),
        (" \t\n", 'selector " \t\n": empty selector'),
        # unterminated string
        ('rack == "r1', 'selector "rack == "r1": unterminated string at position 8'),
        ("rack == 'r1\"", 'selector "rack == \'r1"": unterminated string at position 8'),
        # missing operand
        ("rack == ", 'selector "rack == ": expected a quoted string at position 8'),
        ("rack in ", 'selector "rack in ": expected "{" at position 8'),
        (
            "has(a) && ",
            f'selector "has(a) && ": {FACTOR} at position 10',
        ),
        (
            "|| has(a)",
            f'selector "|| has(a)": {FACTOR}, found "||" at position 0',
        ),
        ("!", f'selector "!": {FACTOR} at position 1'),
        (
            "rack",
            f'selector "rack": {OPERATOR} at position 4',
        ),
        (
            "has()",
            f'selector "has()": {KEY}, found ")" at position 4',
        ),
        ("rack == 1", 'selector "rack == 1": expected a quoted string, found "1" at position 8'),
        # unknown operator
        (
            'rack = "r1"',
            f'selector "rack = "r1"": {OPERATOR}, found "=" at position 5',
        ),
        (
            'rack like "r1"',
            f'selector "rack like "r1"": {OPERATOR}, found "like" at position 5',
        ),
        (
            'rack starts "r"',
            'selector "rack starts "r"": expected "with" after "starts", '
            'found the string "r" at position 12',
        ),
        (
            'rack not {"r"}',
            'selector "rack not {"r"}": expected "in" after "not", found "{" at position 9',
        ),
        (
            'rack == "r1" & has(a)',
            'selector "rack == "r1" & has(a)": expected "&&", "||" or the end of the selector, '
            'found "&" at position 13',
        ),
        # trailing garbage
        (
            'rack == "r1" zone',
            'selector "rack == "r1" zone": expected "&&", "||" or the end of the selector, '
            'found "zone" at position 13',
        ),
        (
            "all() all()",
            'selector "all() all()": expected "&&", "||" or the end of the selector, '
            'found "all" at position 6',
        ),
        # unbalanced parentheses
        ('(rack == "r1"', 'selector "(rack == "r1"": expected ")" at position 13'),
        ("has(a", 'selector "has(a": expected ")" at position 5'),
        (
            'rack == "r1")',
            'selector "rack == "r1")": expected "&&", "||" or the end of the selector, '
            'found ")" at position 12',
        ),
        (
            "()",
            f'selector "()": {FACTOR}, found ")" at position 1',
        ),
        # sets
        (
            'a in {"x",}',
            'selector "a in {"x",}": expected a quoted string, found "}" at position 10',
        ),
        (
            'a in {"x" "y"}',
            'selector "a in {"x" "y"}": expected "," or "}", found the string "y" at position 10',
        ),
        # keys
        (
            '-a == "1"',
            f'selector "-a == "1"": {KEY}, found "-a" at position 0',
        ),
        (
            'has("a")',
            f'selector "has("a")": {KEY}, found the string "a" at position 4',
        ),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_selector(text)
    assert str(caught.value) == message
    assert caught.value.selector == text


def test_error_carries_position_and_reason() -> None:
    with pytest.raises(SelectorError) as caught:
        parse_selector("rack == ")
    assert caught.value.position == 8
    assert caught.value.reason == "expected a quoted string"
    assert isinstance(caught.value, ValueError)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(SelectorError, match="nested more than"):
        parse_selector("(" * 5000 + "all()" + ")" * 5000)
    with pytest.raises(SelectorError, match="nested more than"):
        parse_selector("!" * 5000 + "all()")
    assert parse_selector("(" * 50 + "all()" + ")" * 50).matches({})


# --- Property: canonical text parses back to an equivalent selector -----------------------

# Keys include words the grammar also uses, so the parser's context-sensitivity is exercised.
KEYS = [
    "a",
    "b",
    "rack",
    "kubernetes.io/hostname",
    "node-role.kubernetes.io/edge",
    "all",
    "has",
    "in",
    "not",
    "starts",
    "with",
    "contains",
    "0x",
]
VALUES = ["", "x", "xy", "yx", "r1", "it's", 'say "hi"', " && ", "(", "}", "||"]

keys = st.sampled_from(KEYS)
values = st.sampled_from(VALUES)
value_sets = st.frozensets(values, max_size=3)

leaves: st.SearchStrategy[Expr] = st.one_of(
    st.just(All()),
    st.builds(Has, keys),
    st.builds(Equals, keys, values),
    st.builds(NotEquals, keys, values),
    st.builds(In, keys, value_sets),
    st.builds(NotIn, keys, value_sets),
    st.builds(Contains, keys, values),
    st.builds(StartsWith, keys, values),
    st.builds(EndsWith, keys, values),
)


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    operands = st.lists(children, min_size=2, max_size=4).map(tuple)
    return st.one_of(st.builds(Not, children), st.builds(And, operands), st.builds(Or, operands))


exprs = st.recursive(leaves, _extend, max_leaves=12)
label_maps = st.dictionaries(keys, values, max_size=len(KEYS))


@settings(max_examples=300)
@given(exprs, st.lists(label_maps, min_size=1, max_size=8))
def test_printed_tree_parses_back_equivalent(expr: Expr, samples: list[dict[str, str]]) -> None:
    text = str(expr)
    selector = parse_selector(text)
    assert str(selector) == text  # canonical text is a fixed point
    for labels in samples:
        assert selector.matches(labels) == expr.matches(labels)
