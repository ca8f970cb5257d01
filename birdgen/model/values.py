"""model: parsers for the scalar values Calico resources carry (AS numbers, durations, IPs, CIDRs).

Each parser takes the raw value as YAML or JSON gave it and either returns a typed value or raises
`ValueError` with a message meant to follow `Kind/name: field:` in an error line. They are pure
and shared by every resource parser, so one value is always judged the same way.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import reprlib
from enum import IntEnum
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


class Family(IntEnum):
    """An address family; the value is the IP version, so `Family(ip.version)` works."""

    V4 = 4
    V6 = 6

    @property
    def full_length(self) -> int:
        return 32 if self is Family.V4 else 128

    @property
    def k8s_name(self) -> str:
        return "IPv4" if self is Family.V4 else "IPv6"

    @property
    def suffix(self) -> str:
        """The suffix of per-family BIRD symbols: `svc4`, `birdgen_export_v6`."""
        return str(self.value)


def host_text(ip: IPAddress) -> str:
    """The text of the /32 or /128 of one address, without building the network (a node may
    have 100,000, and `ipaddress` formats and re-parses the address to build one)."""
    if ip.version == 4:
        i = int(ip)
        return "%d.%d.%d.%d/32" % (i >> 24, i >> 16 & 255, i >> 8 & 255, i & 255)  # noqa: UP031
    return f"{ip}/128"


def network_text(net: IPNetwork) -> str:
    """`str(net)`, twice as fast for IPv4 (its four bytes through `%d`, which is exactly the text
    `ipaddress` writes); IPv6 keeps `ipaddress`'s RFC 5952 text."""
    if net.version == 4:
        return "%d.%d.%d.%d/%d" % (*net.network_address.packed, net.prefixlen)  # noqa: UP031
    return str(net)


def family_of(value: IPAddress | IPNetwork | IPInterface) -> Family:
    return Family(value.version)


class _Shown(reprlib.Repr):
    """`repr` with bounds: an error message about a huge or deeply nested value stays short,
    and an integer too long for `repr` (Python refuses over 4,300 digits) is described."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxstring, self.maxother = 3, 60, 60

    def repr_int(self, x: int, level: int) -> str:
        return repr(x) if x.bit_length() <= 128 else f"<an integer of {x.bit_length()} bits>"


_SHOWN = _Shown()
SHOW_MAX = 100  # characters of a string quoted in an error message


def show(value: Any) -> str:
    """Quote a raw value for an error message the way the operator wrote it (long ones cut)."""
    if isinstance(value, str):
        cut = value[:SHOW_MAX]
        quoted = '"' + cut.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
        return quoted if cut == value else f"{quoted}... ({len(value)} characters)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return _SHOWN.repr(value)


def parse_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{show(value)} is not a string")
    return value


def parse_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{show(value)} is not a boolean")
    return value


def parse_int(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{show(value)} is not an integer")
    if not low <= value <= high:
        raise ValueError(f"{value} is out of range ({low}-{high})")
    return value


def parse_asn(value: Any) -> int:
    """An AS number: a uint32, or Calico's dotted `a.b` form with 16-bit halves."""
    if isinstance(value, bool):
        raise ValueError(f"{show(value)} is not an AS number")
    if isinstance(value, int):
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"{value} is out of range (0-4294967295)")
        return value
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[0-9]+", text):
            return parse_asn(int(text))
        m = re.fullmatch(r"([0-9]+)\.([0-9]+)", text)
        if m:
            high, low = int(m.group(1)), int(m.group(2))
            if high > 0xFFFF or low > 0xFFFF:
                raise ValueError(f"{show(value)} is out of range (each half of a.b is 0-65535)")
            return high << 16 | low
    raise ValueError(f"{show(value)} is not an AS number (a uint32 or a.b)")


