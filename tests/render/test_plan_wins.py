"""For the prefixes it originates, the plan's route is BIRD's best one and the one exported,
whatever else BIRD learned about the same prefix.

The walkthrough's node-1 config in a real BIRD 2 (private network namespace), plus a static
protocol standing in for a device route of the same prefixes (preference 240, as when the node
holds the Service IP on `lo`): the ToR-facing export filter must still send each prefix, and
only svc4's copy of it. A BGP route can reach preference 200 at most (the import filters raise
priority routes to it); a static stand-in cannot show how BIRD breaks a tie between protocols
of different kinds, so the second test checks that no tie is possible.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bird_daemon import netns_problem
from bird_meaning import Candidate, decide, static_protocol

from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects
from birdgen.sources import files

WALKTHROUGH = Path(__file__).resolve().parents[2] / "examples" / "walkthrough"
MARK = (65535, 7)  # a community only the rival routes carry


def render_node_1() -> str:
    return render_objects(
        files.load([str(WALKTHROUGH)]), Environment.from_mapping("node-1", {})
    ).text


def test_svc4_wins_over_a_device_route_for_its_prefixes(tmp_path: Path) -> None:
    if problem := netns_problem():
        pytest.skip(problem)
    text = render_objects(
        files.load([str(WALKTHROUGH)]), Environment.from_mapping("node-1", {})
    ).text
    own = ["10.49.0.0/16", "10.49.62.131/32"]
    assert all(f"route {p} blackhole;" in text for p in own)
    rivals = [Candidate(p, communities=(MARK,)) for p in own]
    config = text + static_protocol("rival", 4, rivals, " { preference 240; }")
    got = decide(config, ["birdgen_export_v4"], tmp_path, min_routes=2 * len(own))
    exported = got["birdgen_export_v4"]
    assert sorted(exported) == sorted(own)
    assert all("BGP.community" not in attrs for attrs in exported.values()), exported


def test_svc_preference_is_above_every_preference_the_config_assigns() -> None:
    text = render_node_1()
    svc = {
        int(p)
        for p in re.findall(r"protocol static svc[46] \{\n  ipv[46] \{ preference (\d+);", text)
    }
    assigned = {int(p) for p in re.findall(r"\bpreference = (\d+);", text)}
    assert len(svc) == 1 and assigned, (svc, assigned)
    # 240: BIRD's default for device routes, the highest of its defaults.
    assert min(svc) > max(assigned | {240})
