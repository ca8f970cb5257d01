"""plan: edges of the node's plan that no other test pinned (mutation testing found them):
each family's route priority, and the line refusing a node without a router id. Written by
hand; the rendered lines and the refusal are compared whole."""

from __future__ import annotations

from typing import Any

import pytest

from birdgen.errors import InvalidInput
from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects

ENV = Environment(node_name="me")


def calico(kind: str, name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": {"name": name}, "spec": spec}  # fmt: skip


def test_each_family_takes_its_own_normal_route_priority() -> None:
    config = calico("BGPConfiguration", "default", asNumber=64512,
                    ipv4NormalRoutePriority=100, ipv6NormalRoutePriority=200)  # fmt: skip
    me = calico("Node", "me", bgp={"ipv4Address": "10.0.0.2/24", "ipv6Address": "fd00::2/64"})
    text = render_objects([config, me], ENV).text
    defaults = [line.strip() for line in text.splitlines() if "!defined(krt_metric)" in line]
    assert defaults == [
        "if !defined(krt_metric) then krt_metric = 100;",
        "if !defined(krt_metric) then krt_metric = 200;",
    ]
    v4 = text[text.index("function birdgen_priority_v4()") : text.index("function birdgen_priority_v6()")]  # fmt: skip
    assert "krt_metric = 100;" in v4


def test_a_node_without_ipv4_or_router_id_is_refused_with_this_line() -> None:
    me = calico("Node", "me", bgp={"ipv6Address": "fd00::2/64"})
    with pytest.raises(InvalidInput) as info:
        render_objects([me], ENV)
    assert [str(p) for p in info.value.problems] == [
        "Node/me: spec.bgp.ipv4Address: is needed as the router id; give the node an IPv4"
        ' address or set CALICO_ROUTER_ID (an IPv4 address, or "hash")'
    ]
