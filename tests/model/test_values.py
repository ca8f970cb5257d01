"""Scalar parsers: the fast paths must agree exactly with the `ipaddress` reference."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from birdgen.model.values import host_text, network_text, parse_ip

# Strings near the dotted-quad grammar, where a C parser and `ipaddress` could disagree:
# leading zeros, out-of-range octets, too few or many parts, signs, spaces, hex, non-ASCII digits.
near_quads = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.lists(
        st.one_of(
            st.integers(0, 300).map(str),
            st.sampled_from(
                ["00", "01", "007", "0x1", "+1", "-1", " 1", "1 ", "", "\u0661", "1e2"]
            ),
        ),
        min_size=1,
        max_size=6,
    ).map(".".join),
    st.text(alphabet="0123456789.: abcdef%x", max_size=20),
)


def reference(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if "%" in value:
        return None  # `ipaddress` takes a zone; birdgen refuses it in every field
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


@given(near_quads)
def test_parse_ip_agrees_with_ipaddress(value: str) -> None:
    expected = reference(value)
    if expected is None:
        with pytest.raises(ValueError, match="is not an IP address"):  # zone or not
            parse_ip(value)
    else:
        got = parse_ip(value)
        assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    "value", ["01.2.3.4", "1.2.3.04", "256.1.1.1", "1.2.3", "1.2.3.4.5", "1.2.3.4\x00", 1, None]
)
def test_parse_ip_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="is not an IP address"):
        parse_ip(value)


def test_parse_ip_keeps_the_lenient_spellings() -> None:
    assert parse_ip(" 10.0.0.1 ") == ipaddress.IPv4Address("10.0.0.1")
    assert parse_ip("fd00::1") == ipaddress.IPv6Address("fd00::1")


@given(st.ip_addresses())
def test_host_text_is_the_host_networks_text(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    host = ipaddress.ip_network(ip)
    assert host_text(ip) == str(host) == network_text(host)
