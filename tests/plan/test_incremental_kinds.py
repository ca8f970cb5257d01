"""plan/incremental: the sidecar's kept plan renders every kind as a plan from scratch does.

The memo property tests draw Services, slices, Nodes, BGPConfigurations, peers and Secrets;
these add what they do not draw: a BGPFilter a peer calls, and an IPPool, each first, then
changed, then gone."""

from __future__ import annotations

from typing import Any

from manifests import bgp_configuration, bgp_peer

from birdgen.model.parse import parse_object
from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects
from birdgen.plan.incremental import Incremental

ENV = Environment(node_name="me")
ME = {"apiVersion": "projectcalico.org/v3", "kind": "Node", "metadata": {"name": "me"},
      "spec": {"bgp": {"ipv4Address": "10.0.0.2/24"}}}  # fmt: skip


def bgp_filter(action: str) -> dict[str, Any]:
    rule = {"action": action, "matchOperator": "In", "cidr": "10.9.0.0/16"}
    return {"apiVersion": "projectcalico.org/v3", "kind": "BGPFilter", "metadata": {"name": "f"},
            "spec": {"exportV4": [rule]}}  # fmt: skip


def ip_pool(cidr: str) -> dict[str, Any]:
    return {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "p"},
            "spec": {"cidr": cidr}}  # fmt: skip


def test_a_kept_plan_renders_bgp_filters_and_pools_as_one_from_scratch() -> None:
    base = [
        bgp_configuration(),
        ME,
        bgp_peer("tor", peerIP="10.0.0.1", asNumber=65001, filters=["f"]),
    ]
    steps = [
        [bgp_filter("Reject"), ip_pool("10.244.0.0/16")],
        [bgp_filter("Accept"), ip_pool("10.245.0.0/16")],
        [ip_pool("10.245.0.0/16")],  # the filter gone: the peer's call goes, with a warning
        [],
    ]
    state = Incremental()
    texts = []
    for extra in steps:
        records = [parse_object(o) for o in [*base, *extra]]
        kept = render_objects(records, ENV, state)
        fresh = render_objects(records, ENV)
        assert (kept.text, kept.notices) == (fresh.text, fresh.notices)
        texts.append(kept.text)
    assert "'bgp_f_exportFilterV4'" in texts[0] and "reject;" in texts[0]
    assert texts[1] != texts[0] and "'bgp_f_exportFilterV4'" not in texts[2]
