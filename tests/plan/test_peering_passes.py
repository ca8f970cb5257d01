"""plan/peers: the peering passes' precedence rules, passive side, RR clients and next hop.

Table-driven: each case is a handful of manifests and the sessions (or one session attribute)
node `me` must end up with. IPv4 and IPv6 run through the same bodies by naming addresses
symbolically ("ME", "N1", ...), as the style guide asks.
"""

from __future__ import annotations

from typing import Any

import pytest
from manifests import bgp_configuration, bgp_peer

from birdgen.errors import InvalidInput
from birdgen.model.parse import parse_cluster
from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects
from birdgen.plan.build import build_plan
from birdgen.plan.types import NodePlan, Session

ADDR = {
    4: {
        "ME": "10.0.0.2",
        "N1": "10.0.0.3",
        "N10": "10.0.0.10",
        "RR": "10.0.0.9",
        "EXT": "10.9.9.9",
    },
    6: {"ME": "fd00::2", "N1": "fd00::3", "N10": "fd00::10", "RR": "fd00::9", "EXT": "fd09::9"},
}
PLEN = {4: 24, 6: 64}


def node(
    name: str,
    key: str,
    fam: int,
    *,
    asn: int | None = None,
    rr: str = "",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    bgp: dict[str, Any] = {
        "ipv4Address" if fam == 4 else "ipv6Address": f"{ADDR[fam][key]}/{PLEN[fam]}"
    }
    if fam == 6:
        # The router id needs an IPv4 address; give every node one outside the test range.
        bgp["ipv4Address"] = f"192.0.2.{list(ADDR[6]).index(key) + 1}/24"
    if asn is not None:
        bgp["asNumber"] = asn
    if rr:
        bgp["routeReflectorClusterID"] = rr
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"bgp": bgp},
    }


config, peer = bgp_configuration, bgp_peer


def nodes(fam: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        node("me", "ME", fam, labels={"role": "me"}),
        node("n1", "N1", fam, labels={"role": "worker"}),
        node("n10", "N10", fam, labels={"role": "worker"}),
    ]


def plan(objects: list[dict[str, Any]], node_name: str = "me") -> NodePlan:
    return build_plan(parse_cluster(objects), Environment(node_name=node_name))


def sessions(p: NodePlan) -> dict[str, Session]:
    return {s.name: s for f in p.families for s in f.sessions}


def pname(prefix: str, fam: int, key: str, port: int | None = None) -> str:
    ip = ADDR[fam][key].replace(".", "_").replace(":", "_")
    return f"{prefix}_{ip}" + (f"_port_{port}" if port else "")


FAMILIES = pytest.mark.parametrize("fam", [4, 6])


# --- which peerings exist, and which BGPPeer wins ---------------------------------------------

PRECEDENCE = [
    # (case, BGPPeers as (name, spec-with-symbolic-peerIP), expected {protocol: winning BGPPeer})
    (
        "first by name wins",
        [
            ("b-peer", {"peerIP": "EXT", "asNumber": 65002}),
            ("a-peer", {"peerIP": "EXT", "asNumber": 65001}),
        ],
        {("Global", "EXT"): "a-peer"},
    ),
    (
        "global beats node-scoped",
        [
            ("a-node", {"node": "me", "peerIP": "EXT", "asNumber": 65001}),
            ("z-global", {"peerIP": "EXT", "asNumber": 65002}),
        ],
        {("Global", "EXT"): "z-global"},
    ),
    (
        "node-scoped by selector",
        [("sel", {"nodeSelector": "role == 'me'", "peerIP": "EXT", "asNumber": 65001})],
        {("Node", "EXT"): "sel"},
    ),
    (
        "other node's peer ignored",
        [("other", {"node": "n1", "peerIP": "EXT", "asNumber": 65001})],
        {},
    ),
    ("self skipped", [("self", {"peerIP": "ME", "asNumber": 65001})], {}),
    (
        "selector peers, self excluded",
        [("sel", {"node": "me", "peerSelector": "all()"})],
        {("Node", "N1"): "sel", ("Node", "N10"): "sel"},
    ),
    (
        "forward beats reverse",
        [
            ("a-rev", {"nodeSelector": "role == 'worker'", "peerSelector": "role == 'me'"}),
            ("b-fwd", {"node": "me", "peerSelector": "role == 'worker'", "ttlSecurity": 1}),
        ],
        {("Node", "N1"): "b-fwd", ("Node", "N10"): "b-fwd"},
    ),
    (
        "reverse Manual",
        [
            (
                "rev",
                {
                    "nodeSelector": "role == 'worker'",
                    "peerSelector": "role == 'me'",
                    "reversePeering": "Manual",
                },
            )
        ],
        {},
    ),
    (
        "reverse of a peerIP that is this node, same AS",
        [("to-me", {"node": "n1", "peerIP": "ME", "asNumber": 64512})],
        {("Node", "N1"): "to-me"},
    ),
    (
        "no reverse when the AS differs",
        [("to-me", {"node": "n1", "peerIP": "ME", "asNumber": 65001})],
        {},
    ),
]


