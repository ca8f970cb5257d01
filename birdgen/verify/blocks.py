"""verify: which BGP sessions a new config leaves alone, read from the rendered text (pure).

BIRD restarts a BGP session when its options change, and only then, as a rule; so after a
reload every session that was Established and whose options did not change must still be
Established, with the same "since". A session's options are its `protocol bgp` block plus the
`template bgp` block it is built `from`; both are laid out by birdgen's own template, one
block from `protocol`/`template` at the start of a line to the `}` that closes it at the
start of a line.
"""

from __future__ import annotations

import re

_HEAD = re.compile(r"^(protocol|template) bgp (\S+)(?: from (\S+))? \{$")


def bgp_blocks(text: str) -> dict[str, str]:
    """Each BGP protocol's options as text: its template's block, then its own."""
    templates: dict[str, str] = {}
    protocols: dict[str, tuple[str | None, str]] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _HEAD.match(lines[i])
        if m is None:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end] != "}":
            end += 1
        body = "\n".join(lines[i : end + 1])
        kind, name, parent = m.groups()
        if kind == "template":
            templates[name] = body
        else:
            protocols[name] = (parent, body)
        i = end + 1
    return {
        name: (templates.get(parent, "") if parent else "") + "\n" + body
        for name, (parent, body) in protocols.items()
    }


def unchanged_sessions(before: str, after: str) -> frozenset[str]:
    """The BGP protocols present in both texts with the same options."""
    old, new = bgp_blocks(before), bgp_blocks(after)
    return frozenset(name for name, body in new.items() if old.get(name) == body)
