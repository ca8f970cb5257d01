"""The plan against canned observations: what counts as drift, where, and with which reason."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects
from birdgen.plan import NodePlan
from birdgen.reload.show import BirdStatus, Protocol, RouteSet
from birdgen.sources import files
from birdgen.verify.drift import Observed, compare

ROOT = Path(__file__).resolve().parents[2]
RANGE, NGINX = "10.49.0.0/16", "10.49.62.131/32"
TOR, MESH2, MESH3 = "Global_192_168_1_1", "Mesh_192_168_1_12", "Mesh_192_168_1_13"
STATUS = BirdStatus(
    "2.0.12", "192.168.1.11", "", "", "2026-12-01 20:41:39.296", "Daemon is up and running"
)


def plan_for(node: str, directory: Path = ROOT / "examples/walkthrough") -> NodePlan:
    return render_objects(files.load([str(directory)]), Environment.from_mapping(node, {})).plan


def bgp(
    name: str, state: str = "up", bgp_state: str = "Established", exported: int = 2
) -> Protocol:
    from birdgen.reload.show import Channel

    return Protocol(name, "BGP", "---", state, "20:41:40.007", bgp_state, bgp_state=bgp_state,
                    neighbor="192.168.1.1", channels=(Channel("ipv4", "UP", 0, exported),))  # fmt: skip


def own(*prefixes: str, source: str = "svc4") -> RouteSet:
    return RouteSet({p: frozenset({source}) for p in prefixes})


def observed(plan: NodePlan, **changes: object) -> Observed:
    base = Observed(
        status=STATUS,
        protocols={n: bgp(n) for n in (TOR, MESH2, MESH3)},
        tables={"svc4": own(RANGE, NGINX)},
        exports={n: own(RANGE, NGINX) for n in (TOR, MESH2, MESH3)},
        kernel=("0.0.0.0/0", "192.168.1.0/24"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def node1() -> NodePlan:
    return plan_for("node-1")


def test_in_step(node1: NodePlan) -> None:
    drift = compare(node1, observed(node1))
    assert drift.clean, drift
    assert set(drift.counts().values()) == {0}
    assert {w for w, _ in drift.counts()} == {"svc4", TOR, MESH2, MESH3, "kernel"}
    assert drift.planned == (RANGE, NGINX)
    assert [(s.name, s.state, s.exported, s.planned) for s in drift.sessions] == [
        (TOR, "Established", 2, 2),
        (MESH2, "Established", 2, 2),
        (MESH3, "Established", 2, 2),
    ]


def test_disabled_session_misses_everything(node1: NodePlan) -> None:
    obs = observed(node1)
    obs = replace(obs, protocols={**obs.protocols, TOR: bgp(TOR, "down", "Down", 0)},
                  exports={k: v for k, v in obs.exports.items() if k != TOR})  # fmt: skip
    drift = compare(node1, obs)
    assert [(f.where, f.kind, f.prefix) for f in drift.findings] == [
        (TOR, "missing", RANGE),
        (TOR, "missing", NGINX),
    ]
    assert "nginx" in drift.findings[1].reason  # the plan's reason for the prefix
    assert [(s.name, s.problem) for s in drift.session_problems] == [(TOR, "disabled")]
    assert drift.counts()[(TOR, "missing")] == 2 and drift.counts()[(MESH2, "missing")] == 0


def test_peer_not_there_is_not_drift(node1: NodePlan) -> None:
    obs = observed(node1)
    obs = replace(obs, protocols={**obs.protocols, TOR: bgp(TOR, "start", "Active", 0)},
                  exports={k: v for k, v in obs.exports.items() if k != TOR})  # fmt: skip
    drift = compare(node1, obs)
    assert drift.clean
    assert drift.sessions[0].state == "Active"


def test_route_missing_from_svc4_and_exports(node1: NodePlan) -> None:
    obs = observed(
        node1, tables={"svc4": own(RANGE)}, exports={n: own(RANGE) for n in (TOR, MESH2, MESH3)}
    )
    drift = compare(node1, obs)
    assert {(f.where, f.prefix) for f in drift.missing} == {
        ("svc4", NGINX),
        (TOR, NGINX),
        (MESH2, NGINX),
        (MESH3, NGINX),
    }
    assert not drift.unexpected


def test_unexpected_exports_but_passed_on_bgp_routes_are_planned(node1: NodePlan) -> None:
    exported = RouteSet({
        RANGE: frozenset({"svc4"}), NGINX: frozenset({"svc4"}),
        "10.49.7.7/32": frozenset({MESH2}),  # another node's, inside the range: passed on
        "192.168.1.0/24": frozenset({"direct1"}),  # not a service route at all
        "10.50.0.0/16": frozenset({MESH2}),  # learned over BGP but outside every range
    })  # fmt: skip
    drift = compare(
        node1,
        observed(
            node1, exports={TOR: exported, MESH2: own(RANGE, NGINX), MESH3: own(RANGE, NGINX)}
        ),
    )
    assert [(f.where, f.prefix, f.reason) for f in drift.unexpected] == [
        (TOR, "10.50.0.0/16", "not in the plan"),
        (TOR, "192.168.1.0/24", "not in the plan"),
    ]


def test_withheld_prefix_carries_the_plans_reason() -> None:
    node3 = plan_for("node-3")  # nginx is Local with no endpoint on node-3: withheld
    obs = observed(node3, tables={"svc4": own(RANGE, NGINX)},
                   protocols={n: bgp(n) for n in ("Global_192_168_1_1", "Mesh_192_168_1_11", "Mesh_192_168_1_12")},
                   exports={n: own(RANGE) for n in ("Global_192_168_1_1", "Mesh_192_168_1_11", "Mesh_192_168_1_12")})  # fmt: skip
    drift = compare(node3, obs)
    [f] = drift.findings
    assert (f.where, f.kind, f.prefix) == ("svc4", "unexpected", NGINX)
    assert "no ready endpoint on this node" in f.reason


def test_kernel_must_hold_no_service_route(node1: NodePlan) -> None:
    drift = compare(
        node1, observed(node1, kernel=("0.0.0.0/0", NGINX, "10.49.1.0/24", "10.50.0.0/16"))
    )
    assert [(f.where, f.prefix) for f in drift.findings] == [
        ("kernel", "10.49.1.0/24"),
        ("kernel", NGINX),
    ]
    assert compare(node1, observed(node1, kernel=None)).clean  # not read: not compared


def test_sessions_absent_or_unplanned(node1: NodePlan) -> None:
    obs = observed(node1)
    protocols = {k: v for k, v in obs.protocols.items() if k != MESH3} | {"Extra": bgp("Extra")}
    drift = compare(node1, replace(obs, protocols=protocols))
    assert [(s.name, s.problem) for s in drift.session_problems] == [
        (MESH3, "not in BIRD's config"),
        ("Extra", "not in the plan"),
    ]


def test_sessions_with_bgpfilters_are_only_counted() -> None:
    plan = plan_for("kube-master", ROOT / "golden/peering/bgpfilter/input")
    filtered = [s for f in plan.families for s in f.sessions if s.export_filters]
    assert filtered
    names = [s.name for f in plan.families if f.enabled for s in f.sessions]
    obs = Observed(
        STATUS, {n: bgp(n, exported=7) for n in names}, {}, {n: own("1.2.3.0/24") for n in names}
    )
    drift = compare(plan, obs)
    compared = {f.where for f in drift.unexpected}
    assert compared and not compared & {s.name for s in filtered}
    assert all(v.planned is None for v in drift.sessions if v.name in {s.name for s in filtered})
