"""plan/peers: two BGPPeers giving the same peering with different settings: the one used,
and the warning naming the one dropped, the winner, why it wins, and every setting that
differs (by its spec field name, never its value: a password stays unsaid)."""

from __future__ import annotations

from typing import Any

import pytest
from manifests import bgp_configuration, bgp_peer

from birdgen.model.parse import parse_cluster
from birdgen.model.resources import Environment
from birdgen.plan.build import build_plan

ME = {"apiVersion": "projectcalico.org/v3", "kind": "Node", "metadata": {"name": "me"},
      "spec": {"bgp": {"ipv4Address": "10.0.0.2/24"}}}  # fmt: skip
SECRET = {"apiVersion": "v1", "kind": "Secret",
          "metadata": {"name": "pw", "namespace": "kube-system"},
          "stringData": {"a": "secret-one", "b": "secret-two"}}  # fmt: skip
FILTER = {"apiVersion": "projectcalico.org/v3", "kind": "BGPFilter", "metadata": {"name": "f"},
          "spec": {"exportV4": [{"action": "Reject"}]}}  # fmt: skip
PEER = {"peerIP": "10.9.9.9", "asNumber": 65001}
FIRST_WINS = "BGPPeer/b: the peering with 10.9.9.9 duplicates the one from BGPPeer/a, which is used (the first BGPPeer by name wins)"  # fmt: skip


def warnings(*peers: dict[str, Any]) -> list[str]:
    objects = [bgp_configuration(), ME, SECRET, FILTER, *peers]
    return list(build_plan(parse_cluster(objects), Environment(node_name="me")).warnings)


def password(key: str) -> dict[str, Any]:
    return {"secretKeyRef": {"name": "pw", "key": key}}


SETTINGS: list[tuple[str, Any, Any]] = [
    ("asNumber", 65001, 65002),
    ("localASNumber", None, 65100),
    ("numAllowedLocalASNumbers", None, 2),
    ("keepOriginalNextHop", None, True),
    ("nextHopMode", None, "Self"),
    ("password", password("a"), password("b")),
    ("sourceAddress", None, "None"),
    ("maxRestartTime", None, "10s"),
    ("keepaliveTime", None, "5s"),
    ("ttlSecurity", None, 2),
    ("reachableBy", None, "10.0.0.1"),
    ("filters", None, ["f"]),
]


@pytest.mark.parametrize(("field", "first", "second"), SETTINGS, ids=[s[0] for s in SETTINGS])
def test_each_setting_that_differs_is_named(field: str, first: Any, second: Any) -> None:
    a = {**PEER, field: first} if first is not None else PEER
    said = warnings(bgp_peer("b", **{**PEER, field: second}), bgp_peer("a", **a))
    assert said == [f"{FIRST_WINS}; their settings differ ({field})"]
    assert not any("secret-" in line for line in said)


def test_every_setting_that_differs_is_named_in_order() -> None:
    b = {**PEER, "asNumber": 65002, "ttlSecurity": 1, "keepaliveTime": "5s"}
    assert warnings(bgp_peer("a", **PEER), bgp_peer("b", **b)) == [
        f"{FIRST_WINS}; their settings differ (asNumber, keepaliveTime, ttlSecurity)"
    ]


def test_a_global_peering_beats_a_node_scoped_one_and_the_port_is_named() -> None:
    node_scoped = bgp_peer("a", node="me", peerIP="10.9.9.9:1790", asNumber=65001)
    global_peer = bgp_peer("z", peerIP="10.9.9.9:1790", asNumber=65002)
    assert warnings(node_scoped, global_peer) == [
        "BGPPeer/a: the peering with 10.9.9.9 port 1790 duplicates the one from BGPPeer/z, which"
        " is used (a global peering beats a node-scoped one); their settings differ (asNumber)"
    ]


def test_the_same_settings_twice_say_nothing() -> None:
    assert warnings(bgp_peer("a", **PEER), bgp_peer("b", **PEER)) == []


def test_settings_that_apply_only_to_peer_ip_peers_make_no_conflict_between_selector_peers() -> (
    None
):
    """localASNumber and numAllowedLocalASNumbers apply to peerIP peers only: two selector
    peers differing in them give one and the same session."""

    def node(name: str, address: str, role: str) -> dict[str, Any]:
        return {"apiVersion": "projectcalico.org/v3", "kind": "Node",
                "metadata": {"name": name, "labels": {"role": role}},
                "spec": {"bgp": {"ipv4Address": address}}}  # fmt: skip

    selectors = {"nodeSelector": "role == 'me'", "peerSelector": "role == 'worker'"}
    objects = [
        bgp_configuration(),
        node("me", "10.0.0.2/24", "me"),
        node("n1", "10.0.0.3/24", "worker"),
        bgp_peer("a", **selectors),
        bgp_peer("b", **selectors, localASNumber=65100, numAllowedLocalASNumbers=3),
    ]
    plan = build_plan(parse_cluster(objects), Environment(node_name="me"))
    assert plan.warnings == ()
    assert [s.name for f in plan.families for s in f.sessions] == ["Node_10_0_0_3"]
