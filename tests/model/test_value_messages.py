"""model: each scalar parser's verdict, and the words of each refusal, as the operator reads
them after `Kind/name: field: `. Written by hand; the other value tests check the fast paths
against `ipaddress`, these what is said."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest

from birdgen.model.values import (
    parse_asn,
    parse_bool,
    parse_cidr,
    parse_int,
    parse_ip,
    parse_ip_or_cidr,
    parse_label_key,
    parse_label_name,
    parse_label_value,
    parse_local_asn,
    parse_object_name,
    parse_peer_ip,
    parse_str,
    show,
    unusable_bgp_address,
)

ip = ipaddress.ip_address
KEY = ("is not a valid key (an optional DNS subdomain and '/', then up to 63 of [-A-Za-z0-9_.],"
       " starting and ending alphanumeric)")  # fmt: skip
VALUE = "is not a valid label value (up to 63 of [-A-Za-z0-9_.], starting and ending alphanumeric)"
NAMESPACE = "is not a valid namespace name (an RFC 1123 label)"
NAME = "is not a valid name (lower-case RFC 1123 subdomain)"
A63, A64 = "a" * 63, "a" * 64
LONG = '"' + "a" * 100 + '"...'  # how a long value is shown


def in_range(low: int, high: int) -> Callable[[Any], int]:
    return lambda value: parse_int(value, low, high)


ACCEPTED: list[tuple[Callable[[Any], Any], Any, Any]] = [
    (parse_peer_ip, "10.0.0.1", (ip("10.0.0.1"), None)),
    (parse_peer_ip, " 10.0.0.2 ", (ip("10.0.0.2"), None)),
    (parse_peer_ip, "10.0.0.1:179", (ip("10.0.0.1"), 179)),
    (parse_peer_ip, "10.0.0.1:1", (ip("10.0.0.1"), 1)),
    (parse_peer_ip, "10.0.0.1:65535", (ip("10.0.0.1"), 65535)),
    (parse_peer_ip, "[fd00::1]:1790", (ip("fd00::1"), 1790)),
    (parse_peer_ip, "fd00::1", (ip("fd00::1"), None)),
    (parse_asn, 0, 0),
    (parse_asn, 4294967295, 4294967295),
    (parse_asn, "65000", 65000),
    (parse_asn, " 65000 ", 65000),
    (parse_asn, "1.2", 65538),
    (parse_asn, "65535.65535", 4294967295),
    (parse_local_asn, 1, 1),
    (parse_local_asn, "0.1", 1),
    (in_range(1, 10), 1, 1),
    (in_range(1, 10), 10, 10),
    (parse_cidr, "10.0.0.0/8", ipaddress.ip_network("10.0.0.0/8")),
    (parse_cidr, " 10.1.0.0/16 ", ipaddress.ip_network("10.1.0.0/16")),
    (parse_cidr, "fd00::/8", ipaddress.ip_network("fd00::/8")),
    (parse_ip_or_cidr, "10.0.0.1/8", ipaddress.ip_interface("10.0.0.1/8")),
    (parse_ip_or_cidr, "10.0.0.1", ipaddress.ip_interface("10.0.0.1/32")),
    (parse_ip_or_cidr, "fd00::1/64", ipaddress.ip_interface("fd00::1/64")),
    (parse_ip, "FD00::1", ip("fd00::1")),
    (parse_object_name, "a.b-c", "a.b-c"),
    (parse_object_name, "a" * 253, "a" * 253),
    (parse_label_key, "a", "a"),
    (parse_label_key, "x.io/" + A63, "x.io/" + A63),
    (parse_label_key, "A_b.c-D", "A_b.c-D"),
    (parse_label_value, "", ""),
    (parse_label_value, A63, A63),
    (parse_label_name, "default", "default"),
    (parse_label_name, A63, A63),
    (parse_str, "x", "x"),
    (parse_bool, False, False),
]


@pytest.mark.parametrize(("parse", "value", "expected"), ACCEPTED, ids=range(len(ACCEPTED)))
def test_accepted(parse: Callable[[Any], Any], value: Any, expected: Any) -> None:
    got = parse(value)
    assert got == expected and type(got) is type(expected)


REFUSED: list[tuple[Callable[[Any], Any], Any, str]] = [
    (parse_peer_ip, "10.0.0.1:0", '"10.0.0.1:0": port 0 is out of range (1-65535)'),
    (parse_peer_ip, "10.0.0.1:65536", '"10.0.0.1:65536": port 65536 is out of range (1-65535)'),
    (parse_peer_ip, "[10.0.0.1]:179", '"[10.0.0.1]:179": only IPv6 addresses are written in brackets'),
    (parse_peer_ip, "fd00::1%eth0", '"fd00::1%eth0" is not an IP address: a zone (%...) is not allowed here'),
    (parse_peer_ip, "", '"" is not an IP address'),
    (parse_peer_ip, 5, "5 is not an IP address"),
    (parse_peer_ip, "nope", '"nope" is not an IP address (or IPv4:port, or [IPv6]:port)'),
    (parse_peer_ip, "[fd00::1]", '"[fd00::1]" is not an IP address (or IPv4:port, or [IPv6]:port)'),
    (parse_asn, 4294967296, "4294967296 is out of range (0-4294967295)"),
    (parse_asn, "4294967296", "4294967296 is out of range (0-4294967295)"),
    (parse_asn, -1, "-1 is out of range (0-4294967295)"),
    (parse_asn, True, "true is not an AS number"),
    (parse_asn, "65536.0", '"65536.0" is out of range (each half of a.b is 0-65535)'),
    (parse_asn, "0.65536", '"0.65536" is out of range (each half of a.b is 0-65535)'),
    (parse_asn, "x", '"x" is not an AS number (a uint32 or a.b)'),
    (parse_asn, 1.5, "1.5 is not an AS number (a uint32 or a.b)"),
    (parse_local_asn, 0, "0 is not a usable AS number"),
    (parse_local_asn, "0.0", "0 is not a usable AS number"),
    (in_range(1, 10), 0, "0 is out of range (1-10)"),
    (in_range(1, 10), 11, "11 is out of range (1-10)"),
    (in_range(0, 1), True, "true is not an integer"),
    (in_range(0, 9), "5", '"5" is not an integer'),
    (in_range(0, 9), 1.0, "1.0 is not an integer"),
    (parse_cidr, "10.0.0.1/8", '"10.0.0.1/8" has host bits set (did you mean "10.0.0.0/8"?)'),
    (parse_cidr, "fd00::1/8", '"fd00::1/8" has host bits set (did you mean "fd00::/8"?)'),
    (parse_cidr, "10.0.0.0", '"10.0.0.0" is not a CIDR such as "10.96.0.0/12"'),
    (parse_cidr, "x/8", '"x/8" is not a CIDR such as "10.96.0.0/12"'),
    (parse_cidr, 5, '5 is not a CIDR such as "10.96.0.0/12"'),
    (parse_cidr, "fd00::/8%z", '"fd00::/8%z" is not a CIDR: a zone (%...) is not allowed here'),
    (parse_ip_or_cidr, "x", '"x" is not an IP address or CIDR'),
    (parse_ip_or_cidr, 5, "5 is not an IP address or CIDR"),
    (parse_ip_or_cidr, "fd00::1%e", '"fd00::1%e" is not an IP address or CIDR: a zone (%...) is not allowed here'),
    (parse_ip, "fd00::1%e", '"fd00::1%e" is not an IP address: a zone (%...) is not allowed here'),
    (parse_object_name, "", '"" is not a valid name'),
    (parse_object_name, 5, "5 is not a valid name"),
    (parse_object_name, "A", f'"A" {NAME}'),
    (parse_object_name, "a_b", f'"a_b" {NAME}'),
    (parse_object_name, "a" * 254, f"{LONG} (254 characters) {NAME}"),
    (parse_label_key, "/b", f'"/b" {KEY}'),
    (parse_label_key, "a/", f'"a/" {KEY}'),
    (parse_label_key, "-a", f'"-a" {KEY}'),
    (parse_label_key, "a/b/c", f'"a/b/c" {KEY}'),
    (parse_label_key, "A.b/c", f'"A.b/c" {KEY}'),
    (parse_label_key, "x.io/" + A64, f'"x.io/{A64}" {KEY}'),
    (parse_label_key, "a" * 254 + "/b", f"{LONG} (256 characters) {KEY}"),
    (parse_label_value, A64, f'"{A64}" {VALUE}'),
    (parse_label_value, "-a", f'"-a" {VALUE}'),
    (parse_label_value, "a b", f'"a b" {VALUE}'),
    (parse_label_name, "a.b", f'"a.b" {NAMESPACE}'),
    (parse_label_name, A64, f'"{A64}" {NAMESPACE}'),
    (parse_label_name, 5, f"5 {NAMESPACE}"),
    (parse_str, 5, "5 is not a string"),
    (parse_bool, "true", '"true" is not a boolean'),
]  # fmt: skip


@pytest.mark.parametrize(("parse", "value", "message"), REFUSED, ids=range(len(REFUSED)))
def test_refused_with_these_words(parse: Callable[[Any], Any], value: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse(value)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("0.0.0.0", "0.0.0.0 is the unspecified address"),
        ("::", ":: is the unspecified address"),
        ("224.0.0.1", "224.0.0.1 is a multicast address"),
        ("ff02::1", "ff02::1 is a multicast address"),
        ("fe80::1", "fe80::1 is an IPv6 link-local address, which BIRD cannot use without an interface"),
        ("169.254.0.1", None),  # IPv4 link-local needs no interface
        ("10.0.0.1", None),
        ("fd00::1", None),
    ],
)  # fmt: skip
def test_addresses_bird_cannot_peer_with(address: str, why: str | None) -> None:
    assert unusable_bgp_address(ip(address)) == why


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (2**128 - 1, "340282366920938463463374607431768211455"),
        (2**128, "<an integer of 129 bits>"),
        (-(2**128), "<an integer of 129 bits>"),
    ],
)
def test_an_integer_is_shown_up_to_128_bits(value: int, shown: str) -> None:
    assert show(value) == shown
