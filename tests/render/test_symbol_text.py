"""render/symbols: the exact symbols, strings and comments made from resource text.

Expectations are written out by hand (the digests computed once with `sha256sum`), so a change
in the alphabet, the prefix, the 64-character limit or the hash suffix shows here by name.
"""

from __future__ import annotations

import pytest

from birdgen.render.symbols import UnsafeText, bgp_filter_symbol, bird_string, comment, symbol


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Global_10_0_0_1", "Global_10_0_0_1"),
        ("tor-a.example", "tor_a_example"),
        ("9lives", "x_9lives"),  # a symbol starts with a letter
        ("_x", "x__x"),
        ("", "x_"),
        ("a" * 64, "a" * 64),  # exactly BIRD's limit: kept
        ("a" * 65, "a" * 47 + "_635361C48BB9EAB1"),  # one more: cut, SHA-256 suffix
        ("9" + "b" * 70, "x_9" + "b" * 44 + "_934267B7B989EDA9"),  # hashed from the original
    ],
)
def test_symbol(text: str, expected: str) -> None:
    assert symbol(text) == expected
    assert len(expected) <= 64


def test_bird_string_quotes_or_refuses() -> None:
    assert bird_string("BGPPeer tor-a") == '"BGPPeer tor-a"'
    for bad in ['a"b', "a\\b", "a\nb", "a\x7fb"]:
        with pytest.raises(
            UnsafeText, match=r"^contains a double quote, backslash or control character$"
        ):
            bird_string(bad)


def test_comment_is_one_printable_line() -> None:
    assert comment("plain ünïcode") == "plain ünïcode"
    assert comment("a\nb\tc\x7f") == "a\\nb\\tc\\x7f"


@pytest.mark.parametrize("name", ["it's", 'say"no', "back\\slash"])
def test_filter_symbol_refuses_what_cannot_be_quoted(name: str) -> None:
    with pytest.raises(UnsafeText, match=r"BGPFilter name .* cannot be a quoted BIRD symbol"):
        bgp_filter_symbol(name, "import", 4)


def test_filter_symbol_keeps_calicos_name() -> None:
    assert bgp_filter_symbol("peer-type.v1", "export", 6) == "'bgp_peer-type.v1_exportFilterV6'"
