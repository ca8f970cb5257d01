"""What a running BIRD says about itself: `show status`, `show protocols all`, `show route`.

Place in the pipeline: beside **reload**. `BirdControl` (birdgen.reload.control) carries the
commands; this module turns BIRD 2's answers into records, and is the one place that knows the
layout of that text. The parsers are pure (text in, records out) so they are tested on canned
replies as well as on a real daemon; `read_*` are the thin readers over a connection.

Layouts, as BIRD 2.0.12 prints them (codes stripped by the client):

    show status           BIRD 2.0.12 / Router ID is … / Last reconfiguration on … / Daemon is up…
    show protocols all    one row per protocol (Name Proto Table State Since Info), then
                          indented details: "BGP state:", "Neighbor address:", "Last error:",
                          and per channel "Channel ipv4" … "Routes: 0 imported, 2 exported, …",
                          then "Route change stats:" with its column names and one row each
                          of "Import updates:", "Import withdraws:", "Export updates:",
                          "Export withdraws:" (a number per column, "---" where none applies)
    show route …          "Table master4:", then "PREFIX  TYPE [PROTO TIME] * (PREF)"; further
                          routes for the same prefix start with blanks; next hops with a tab
    show route … count    "2 of 7 routes for 4 networks in table master4"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from birdgen.errors import ReloadFailed
from birdgen.reload.control import BirdControl, Reply

CODE_NO_TABLES = 9001  # "No valid tables": e.g. `show route export P` while P is down


@dataclass(frozen=True)
class BirdStatus:
    version: str  # "2.0.12"
    router_id: str
    server_time: str
    last_reboot: str
    last_reconfiguration: str
    state: str  # "Daemon is up and running", "Reconfiguration in progress", ...

    @property
    def reconfiguring(self) -> bool:
        return "reconfigur" in self.state.lower()


@dataclass(frozen=True)
class ChangeCounts:
    """One row of a channel's "Route change stats": how many route changes (updates, or
    withdraws) of one direction the channel was handed, and what became of them. None where
    BIRD prints "---" (the column does not apply to that row). For a BGP channel, import
    "received" counts what the neighbour sent, export "accepted" what was sent to it."""

    received: int | None
    rejected: int | None
    filtered: int | None
    ignored: int | None
    accepted: int | None


@dataclass(frozen=True)
class RouteChanges:
    """A channel's "Route change stats", counted since the channel last came up."""

    import_updates: ChangeCounts
    import_withdraws: ChangeCounts
    export_updates: ChangeCounts
    export_withdraws: ChangeCounts


@dataclass(frozen=True)
class Channel:
    family: str  # "ipv4", "ipv6"
    state: str  # "UP", "DOWN", ...
    imported: int | None = None
    exported: int | None = None
    changes: RouteChanges | None = None  # None while the channel has none to show (down)


@dataclass(frozen=True)
class Protocol:
    """One protocol of `show protocols all`."""

    name: str
    proto: str  # "BGP", "Static", "Kernel", ...
    table: str
    state: str  # "up", "down", "start", ...
    since: str
    info: str  # for BGP: "Established", "Active", "Passive", ...
    description: str = ""
    bgp_state: str = ""  # "Established", "Active", "Down", ...
    neighbor: str = ""
    neighbor_as: str = ""
    last_error: str = ""
    channels: tuple[Channel, ...] = ()

    @property
    def is_bgp(self) -> bool:
        return self.proto == "BGP"

    @property
    def established(self) -> bool:
        return self.is_bgp and (self.bgp_state or self.info.split(" ")[0]) == "Established"

    @property
    def exported(self) -> int:
        """Routes BIRD has sent to this protocol, over all its channels (0 while down)."""
        return sum(c.exported or 0 for c in self.channels)


@dataclass(frozen=True)
class RouteSet:
    """The prefixes of a `show route` listing, each with the protocols it came from."""

    sources: dict[str, frozenset[str]] = field(default_factory=dict)  # prefix -> protocols

    @property
    def prefixes(self) -> frozenset[str]:
        return frozenset(self.sources)


# --- parsers (pure) ---------------------------------------------------------------------------


def parse_status(text: str) -> BirdStatus:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    values: dict[str, str] = {}
    for line in lines:
        for key, label in _STATUS_LABELS:
            if line.startswith(label):
                values[key] = line[len(label) :].strip()
    version = ""
    if lines and lines[0].startswith("BIRD "):
        version = lines[0][len("BIRD ") :].strip()
    return BirdStatus(
        version=version,
        router_id=values.get("router_id", ""),
        server_time=values.get("server_time", ""),
        last_reboot=values.get("last_reboot", ""),
        last_reconfiguration=values.get("last_reconfiguration", ""),
        state=lines[-1] if lines else "",
    )


_STATUS_LABELS = (
    ("router_id", "Router ID is "),
    ("server_time", "Current server time is "),
    ("last_reboot", "Last reboot on "),
    ("last_reconfiguration", "Last reconfiguration on "),
)

_ROUTES = re.compile(r"(\d+) imported,(?: (\d+) filtered,)? (\d+) exported")
_CHANGE_COLUMNS = ("received", "rejected", "filtered", "ignored", "accepted")
_CHANGE_ROWS = {
    "Import updates:": "import_updates",
    "Import withdraws:": "import_withdraws",
    "Export updates:": "export_updates",
    "Export withdraws:": "export_withdraws",
}
_DETAILS = {
    "Description:": "description",
    "BGP state:": "bgp_state",
    "Neighbor address:": "neighbor",
    "Neighbor AS:": "neighbor_as",
    "Last error:": "last_error",
}