@FAMILIES
@pytest.mark.parametrize(("case", "peers", "expected"), PRECEDENCE, ids=[c[0] for c in PRECEDENCE])
def test_precedence(
    fam: int,
    case: str,
    peers: list[tuple[str, dict[str, Any]]],
    expected: dict[tuple[str, str], str],
) -> None:
    objs = [*nodes(fam), config()]
    for name, spec in peers:
        spec = dict(spec)
        if "peerIP" in spec:
            spec["peerIP"] = ADDR[fam][spec["peerIP"]]
        objs.append(peer(name, **spec))
    got = {
        name: s.description.removeprefix("BGPPeer ")
        for name, s in sessions(plan(objs)).items()
        if s.family.value == fam
    }
    assert got == {pname(prefix, fam, key): winner for (prefix, key), winner in expected.items()}


def test_conflicting_duplicates_warn() -> None:
    objs = [
        *nodes(4),
        config(),
        peer("a", peerIP="10.9.9.9", asNumber=65001),
        peer("b", peerIP="10.9.9.9", asNumber=65001, ttlSecurity=2),
        peer("c", peerIP="10.9.9.9", asNumber=65001),
    ]
    warnings = plan(objs).warnings
    assert any("BGPPeer/b:" in w and "BGPPeer/a" in w and "ttlSecurity" in w for w in warnings)
    assert not any("BGPPeer/c:" in w for w in warnings)  # same settings: nothing to say


def test_wrong_family_and_local_workload_and_unknown_filter_warn() -> None:
    objs = [
        *nodes(4),
        config(),
        peer("v6", peerIP="fd09::9", asNumber=65001),
        peer("lw", localWorkloadSelector="all()", asNumber=65001),
        peer("f", peerIP="10.9.9.9", asNumber=65001, filters=["nope"]),
    ]
    p = plan(objs)
    assert set(sessions(p)) == {"Global_10_9_9_9"}
    text = "\n".join(p.warnings)
    assert "BGPPeer/v6: no session with fd09::9" in text
    assert "BGPPeer/lw: spec.localWorkloadSelector" in text
    assert "BGPPeer/f: spec.filters[0]: BGPFilter nope not found" in text


def test_missing_secret_keeps_the_session() -> None:
    objs = [
        *nodes(4),
        config(),
        peer(
            "p",
            peerIP="10.9.9.9",
            asNumber=65001,
            password={"secretKeyRef": {"name": "s", "key": "k"}},
        ),
    ]
    p = plan(objs)
    s = sessions(p)["Global_10_9_9_9"]
    assert s.password is None and "not found" in s.password_source
    assert any("rendered without a password" in w for w in p.warnings)


# --- ports and passive side -------------------------------------------------------------------

PASSIVE = [
    # (case, peer key, global?, expected passive, listenPort, expected port)
    ("calico node sorting after me", "N1", True, True, None, None),
    ("calico node sorting before me as a string", "N10", True, False, None, None),
    ("not a calico node", "EXT", True, False, None, None),
    ("node-scoped never passive", "N1", False, False, None, None),
    ("listenPort inferred for a calico node", "N1", True, True, 1790, 1790),
    ("no listenPort for an external peer", "EXT", True, False, 1790, None),
]


