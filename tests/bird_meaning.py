"""What a BIRD config means, as data: its BGP sessions, its static routes, and what each session's
filters decide about a set of candidate routes, evaluated by the real BIRD 2.

Used to compare birdgen's configs with Calico's goldens by meaning rather than text
(tests/test_calico_corpus.py, and tests/derive_calico_expectations.py, which recorded what
Calico's goldens decide). It reads the session syntax BIRD 1.x and 2.x share; Calico's filter
functions are BIRD 1.x text that BIRD 2 also loads (every corpus scenario's do).

Filter decisions: the candidates are static routes ("static twins") with the BGP attributes they
would carry, loaded together with the filter code into a BIRD 2 in a private network namespace;
`show route primary filter F all` then says which candidates filter F accepts and with which
attributes. Twins are static routes, so conditions on `source = RTS_BGP` and on `ifname` are
false for every candidate, on both sides alike.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bird_daemon import BirdDaemon

# Session statements that only shape the transport or the log, not what the session is.
_IGNORED = re.compile(
    r"^(description .*|debug .*|gateway recursive|add paths on|graceful restart( on)?|"
    r"connect delay time .*|connect retry time .*|error wait time .*|strict bind on|"
    r"import all|export none|ipv[46])$"
)


def block(text: str, open_brace: int) -> tuple[str, int]:
    """The text inside the `{` at `open_brace` and the index just past its matching `}`."""
    assert text[open_brace] == "{", text[open_brace : open_brace + 20]
    depth, i, quoted = 0, open_brace, False
    while i < len(text):
        c = text[i]
        if c == '"':
            quoted = not quoted
        elif not quoted and c == "#":
            i = text.find("\n", i)
            if i < 0:
                break
            continue
        elif not quoted and c == "{":
            depth += 1
        elif not quoted and c == "}":
            depth -= 1
            if depth == 0:
                return text[open_brace + 1 : i], i + 1
        i += 1
    raise ValueError(f"unbalanced braces from offset {open_brace}")


def _strip_comments(text: str) -> str:
    return "\n".join(
        re.sub(r'^((?:[^"#]|"[^"]*")*)#.*$', r"\1", line) for line in text.splitlines()
    )


def blocks(text: str, head: str) -> dict[str, str]:
    """Every top-level `<head> NAME ... {` block (e.g. head "protocol bgp"), by name."""
    out = {}
    for m in re.finditer(rf"^\s*{head} ('[^']+'|[\w-]+)[^{{\n]*\{{", text, re.M):
        body, _ = block(text, m.end() - 1)
        out[m.group(1)] = body
    return out


def functions(text: str) -> list[str]:
    """Every top-level `function NAME(...) { ... }` definition, as text."""
    out = []
    for m in re.finditer(r"^function ('[^']+'|\w+)\s*\([^)]*\)\s*\{", text, re.M):
        _, end = block(text, m.end() - 1)
        out.append(text[m.start() : end])
    return out


def _pop_inline_filters(body: str) -> tuple[str, dict[str, str]]:
    """`body` without its `import filter { … };` / `export filter { … };` blocks, and those."""
    found: dict[str, str] = {}
    while m := re.search(r"\b(import|export) filter \{", body):
        inner, end = block(body, m.end() - 1)
        found[m.group(1)] = inner
        end = end + 1 if body[end : end + 1] == ";" else end
        body = body[: m.start()] + body[end:]
    return body, found


@dataclass(frozen=True)
class Session:
    """A BGP session reduced to what it is: its statements, normalised, and its filters."""

    name: str
    local_as: str
    options: tuple[str, ...]
    filters: Mapping[str, str] = field(default_factory=dict)  # "import"/"export" -> code
    named_filters: Mapping[str, str] = field(default_factory=dict)  # -> filter name

    def summary(self) -> dict[str, Any]:
        return {"local as": self.local_as, "options": list(self.options)}


def _statements(body: str) -> list[str]:
    body = re.sub(r"\bipv[46]\s*\{", ";", body).replace("}", ";")
    return [" ".join(s.split()) for s in body.split(";") if s.strip()]


def neighbor_family(options: Iterable[str]) -> int:
    """The address family of a session, from its `neighbor` statement."""
    neighbor = next(o for o in options if o.startswith("neighbor "))
    return 6 if ":" in neighbor.split()[1] else 4


def sessions(text: str) -> dict[str, Session]:
    """The BGP sessions of a BIRD 1.x or 2.x config, with template statements folded in."""
    text = _strip_comments(text)
    templates = blocks(text, "template bgp")
    out = {}
    for m in re.finditer(r"^protocol bgp (\S+)(?: from (\S+))?\s*\{", text, re.M):
        name, template = m.group(1), m.group(2)
        body, _ = block(text, m.end() - 1)
        tbody = templates.get(template or "", "")
        local_as = ""
        named: dict[str, str] = {}
        options: list[str] = []
        inline: dict[str, str] = {}
        for part in (tbody, body):
            rest, filters = _pop_inline_filters(part)
            inline.update(filters)
            for stmt in _statements(rest):
                if la := re.fullmatch(r"local(?: \S+)?(?: port \d+)? as (\d+)", stmt):
                    local_as = la.group(1)
                elif nf := re.fullmatch(r"(import|export) filter (\S+)", stmt):
                    named[nf.group(1)] = nf.group(2)
                elif not _IGNORED.match(stmt):
                    options.append(stmt)
        for direction in inline:
            named.pop(direction, None)
        out[name] = Session(name, local_as, tuple(sorted(options)), inline, named)
    return out


def node_settings(text: str) -> dict[str, str]:
    """The node-wide settings both configs spell the same way: router id, and the interfaces
    the direct protocol takes (Calico's in a `template direct`, birdgen's in `protocol direct`)."""
    text = _strip_comments(text)
    out = {}
    if m := re.search(r"^router id (\S+);", text, re.M):
        out["router id"] = m.group(1)
    for m in re.finditer(r"^(?:template|protocol) direct\b[^{\n]*\{", text, re.M):
        body, _ = block(text, m.end() - 1)
        if i := re.search(r"\binterface ([^;]+);", body):
            out["direct interfaces"] = " ".join(i.group(1).split())
    return out


def listen(text: str, family: int) -> str:
    """Where the BGP speaker of `family` listens, as "address:port" ("*" for any address).

    Calico (BIRD 1.x, one file per family) says `listen bgp [address A] [port P];`; birdgen
    (BIRD 2) puts `local [A] [port P] as N;` plus `strict bind on;` in its `bgp4`/`bgp6`
    template, the address binding only with strict bind. "" when no session of `family`
    exists: then no peer is listened for (Calico's BIRD6 without peers, birdgen without IPv6)."""
    if family not in {neighbor_family(s.options) for s in sessions(text).values()}:
        return ""
    text = _strip_comments(text)
    if m := re.search(r"^listen bgp(?: address (\S+))?(?: port (\d+))?;", text, re.M):
        return f"{m.group(1) or '*'}:{m.group(2) or 179}"
    templates = blocks(text, "template bgp")
    body = templates.get(f"bgp{family}", "")
    address = port = None
    # The template says `local as N;` first, then `local [A] [port P] as N;` when it has either.
    for m in re.finditer(r"^\s*local (?:(?!as )(\S+) )?(?:port (\d+) )?as \d+;", body, re.M):
        address = m.group(1) if m.group(1) and "strict bind on;" in body else address
        port = m.group(2) or port
    return f"{address or '*'}:{port or 179}"


def static_routes(text: str, protocols: Iterable[str] | None = None) -> list[str]:
    """Prefixes of `route P blackhole;` lines in static protocols (all, or those named)."""
    text = _strip_comments(text)
    out = []
    for m in re.finditer(
        r"^\s*(?:protocol|template) static ?(\S*)\s*(?:from \S+\s*)?\{", text, re.M
    ):
        if protocols is not None and m.group(1) not in protocols:
            continue
        body, _ = block(text, m.end() - 1)
        out += re.findall(r"route (\S+) blackhole", body)
    return out


# --- candidates and their evaluation ------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A route as it sits in the node's table. `own`: this node originates it (a Service route);
    otherwise it is some other route for the prefix (say, an address held on an interface)."""

    prefix: str
    own: bool = False
    as_path: tuple[int, ...] = ()
    communities: tuple[tuple[int, ...], ...] = ()
    local_pref: int | None = None
    krt_metric: int | None = None

    def route_line(self) -> str:
        stmts = [f"bgp_path.prepend({asn});" for asn in reversed(self.as_path)]
        for c in self.communities:
            attr = "bgp_large_community" if len(c) == 3 else "bgp_community"
            stmts.append(f"{attr}.add(({', '.join(map(str, c))}));")
        if self.local_pref is not None:
            stmts.append(f"bgp_local_pref = {self.local_pref};")
        if self.krt_metric is not None:
            stmts.append(f"krt_metric = {self.krt_metric};")
        attrs = f" {{ {' '.join(stmts)} }}" if stmts else ""
        return f"  route {self.prefix} blackhole{attrs};"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"prefix": self.prefix, "own": self.own}
        if self.as_path:
            out["as_path"] = list(self.as_path)
        if self.communities:
            out["communities"] = [list(c) for c in self.communities]
        if self.local_pref is not None:
            out["local_pref"] = self.local_pref
        if self.krt_metric is not None:
            out["krt_metric"] = self.krt_metric
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Candidate:
        return cls(
            d["prefix"],
            bool(d.get("own")),
            tuple(d.get("as_path", ())),
            tuple(tuple(c) for c in d.get("communities", ())),
            d.get("local_pref"),
            d.get("krt_metric"),
        )


def static_protocol(name: str, family: int, candidates: Iterable[Candidate], pref: str = "") -> str:
    lines = [f"protocol static {name} {{", f"  ipv{family}{pref};"]
    lines += [c.route_line() for c in candidates]
    return "\n".join([*lines, "}"]) + "\n"


_ROUTE_HEAD = re.compile(r"^(\S+)\s+\S+.*\((\d+)\)")


def parse_show_route(text: str) -> dict[str, dict[str, str]]:
    """`show route … all` output -> prefix -> {"preference": …, "BGP.x": …} of each route shown."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if m := _ROUTE_HEAD.match(line):
            if m.group(1) == "Table":
                continue
            current = out.setdefault(m.group(1), {"preference": m.group(2)})
        elif current is not None and (a := re.match(r"^\s+(BGP\.\w+): (.*)$", line)):
            current[a.group(1)] = a.group(2).strip()
    return out


def view(
    decisions: Mapping[str, Mapping[str, Mapping[str, str]]], direction: str
) -> dict[str, Any]:
    """Decisions as compared: on export only the BGP attributes a peer receives (a route's
    preference never leaves the node); on import the preference too."""
    return {
        session: {
            prefix: {k: v for k, v in attrs.items() if direction == "import" or k != "preference"}
            for prefix, attrs in sorted(routes.items())
        }
        for session, routes in sorted(decisions.items())
    }


def decide(
    config: str, filter_names: Iterable[str], workdir: Path, *, min_routes: int
) -> dict[str, dict[str, dict[str, str]]]:
    """Run `config` in a private BIRD 2 and apply each named filter to the table's best routes:
    filter -> accepted prefix -> its attributes after the filter. Waits (bounded) until the
    table holds at least `min_routes` routes, the candidates among them."""
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "bird.conf"
    conf.write_text(config)
    sockdir = Path(tempfile.mkdtemp(prefix="bgm-", dir="/tmp"))
    daemon = BirdDaemon(workdir, conf, str(sockdir / "s"))
    daemon.start()
    try:
        with daemon.control() as ctl:
            deadline = time.monotonic() + 10
            while _route_count(ctl.command("show route count").text) < min_routes:
                if time.monotonic() > deadline:
                    raise AssertionError(f"BIRD's table never held {min_routes} routes")
                time.sleep(0.05)
            return {
                name: parse_show_route(ctl.command(f"show route primary filter {name} all").text)
                for name in filter_names
            }
    finally:
        daemon.stop()
        for p in sockdir.iterdir():
            p.unlink()
        sockdir.rmdir()


def _route_count(text: str) -> int:
    return sum(int(n) for n in re.findall(r"(\d+) of \d+ routes", text))