def parse_local_asn(value: Any) -> int:
    """An AS number a BIRD speaker can use as its own: BIRD refuses `local as 0`."""
    asn = parse_asn(value)
    if asn == 0:
        raise ValueError("0 is not a usable AS number")
    return asn


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_duration(value: Any) -> float:
    """A Go duration (`10s`, `2m`, `1h30m`, `500ms`) in seconds, as Calico's API stores them."""
    if not isinstance(value, str) or not value:
        raise ValueError(f'{show(value)} is not a duration such as "90s" or "2m"')
    text = value
    if text == "0":
        return 0.0
    sign = 1.0
    if text[0] in "+-":
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DURATION_PART.match(text, pos)
        if not m:
            raise ValueError(f'{show(value)} is not a duration such as "90s" or "2m"')
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos == 0:
        raise ValueError(f'{show(value)} is not a duration such as "90s" or "2m"')
    return sign * total


def round_seconds(seconds: float) -> int:
    """Seconds rounded to the nearest integer, halves away from zero, as Go's math.Round does."""
    return int(seconds + 0.5) if seconds >= 0 else -int(-seconds + 0.5)


_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"  # 0-255, no leading zeros, ASCII only
_DOTTED_QUAD = re.compile(r"\.".join([_OCTET] * 4))


def _zone_free(value: str, what: str) -> str:
    """`value` stripped, refusing an IPv6 zone (`fd00::1%eth0`).

    `ipaddress` takes any text after `%` as the zone and prints it back, so a zone would carry
    free text into bird.conf; Calico's API refuses zones in every address field, and BIRD has
    no use for them in any field birdgen writes.
    """
    if "%" in value:
        raise ValueError(f"{show(value)} is not {what}: a zone (%...) is not allowed here")
    return value.strip()


# Every address and network the model holds is rebuilt from its integer, so it carries no zone
# and no text at all: what reaches bird.conf is printed from the number alone.
def _plain_ip(ip: IPAddress) -> IPAddress:
    return ip if ip.version == 4 else ipaddress.IPv6Address(int(ip))


def _plain_network(net: IPNetwork) -> IPNetwork:
    if net.version == 4:
        return net
    return ipaddress.IPv6Network((int(net.network_address), net.prefixlen))


def _plain_interface(iface: IPInterface) -> IPInterface:
    if iface.version == 4:
        return iface
    return ipaddress.IPv6Interface((int(iface.ip), iface.network.prefixlen))


def parse_ip(value: Any) -> IPAddress:
    """A plain IPv4 or IPv6 address (no prefix length, no zone)."""
    if value.__class__ is str and (m := _DOTTED_QUAD.fullmatch(value)):
        # A cluster has an address per Service and per endpoint, and `ip_address` parses in pure
        # Python at twice this cost. The pattern takes exactly the dotted quads `ip_address`
        # takes (tests/model/test_values.py checks the two agree); the rest goes the long way.
        a, b, c, d = m.groups()
        return ipaddress.IPv4Address(int(a) << 24 | int(b) << 16 | int(c) << 8 | int(d))
    if not isinstance(value, str):
        raise ValueError(f"{show(value)} is not an IP address")
    text = _zone_free(value, "an IP address")
    try:
        return _plain_ip(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"{show(value)} is not an IP address") from None