@FAMILIES
@pytest.mark.parametrize(
    ("case", "key", "is_global", "passive", "listen", "port"), PASSIVE, ids=[c[0] for c in PASSIVE]
)
def test_passive_and_port(
    fam: int,
    case: str,
    key: str,
    is_global: bool,
    passive: bool,
    listen: int | None,
    port: int | None,
) -> None:
    spec: dict[str, Any] = {"peerIP": ADDR[fam][key], "asNumber": 64512}
    if not is_global:
        spec["node"] = "me"
    cfg = config(listenPort=listen) if listen else config()
    got = sessions(plan([*nodes(fam), cfg, peer("p", **spec)]))
    s = got[pname("Global" if is_global else "Node", fam, key, port)]
    assert (s.passive, s.peer_port) == (passive, port)


@FAMILIES
def test_mesh_passive_by_string_order_and_rr_skipped(fam: int) -> None:
    objs = [*nodes(fam), node("rr", "RR", fam, rr="10.255.0.1"), config(nodeToNodeMeshEnabled=True)]
    got = {n: s.passive for n, s in sessions(plan(objs)).items() if s.family.value == fam}
    assert got == {pname("Mesh", fam, "N1"): True, pname("Mesh", fam, "N10"): False}


# --- route-reflector clients ------------------------------------------------------------------

RR_CLIENT = [
    # (case, remote node's cluster id (None: a peerIP peer), remote AS, expected rr client)
    ("non-RR node", "", None, True),
    ("RR of the same cluster", "10.255.0.1", None, False),
    ("RR of another cluster", "10.255.0.2", None, True),
    ("iBGP peerIP peer", None, 64512, True),
    ("eBGP peerIP peer", None, 65001, False),
]


@pytest.mark.parametrize(
    ("case", "cluster_id", "asn", "client"), RR_CLIENT, ids=[c[0] for c in RR_CLIENT]
)
def test_rr_client(case: str, cluster_id: str | None, asn: int | None, client: bool) -> None:
    me = node("me", "ME", 4, rr="10.255.0.1")
    if cluster_id is None:
        objs = [me, config(), peer("p", peerIP="10.9.9.9", asNumber=asn)]
        name = "Global_10_9_9_9"
    else:
        objs = [
            me,
            node("n1", "N1", 4, rr=cluster_id, labels={"x": "y"}),
            config(),
            peer("p", node="me", peerSelector="x == 'y'"),
        ]
        name = "Node_10_0_0_3"
    p = plan(objs)
    assert sessions(p)[name].rr_client is client
    assert p.rr_cluster_id == "10.255.0.1"


def test_route_reflector_leaves_the_mesh() -> None:
    objs = [node("me", "ME", 4, rr="10.255.0.1"), *nodes(4)[1:], config(nodeToNodeMeshEnabled=True)]
    assert sessions(plan(objs)) == {}


# --- next hop ---------------------------------------------------------------------------------

NEXT_HOP = [
    # (case, BGPPeer spec additions, peer AS, expected next hop)
    ("keepOriginalNextHop eBGP", {"keepOriginalNextHop": True}, 65001, "keep"),
    ("keepOriginalNextHop iBGP", {"keepOriginalNextHop": True}, 64512, None),
    ("Self", {"nextHopMode": "Self"}, 64512, "self"),
    ("Keep iBGP", {"nextHopMode": "Keep"}, 64512, "keep"),
    ("Auto", {"nextHopMode": "Auto"}, 65001, None),
    ("default", {}, 65001, None),
    (
        "localASNumber makes it iBGP",
        {"keepOriginalNextHop": True, "localASNumber": 65001},
        65001,
        None,
    ),
]


@FAMILIES
@pytest.mark.parametrize(
    ("case", "extra", "asn", "expected"), NEXT_HOP, ids=[c[0] for c in NEXT_HOP]
)
def test_next_hop(
    fam: int, case: str, extra: dict[str, Any], asn: int, expected: str | None
) -> None:
    objs = [*nodes(fam), config(), peer("p", peerIP=ADDR[fam]["EXT"], asNumber=asn, **extra)]
    assert sessions(plan(objs))[pname("Global", fam, "EXT")].next_hop == expected