def parse_protocols(text: str) -> dict[str, Protocol]:
    """`show protocols` or `show protocols all`, keyed by protocol name, in BIRD's order."""
    out: dict[str, Protocol] = {}
    row: list[str] | None = None
    details: dict[str, str] = {}
    channels: list[Channel] = []
    channel: dict[str, str] | None = None
    columns: list[str] = []  # the "Route change stats:" header of the channel being read
    changes: dict[str, ChangeCounts] = {}

    def close_channel() -> None:
        nonlocal channel, columns, changes
        if channel is not None:
            channels.append(
                Channel(
                    channel["family"],
                    channel.get("state", ""),
                    _int(channel.get("imported")),
                    _int(channel.get("exported")),
                    RouteChanges(**changes) if len(changes) == len(_CHANGE_ROWS) else None,
                )
            )
            channel = None
        columns, changes = [], {}

    def close_row() -> None:
        nonlocal row, details, channels
        close_channel()
        if row is not None:
            name, proto, table, state, since, *rest = row
            out[name] = Protocol(
                name, proto, table, state, since, rest[0].strip() if rest else "",
                channels=tuple(channels), **details,
            )  # fmt: skip
        row, details, channels = None, {}, []

    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            close_row()
            if line.startswith("Name ") or line.startswith("BIRD "):
                continue
            parts = line.split(None, 5)
            if len(parts) >= 5:
                row = parts
            continue
        if row is None:
            continue
        stripped = line.strip()
        if stripped.startswith("Channel "):
            close_channel()
            channel = {"family": stripped.split(None, 1)[1]}
            continue
        if channel is not None:
            if stripped.startswith("State:"):
                channel["state"] = stripped.split(":", 1)[1].strip()
            elif stripped.startswith("Routes:"):
                m = _ROUTES.search(stripped)
                if m is not None:
                    channel["imported"], channel["exported"] = m.group(1), m.group(3)
            elif stripped.startswith("Route change stats:"):
                columns = stripped.split(":", 1)[1].split()
            elif columns and (label := stripped.split(":", 1)[0] + ":") in _CHANGE_ROWS:
                changes[_CHANGE_ROWS[label]] = _change_counts(columns, stripped)
            continue
        for label, key in _DETAILS.items():
            if stripped.startswith(label) and key not in details:
                details[key] = stripped[len(label) :].strip()
    close_row()
    return out


def parse_routes(text: str) -> RouteSet:
    """Route lines read "10.49.0.0/16   blackhole [svc4 20:41:39.296] * (200)"; a further
    route for the same prefix is the same line without the prefix (it starts with blanks),
    next hops start with a tab. Plain string operations, and one shared set per source: a
    listing may be 100,000 lines."""
    first: dict[str, str] = {}  # prefix -> its first source; most prefixes have only one
    more: dict[str, set[str]] = {}
    prefix = ""
    for line in text.splitlines():
        if not line or line[0] == "\t" or line.startswith("Table "):
            continue
        start = line.find(" [")
        if start < 0:
            continue
        end = line.find(" ", start + 2)
        proto = line[start + 2 : end if end >= 0 else None].rstrip("]")
        if not line[0].isspace():
            prefix = line[: line.find(" ")]
        if not prefix:
            continue
        seen = first.setdefault(prefix, proto)
        if seen != proto:
            more.setdefault(prefix, {seen}).add(proto)
    singles = {proto: frozenset({proto}) for proto in set(first.values())}
    sources = {p: singles[proto] for p, proto in first.items()}
    sources.update((p, frozenset(s)) for p, s in more.items())
    return RouteSet(sources)


_COUNT = re.compile(r"(\d+) of \d+ routes")


def parse_count(text: str) -> int:
    """The routes shown by a `… count` command, summed over its tables."""
    lines = [line for line in text.splitlines() if not line.startswith("Total:")]
    return sum(int(m.group(1)) for line in lines if (m := _COUNT.match(line.strip())))


def _int(value: str | None) -> int | None:
    return int(value) if value is not None else None


def _change_counts(columns: list[str], row: str) -> ChangeCounts:
    """A row such as "Import updates:  1004  0  0  0  1004", read under the header's columns
    by name: a column BIRD does not print is None, as is "---"."""
    cells = dict(zip(columns, row.split(":", 1)[1].split(), strict=False))
    values = [cells.get(column, "") for column in _CHANGE_COLUMNS]
    return ChangeCounts(*(int(v) if v.isdigit() else None for v in values))


# --- readers over a connection ----------------------------------------------------------------


def _ok(reply: Reply, what: str) -> Reply:
    if not (reply.ok or 1000 <= reply.code < 8000):
        raise ReloadFailed(f"{what}: {reply.summary}")
    return reply


def read_status(bird: BirdControl) -> BirdStatus:
    return parse_status(_ok(bird.command("show status"), "show status").text)


def read_protocols(bird: BirdControl) -> dict[str, Protocol]:
    return parse_protocols(_ok(bird.command("show protocols all"), "show protocols all").text)


def read_routes(bird: BirdControl, selector: str) -> RouteSet:
    """`show route <selector>`, e.g. `protocol svc4` or `export Global_192_168_1_1`.

    A protocol that has no table to show (a BGP session that is down) shows no routes.
    """
    reply = bird.command(f"show route {selector}")
    if reply.code == CODE_NO_TABLES:
        return RouteSet()
    return parse_routes(_ok(reply, f"show route {selector}").text)


def read_count(bird: BirdControl, selector: str) -> int:
    """`show route <selector> count`: how many routes, without transferring them."""
    reply = bird.command(f"show route {selector} count")
    if reply.code == CODE_NO_TABLES:
        return 0
    return parse_count(_ok(reply, f"show route {selector} count").text)
