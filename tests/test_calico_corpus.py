"""Calico's confd corpus, here: each golden/calico-<name>/ holds a corpus scenario's inputs and
`expected.json`, what Calico's goldens mean (recorded by tests/derive_calico_expectations.py).
birdgen must mean the same, by meaning rather than text:

* the same router id, direct-protocol interfaces and BGP listen address and port;
* the same BGP sessions, each with the same local AS and statements (neighbor, port, AS,
  source address, TTL security, passive, password, RR client, next hop, timers, allow local as);
* the same service routes originated;
* for every session, the same export and import decisions over the scenario's candidate
  routes: which it accepts and with which BGP attributes (and, on import, preference). birdgen's
  rendered config runs in a real BIRD 2 in a private network namespace, with the candidates as
  static twins: the node's own routes in svc4/svc6, others in a protocol of their own.

Where birdgen differs on purpose, the scenario's `divergences.json` names the difference and the
README's divergence it follows from; the test checks that each listed difference is real (so the
list cannot go stale) and that the README still says so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from bird_daemon import netns_problem
from bird_meaning import (
    Candidate,
    decide,
    listen,
    neighbor_family,
    node_settings,
    sessions,
    static_protocol,
    static_routes,
    view,
)
from golden_scenarios import scenario_env

from birdgen.pipeline import render_objects
from birdgen.sources import files

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "golden"
README = (ROOT / "README.md").read_text()
SCENARIOS = sorted(p.parent for p in GOLDEN.glob("calico-*/expected.json"))

# Why birdgen differs from Calico, each the README's own words (checked to be there).
REASONS = {
    "held-addresses": "an address\n  held on an interface inside a service range is not exported",
}


def test_there_are_corpus_scenarios() -> None:
    assert len(SCENARIOS) >= 20


def load(scenario: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    expected = json.loads((scenario / "expected.json").read_text())
    div_file = scenario / "divergences.json"
    divergences = json.loads(div_file.read_text()) if div_file.exists() else {}
    for part in divergences.values():
        for key, reason in part.items():
            assert reason in REASONS, f"{scenario.name}: {key}: unknown divergence {reason!r}"
    return expected, divergences


def compare(
    what: str, want: dict[str, Any], got: dict[str, Any], divergences: dict[str, str]
) -> None:
    """`got` equals `want` except under the keys `divergences` names, which must differ.
    A key "* X" stands for every key ending in " X" (every session's decision about X)."""
    divergences = {
        k: reason
        for key, reason in divergences.items()
        for k in ([w for w in want if w.endswith(key[1:])] if key.startswith("* ") else [key])
    }
    for key, reason in divergences.items():
        assert want.get(key) != got.get(key), (
            f"{what} {key}: listed as a divergence ({reason}) but birdgen agrees with Calico"
        )
    keep = lambda d: {k: v for k, v in d.items() if k not in divergences}  # noqa: E731
    assert keep(got) == keep(want), f"{what} differ from Calico's"


def flatten(decisions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """session -> prefix -> attrs as "session prefix" -> attrs (absent: not accepted)."""
    return {f"{s} {p}": a for s, routes in decisions.items() for p, a in routes.items()}


def explode(
    decisions: dict[str, dict[str, Any]], families: dict[str, str], prefixes: list[str]
) -> dict[str, Any]:
    """Every (session, candidate of its family) pair: its attributes, or None when rejected."""
    flat = flatten(decisions)
    return {
        f"{s} {p}": flat.get(f"{s} {p}")
        for s, fam in families.items()
        for p in prefixes
        if (":" in p) == (fam == "6")
    }


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_same_sessions_and_routes(scenario: Path) -> None:
    expected, divergences = load(scenario)
    rendered = render_objects(files.load([str(scenario / "input")]), scenario_env(scenario))
    got = {name: s.summary() for name, s in sessions(rendered.text).items()}
    compare("sessions", expected["sessions"], got, divergences.get("sessions", {}))
    if "node" in expected:
        ours = {
            **node_settings(rendered.text),
            "listen v4": listen(rendered.text, 4),
            "listen v6": listen(rendered.text, 6),
        }
        compare("node settings", expected["node"], ours, divergences.get("node", {}))
    for fam in ("4", "6"):
        routes = sorted(static_routes(rendered.text, [f"svc{fam}"]))
        assert routes == sorted(expected["routes"][fam]), f"IPv{fam} service routes"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_same_filter_decisions(scenario: Path, tmp_path: Path) -> None:
    if problem := netns_problem():
        pytest.skip(problem)
    expected, divergences = load(scenario)
    rendered = render_objects(files.load([str(scenario / "input")]), scenario_env(scenario))
    text = rendered.text
    ours = sessions(text)
    cands = {
        fam: [Candidate.from_json(c) for c in expected["candidates"][fam]] for fam in ("4", "6")
    }
    common = sorted(set(ours) & set(expected["sessions"]))
    for direction in ("export", "import"):
        config, names = text, dict[str, list[str]]()
        for i, name in enumerate(common):
            s = ours[name]
            if direction in s.filters:
                names[f"meaning_{direction}_{i}"] = [name]
                config += f"\nfilter meaning_{direction}_{i} {{{s.filters[direction]}}}\n"
            elif direction in s.named_filters:
                names.setdefault(s.named_filters[direction], []).append(name)
        config = with_candidates(config, cands, direction)
        total = sum(len(c) for c in cands.values())
        got = decide(config, names, tmp_path / direction, min_routes=total) if names else {}
        ours_by_session = {
            name: got.get(fname, {}) for fname, group in names.items() for name in group
        }
        prefixes = [c.prefix for fam in cands.values() for c in fam]
        families = {
            name: str(neighbor_family(expected["sessions"][name]["options"])) for name in common
        }
        want = explode(expected[direction], families, prefixes)
        have = explode(view(ours_by_session, direction), families, prefixes)
        compare(f"{direction} decisions", want, have, divergences.get(direction, {}))


def with_candidates(config: str, cands: dict[str, list[Candidate]], direction: str) -> str:
    """birdgen's config with the candidates in its table. For export, the node's own routes
    replace svc4/svc6's (keeping their channel options) and the others sit in a protocol of
    their own; for import all are plain twins at BGP's preference, svc4/svc6 emptied."""
    for fam, group in cands.items():
        own = [c for c in group if c.own and direction == "export"]
        pattern = re.compile(
            rf"(protocol static svc{fam} \{{\n  ipv{fam}[^\n]*\n)(.*?)(\}}\n)", re.S
        )
        assert pattern.search(config), f"svc{fam} not found"
        lines = "".join(c.route_line() + "\n" for c in own)
        config = pattern.sub(
            lambda m, lines=lines: m.group(1) + lines + m.group(3), config, count=1
        )
        others = [c for c in group if c not in own]
        if others:
            pref = " { preference 100; }" if direction == "import" else ""
            config += "\n" + static_protocol(f"twins{fam}", int(fam), others, pref)
    return config


def test_every_reason_is_in_the_readme() -> None:
    for key, phrase in REASONS.items():
        assert phrase in README, f"README no longer says {phrase!r} ({key})"