# --- validation (spec §13) --------------------------------------------------------------------

INVALID_PEERS = [
    (
        {"node": "me", "nodeSelector": "all()", "peerIP": "10.9.9.9", "asNumber": 1},
        "spec.nodeSelector",
    ),
    ({"peerIP": "10.9.9.9", "peerSelector": "all()", "asNumber": 1}, "spec.peerSelector"),
    ({"peerSelector": "all()", "asNumber": 1}, "spec.asNumber"),
    ({"localWorkloadSelector": "all()"}, "spec.asNumber"),
    (
        {"localWorkloadSelector": "all()", "peerIP": "10.9.9.9", "asNumber": 1},
        "spec.localWorkloadSelector",
    ),
    ({"peerSelector": "all()", "reachableBy": "10.0.0.1"}, "spec.reachableBy"),
    ({"peerIP": "10.9.9.9", "asNumber": 1, "reachableBy": "fd00::1"}, "spec.reachableBy"),
    ({"peerIP": "10.9.9.9", "asNumber": 1, "reachableBy": "nope"}, "spec.reachableBy"),
    (
        {"peerIP": "10.9.9.9", "asNumber": 1, "keepOriginalNextHop": True, "nextHopMode": "Self"},
        "spec.keepOriginalNextHop",
    ),
    ({"peerIP": "10.9.9.9:0", "asNumber": 1}, "spec.peerIP"),
    ({"peerIP": "10.9.9", "asNumber": 1}, "spec.peerIP"),
    ({"peerIP": "10.9.9.9", "asNumber": "1.65536"}, "spec.asNumber"),
    ({"peerSelector": "role =="}, "spec.peerSelector"),
    ({"peerIP": "10.9.9.9", "asNumber": 1, "sourceAddress": "Any"}, "spec.sourceAddress"),
    ({"peerIP": "10.9.9.9", "asNumber": 1, "nextHopMode": "Never"}, "spec.nextHopMode"),
    ({"peerIP": "10.9.9.9", "asNumber": 1, "reversePeering": "Sometimes"}, "spec.reversePeering"),
    ({"peerIP": "10.9.9.9", "asNumber": 1, "ttlSecurity": 256}, "spec.ttlSecurity"),
]


@pytest.mark.parametrize(
    ("spec", "field"), INVALID_PEERS, ids=[f"{f}-{i}" for i, (_, f) in enumerate(INVALID_PEERS)]
)
def test_invalid_bgp_peer(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_cluster([peer("bad", **spec)])
    assert any(
        p.kind == "BGPPeer" and p.name == "bad" and p.field == field for p in info.value.problems
    ), str(info.value)


INVALID_CONFIGS = [
    (
        {"nodeToNodeMeshEnabled": False, "nodeMeshMaxRestartTime": "10s"},
        "spec.nodeMeshMaxRestartTime",
    ),
    ({"communities": [{"name": "a", "value": "1:2"}]}, "spec.communities"),
    (
        {"communities": [{"name": "a", "value": "1:65536"}], "prefixAdvertisements": []},
        "spec.communities[0].value",
    ),
    (
        {"prefixAdvertisements": [{"cidr": "10.0.0.0/8", "communities": ["nope"]}]},
        "spec.prefixAdvertisements[0].communities[0]",
    ),
    ({"prefixAdvertisements": [{"cidr": "10.0.0.1/8"}]}, "spec.prefixAdvertisements[0].cidr"),
    ({"listenPort": 0}, "spec.listenPort"),
    ({"logSeverityScreen": "Chatty"}, "spec.logSeverityScreen"),
    ({"ignoredInterfaces": ["*"]}, "spec.ignoredInterfaces[0]"),
    ({"serviceClusterIPs": [{"cidr": "10.96.0.1/12"}]}, "spec.serviceClusterIPs[0].cidr"),
    ({"ipv4NormalRoutePriority": 0}, "spec.ipv4NormalRoutePriority"),
    ({"programClusterRoutes": "Sometimes"}, "spec.programClusterRoutes"),
    ({"localWorkloadPeeringIPV4": "fd00::1"}, "spec.localWorkloadPeeringIPV4"),
    ({"bindMode": "Any"}, "spec.bindMode"),
]


@pytest.mark.parametrize(("spec", "field"), INVALID_CONFIGS, ids=[f for _, f in INVALID_CONFIGS])
def test_invalid_bgp_configuration(spec: dict[str, Any], field: str) -> None:
    obj = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "BGPConfiguration",
        "metadata": {"name": "default"},
        "spec": spec,
    }
    with pytest.raises(InvalidInput) as info:
        parse_cluster([obj])
    assert any(p.field == field for p in info.value.problems), str(info.value)


