"""render: the one place that makes BIRD symbols and quoted strings out of resource data.

BIRD 2 strings have no escape sequences at all (a `"` ends the string, and `\\"` too), so a
string that cannot be quoted safely is refused rather than mangled. Symbols come from a safe
alphabet, start with a letter and stay within BIRD's 64-character limit, with a hash suffix
when they must be cut, so two long names never collide.
"""

from __future__ import annotations

import hashlib
import re

SYMBOL_MAX = 64  # BIRD's SYM_MAX_LEN; measured: 64 characters parse, 65 are "Symbol too long"
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_UNQUOTABLE = re.compile(r'["\\\x00-\x1f\x7f]')


class UnsafeText(ValueError):
    """Text that BIRD could not read back as the same string."""


def symbol(text: str) -> str:
    """A BIRD symbol for `text`: unsafe characters become `_`, long ones are cut and hashed."""
    safe = _UNSAFE.sub("_", text)
    if not safe or not safe[0].isalpha():
        safe = "x_" + safe
    if len(safe) <= SYMBOL_MAX:
        return safe
    digest = hashlib.sha256(text.encode()).hexdigest()[:16].upper()
    return f"{safe[: SYMBOL_MAX - 17]}_{digest}"


def bird_string(text: str) -> str:
    """`text` as a BIRD string literal, quotes included; refuses what BIRD cannot represent."""
    if _UNQUOTABLE.search(text):
        raise UnsafeText("contains a double quote, backslash or control character")
    return f'"{text}"'


def comment(text: str) -> str:
    """`text` made safe for a `#` comment: one line, control characters shown escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def bgp_filter_symbol(filter_name: str, direction: str, version: int) -> str:
    """Calico's name for a BGPFilter function, quoted: `'bgp_<name>_importFilterV4'`.

    BIRD 2 (2.0.12 checked) reads a symbol in apostrophes, so Calico's name is kept as is
    (filter names are RFC 1123 subdomains: `-` and `.` are fine inside the quotes). When the
    symbol would exceed 64 characters the name is cut to leave room for `_` and the first 16
    upper-case hex digits of SHA-256(name), exactly as Calico's TruncateAndHashName does: a
    45-character name is kept, a 46-character one is cut.
    """
    fixed = f"bgp__{direction}FilterV{version}"
    room = SYMBOL_MAX - len(fixed)
    name = filter_name
    if len(name) > room:
        digest = hashlib.sha256(filter_name.encode()).hexdigest()[:16].upper()
        name = f"{filter_name[: room - 17]}_{digest}"
    if _UNQUOTABLE.search(name) or "'" in name:
        raise UnsafeText(f"BGPFilter name {filter_name!r} cannot be a quoted BIRD symbol")
    return f"'bgp_{name}_{direction}FilterV{version}'"
