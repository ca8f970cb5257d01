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