def test_default_only_field_on_node_configuration() -> None:
    obj = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "BGPConfiguration",
        "metadata": {"name": "node.me"},
        "spec": {"asNumber": 65001},
    }
    with pytest.raises(
        InvalidInput, match=r"BGPConfiguration/node.me: spec.asNumber: may only be set"
    ):
        parse_cluster([obj])


INVALID_NODES = [
    ({"bgp": {}}, "spec.bgp"),
    ({"bgp": {"ipv4Address": "fd00::1/64"}}, "spec.bgp.ipv4Address"),
    ({"bgp": {"ipv6Address": "10.0.0.1/24"}}, "spec.bgp.ipv6Address"),
    (
        {"bgp": {"ipv4Address": "10.0.0.1/24", "routeReflectorClusterID": "fd00::1"}},
        "spec.bgp.routeReflectorClusterID",
    ),
    (
        {"bgp": {"ipv4Address": "10.0.0.1/24", "ipv4IPIPTunnelAddr": "fd00::1"}},
        "spec.bgp.ipv4IPIPTunnelAddr",
    ),
]


@pytest.mark.parametrize(("spec", "field"), INVALID_NODES, ids=[f for _, f in INVALID_NODES])
def test_invalid_node(spec: dict[str, Any], field: str) -> None:
    obj = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "Node",
        "metadata": {"name": "n"},
        "spec": spec,
    }
    with pytest.raises(InvalidInput) as info:
        parse_cluster([obj])
    assert any(p.kind == "Node" and p.field == field for p in info.value.problems), str(info.value)


def test_invalid_kube_node_annotations_are_ignored() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": "k",
            "annotations": {
                "projectcalico.org/IPv4Address": "not-an-ip",
                "projectcalico.org/ASNumber": "x",
            },
        },
    }
    notices: list[str] = []
    cluster = parse_cluster([obj], notices)
    assert cluster.nodes["k"].ipv4 is None and cluster.nodes["k"].as_number is None
    assert len(notices) == 2


# --- graceful restart time from BGPPeer.maxRestartTime ----------------------------------------


def protocol_block(text: str, name: str) -> str:
    """The rendered `protocol bgp <name> ... { ... }` block, up to the next protocol."""
    start = text.index(f"protocol bgp {name} ")
    end = text.find("\nprotocol ", start + 1)
    return text[start : end if end != -1 else len(text)]


@FAMILIES
@pytest.mark.parametrize(
    ("restart", "line"),
    [
        ("90.6s", "graceful restart time 91;"),  # rounded to the nearest second
        ("2m", "graceful restart time 120;"),
        ("0s", "graceful restart time 0;"),
        (None, None),  # unset: BIRD's own default, no line at all
    ],
)
def test_peer_max_restart_time_is_the_graceful_restart_time(
    fam: int, restart: str | None, line: str | None
) -> None:
    spec: dict[str, Any] = {"peerIP": ADDR[fam]["EXT"], "asNumber": 65001}
    if restart is not None:
        spec["maxRestartTime"] = restart
    rendered = render_objects([*nodes(fam), config(), peer("tor", **spec)], Environment("me"))
    block = protocol_block(rendered.text, pname("Global", fam, "EXT"))
    lines = [x.strip() for x in block.splitlines() if x.strip().startswith("graceful restart time")]
    assert lines == ([line] if line else [])
    # The other peers (there are none) and the mesh (off) must not pick the time up.
    assert rendered.text.count("graceful restart time") == len(lines)
