"""model/selector: operators that are only words, written as strings or half written, are
refused with the line saying what was expected and found; a value is printed back in the
quote it does not contain, and one holding both cannot be printed at all."""

from __future__ import annotations

import pytest

from birdgen.model.selector import Equals, SelectorError, parse_selector

OPERATORS = "==, !=, in, not in, contains, starts with or ends with"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('a "in" {"x"}', f'selector "a "in" {{"x"}}": expected an operator ({OPERATORS}) after the label key, found the string "in" at position 2'),
        ('a "contains" "x"', f'selector "a "contains" "x"": expected an operator ({OPERATORS}) after the label key, found the string "contains" at position 2'),
        ('a not on {"x"}', 'selector "a not on {"x"}": expected "in" after "not", found "on" at position 6'),
        ('a starts by "x"', 'selector "a starts by "x"": expected "with" after "starts", found "by" at position 9'),
        ('a ends "x"', 'selector "a ends "x"": expected "with" after "ends", found the string "x" at position 7'),
    ],
)  # fmt: skip
def test_a_half_written_operator_is_refused_with_this_line(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_selector(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ('a == "it\'s"', 'a == "it\'s"'),
        ("a == 'say \"hi\"'", "a == 'say \"hi\"'"),
        ('a in {"it\'s", "b"}', 'a in {"b", "it\'s"}'),
    ],
)
def test_a_value_is_printed_in_the_quote_it_does_not_hold(text: str, printed: str) -> None:
    assert str(parse_selector(text)) == printed


def test_a_value_holding_both_quotes_cannot_be_printed() -> None:
    # Never read from text (a string token cannot hold its own quote): only built by hand.
    with pytest.raises(ValueError) as info:
        str(Equals("a", "x'\"y"))
    assert str(info.value) == "'x\\'\"y' contains both quote characters and cannot be written"


def test_negations_nest_up_to_a_hundred_deep() -> None:
    # "!" nests without parentheses: few frames per level, so this runs under mutmut too,
    # where tests/model/test_selector.py's 5,000 levels cannot.
    assert parse_selector("!" * 99 + "all()").matches({}) is False
    with pytest.raises(SelectorError) as info:
        parse_selector("!" * 100 + "all()")
    assert (
        str(info.value) == f'selector "{"!" * 100}all()": nested more than 100 deep at position 100'
    )


def test_the_depth_is_of_nesting_not_of_length() -> None:
    assert parse_selector(" && ".join(["!has(a)"] * 150)).matches({})
    # 61 levels before the parentheses, then 61 more inside their second operand: 122 deep.
    text = "!" * 60 + "(has(a) && " + "!" * 60 + "has(b))"
    with pytest.raises(SelectorError) as info:
        parse_selector(text)
    assert str(info.value) == f'selector "{text}": nested more than 100 deep at position 110'


def test_a_key_may_hold_any_key_character() -> None:
    selector = parse_selector("Xkey == 'v' && aXb in {'c'} && has(X)")
    assert str(selector) == 'Xkey == "v" && aXb in {"c"} && has(X)'
    assert selector.matches({"Xkey": "v", "aXb": "c", "X": ""})


def test_a_quote_after_a_stray_character_still_opens_a_string() -> None:
    with pytest.raises(SelectorError) as info:
        parse_selector('has(a) $"')
    assert str(info.value) == 'selector "has(a) $"": unterminated string at position 8'


@pytest.mark.parametrize("text", ["!", "has(a) && ", "(has(a) || "])
def test_a_selector_that_ends_where_a_term_is_due_says_what_was_expected(text: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_selector(text)
    assert str(info.value) == (
        f'selector "{text}": expected a label key, "all()", "has(", "!" or "(" at position {len(text)}'
    )
