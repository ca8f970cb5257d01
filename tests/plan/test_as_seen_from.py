"""Property: planning with EndpointSlices reduced to what one node reads of them
(`as_seen_from`, as the sidecar stores them) gives exactly the plan of the full slices."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from birdgen.model.parse import parse_cluster
from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects
from birdgen.sidecar.store import Lean

NODES = ("node-1", "node-2", "node-3")


def objects(services: list[Any], slices: list[Any], aggregate: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": n,
                "annotations": {"projectcalico.org/IPv4Address": f"192.168.1.{i + 1}/24"},
            },
        }
        for i, n in enumerate(NODES)
    ]
    spec = {"serviceClusterIPs": [{"cidr": "10.49.0.0/16"}], "serviceLoadBalancerIPs": [{"cidr": "10.50.0.0/16"}], "serviceLoadBalancerAggregation": "Enabled" if aggregate else "Disabled"}  # fmt: skip
    out.append({"apiVersion": "crd.projectcalico.org/v1", "kind": "BGPConfiguration", "metadata": {"name": "default"}, "spec": spec})  # fmt: skip
    for i, (policy, lb) in enumerate(services):
        svc_spec = {"type": "LoadBalancer" if lb else "NodePort", "clusterIP": f"10.49.0.{i + 1}", "externalTrafficPolicy": policy}  # fmt: skip
        status = {"loadBalancer": {"ingress": [{"ip": f"10.50.0.{i + 1}"}]}}
        out.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"s{i}", "namespace": "default"}, "spec": svc_spec, "status": status})  # fmt: skip
    for j, (owner, family, eps) in enumerate(slices):
        endpoints = [{"addresses": ["10.48.0.1"], "nodeName": n, "conditions": {"ready": r}} for n, r in eps]  # fmt: skip
        labels = {"kubernetes.io/service-name": f"s{owner}"}
        out.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": f"e{j}", "namespace": "default", "labels": labels}, "addressType": family, "endpoints": endpoints})  # fmt: skip
    return out


endpoint = st.tuples(st.sampled_from([*NODES, ""]), st.booleans())


@settings(max_examples=300, deadline=None)
@given(
    services=st.lists(
        st.tuples(st.sampled_from(["Local", "Cluster"]), st.booleans()), min_size=1, max_size=4
    ),
    slices=st.lists(
        st.tuples(
            st.integers(0, 3), st.sampled_from(["IPv4", "IPv6"]), st.lists(endpoint, max_size=5)
        ),
        max_size=6,
    ),
    aggregate=st.booleans(),
    node=st.sampled_from(NODES),
)
def test_reduced_slices_plan_and_render_as_the_full_ones(
    services: list[Any], slices: list[Any], aggregate: bool, node: str
) -> None:
    objs = objects(services, slices, aggregate)
    env = Environment.from_mapping(node, {}, node)
    full = render_objects(objs, env)
    lean = Lean(env.endpoint_node_name)
    reduced = render_objects([lean(o) for o in objs], env)
    assert reduced.plan == full.plan
    assert reduced.text == full.text
    # And the reduction does keep less: no endpoint of another node survives by name.
    cluster = parse_cluster([lean(o) for o in objs])
    assert all(ep.node_name in (node, "*") for s in cluster.slices.values() for e in s for ep in e.endpoints)  # fmt: skip