def parse_cidr(value: Any) -> IPNetwork:
    """A network written with an explicit prefix length and no host bits set (`10.49.0.0/16`)."""
    if not isinstance(value, str) or "/" not in value:
        raise ValueError(f'{show(value)} is not a CIDR such as "10.96.0.0/12"')
    text = _zone_free(value, "a CIDR")
    try:
        net = _plain_network(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise ValueError(f'{show(value)} is not a CIDR such as "10.96.0.0/12"') from None
    if net.network_address != ipaddress.ip_interface(text).ip:
        raise ValueError(f'{show(value)} has host bits set (did you mean "{net}"?)')
    return net


def parse_ip_or_cidr(value: Any) -> IPInterface:
    """An address with an optional prefix length (`10.192.0.2/16` or `10.192.0.2`)."""
    if not isinstance(value, str):
        raise ValueError(f"{show(value)} is not an IP address or CIDR")
    text = _zone_free(value, "an IP address or CIDR")
    try:
        return _plain_interface(ipaddress.ip_interface(text))
    except ValueError:
        raise ValueError(f"{show(value)} is not an IP address or CIDR") from None


def parse_peer_ip(value: Any) -> tuple[IPAddress, int | None]:
    """`IP`, `IPv4:port` or `[IPv6]:port`, as BGPPeer.spec.peerIP takes them."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{show(value)} is not an IP address")
    text = _zone_free(value, "an IP address")
    port_text: str | None = None
    m6 = re.fullmatch(r"\[([^\]]+)\]:([0-9]+)", text)
    m4 = re.fullmatch(r"([0-9.]+):([0-9]+)", text)
    if m6:
        text, port_text = m6.group(1), m6.group(2)
    elif m4:
        text, port_text = m4.group(1), m4.group(2)
    ip = parse_ip(text) if (m4 or m6) else _peer_ip_only(value, text)
    if m6 and ip.version != 6:
        raise ValueError(f"{show(value)}: only IPv6 addresses are written in brackets")
    port: int | None = None
    if port_text is not None:
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise ValueError(f"{show(value)}: port {port} is out of range (1-65535)")
    return ip, port


def _peer_ip_only(raw: Any, text: str) -> IPAddress:
    try:
        return _plain_ip(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(
            f"{show(raw)} is not an IP address (or IPv4:port, or [IPv6]:port)"
        ) from None


def unusable_bgp_address(ip: IPAddress) -> str | None:
    """Why BIRD cannot use `ip` as a BGP neighbor, source or gateway address, or None."""
    if ip.is_unspecified:
        return f"{ip} is the unspecified address"
    if ip.is_multicast:
        return f"{ip} is a multicast address"
    if ip.version == 6 and ip.is_link_local:
        # BIRD needs an interface to use an IPv6 link-local address, and Calico gives none.
        return f"{ip} is an IPv6 link-local address, which BIRD cannot use without an interface"
    return None


def hashed_router_id(node_name: str) -> str:
    """Calico's `CALICO_ROUTER_ID=hash`: the first 4 bytes of SHA-256(name), kept below 224."""
    digest = hashlib.sha256(node_name.encode()).digest()
    first = digest[0] - 32 if digest[0] > 223 else digest[0]
    return f"{first}.{digest[1]}.{digest[2]}.{digest[3]}"


# Kubernetes object names (RFC 1123 subdomains) and label keys/values: everything birdgen prints
# from a resource name passes one of these, so no name can carry BIRD syntax into the config.
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def parse_object_name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{show(value)} is not a valid name")
    if len(value) > 253 or not DNS_SUBDOMAIN.fullmatch(value):
        raise ValueError(f"{show(value)} is not a valid name (lower-case RFC 1123 subdomain)")
    return value


# Label and annotation keys (`prefix/name`) and label values, as the API server validates them:
# selectors compare them, so a key or value the API server would refuse is refused here too.
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def parse_label_key(value: str) -> str:
    prefix, _, name = value.rpartition("/")
    if (
        not _LABEL_NAME.fullmatch(name)
        or len(name) > 63
        or (prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.fullmatch(prefix)))
        or (not prefix and "/" in value)
    ):
        raise ValueError(
            f"{show(value)} is not a valid key (an optional DNS subdomain and '/', then up to"
            " 63 of [-A-Za-z0-9_.], starting and ending alphanumeric)"
        )
    return value


def is_label_value(value: str) -> bool:
    return not value or (len(value) <= 63 and _LABEL_NAME.fullmatch(value) is not None)


def parse_label_value(value: str) -> str:
    if not is_label_value(value):
        raise ValueError(
            f"{show(value)} is not a valid label value (up to 63 of [-A-Za-z0-9_.],"
            " starting and ending alphanumeric)"
        )
    return value


DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def parse_label_name(value: Any) -> str:
    """A namespace name: an RFC 1123 label (no dots, at most 63 characters)."""
    if not isinstance(value, str) or len(value) > 63 or not DNS_LABEL.fullmatch(value):
        raise ValueError(f"{show(value)} is not a valid namespace name (an RFC 1123 label)")
    return value
