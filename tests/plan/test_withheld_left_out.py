"""`birdgen render` plans without the withheld addresses (`build_plan(..., withheld=False)`):
the text, the routes, the sessions and every notice must be those of the full plan, which
differs only in its `withheld` entries."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from golden_scenarios import SCENARIOS, scenario_env
from hypothesis import given, settings
from hypothesis import strategies as st

from birdgen.errors import InvalidInput
from birdgen.model.resources import Environment
from birdgen.pipeline import Rendered, render_objects
from birdgen.plan.types import NodePlan
from birdgen.sources import files

EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"


def without_withheld(plan: NodePlan) -> NodePlan:
    return dataclasses.replace(
        plan,
        v4=dataclasses.replace(plan.v4, withheld=()),
        v6=dataclasses.replace(plan.v6, withheld=()),
    )


def assert_same_but_withheld(objects: list[Any], env: Environment) -> Rendered:
    full = render_objects(objects, env)
    lean = render_objects(objects, env, withheld=False)
    assert lean.text == full.text
    assert lean.notices == full.notices
    assert lean.plan == without_withheld(full.plan)
    return full


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_golden_scenarios(scenario: Any) -> None:
    objects = files.load([str(scenario / "input")])
    try:
        assert_same_but_withheld(objects, scenario_env(scenario))
    except InvalidInput:
        with pytest.raises(InvalidInput):
            render_objects(objects, scenario_env(scenario), withheld=False)


def service(name: str, policy: str, kind: str, ip: int, external: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": kind,
        "clusterIP": f"10.49.0.{ip}",
        "externalTrafficPolicy": policy,
    }
    if external:
        spec["externalIPs"] = [f"10.51.0.{ip}"]
    status = {"loadBalancer": {"ingress": [{"ip": f"10.50.0.{ip}"}]}} if kind == "LoadBalancer" else {}  # fmt: skip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": spec, "status": status}  # fmt: skip


def endpoint_slice(service_name: str, endpoints: list[tuple[str, bool]]) -> dict[str, Any]:
    eps = [{"addresses": [f"10.48.0.{i + 1}"], "nodeName": node, "conditions": {"ready": ready}} for i, (node, ready) in enumerate(endpoints)]  # fmt: skip
    labels = {"kubernetes.io/service-name": service_name}
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": f"{service_name}-1", "namespace": "default", "labels": labels}, "addressType": "IPv4", "endpoints": eps}  # fmt: skip


def cluster(aggregate: bool, excluded: bool, single_lb: bool) -> list[dict[str, Any]]:
    lb = [{"cidr": "10.50.0.7/32"}] if single_lb else [{"cidr": "10.50.0.0/16"}]
    spec = {"asNumber": 64512, "serviceClusterIPs": [{"cidr": "10.49.0.0/16"}], "serviceExternalIPs": [{"cidr": "10.51.0.0/16"}], "serviceLoadBalancerIPs": lb, "serviceLoadBalancerAggregation": "Enabled" if aggregate else "Disabled"}  # fmt: skip
    labels = {EXCLUDE: "true"} if excluded else {}
    annotations = {"projectcalico.org/IPv4Address": "192.168.1.1/24"}
    config = {"apiVersion": "projectcalico.org/v3", "kind": "BGPConfiguration", "metadata": {"name": "default"}, "spec": spec}  # fmt: skip
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "labels": labels, "annotations": annotations}}  # fmt: skip
    return [config, node]


endpoints = st.lists(st.tuples(st.sampled_from(["node-1", "node-2"]), st.booleans()), max_size=3)
services = st.lists(
    st.tuples(
        st.sampled_from(["Local", "Cluster"]),
        st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]),
        st.integers(1, 9),
        st.booleans(),
        st.none() | endpoints,
    ),
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(services, st.booleans(), st.booleans(), st.booleans())
def test_any_services_same_plan_but_withheld(
    drawn: list[tuple[str, str, int, bool, list[tuple[str, bool]] | None]],
    aggregate: bool,
    excluded: bool,
    single_lb: bool,
) -> None:
    objects = cluster(aggregate, excluded, single_lb)
    for i, (policy, kind, ip, external, endpoints) in enumerate(drawn):
        name = f"s{i}"
        objects.append(service(name, policy, kind, ip, external))
        if endpoints is not None:
            objects.append(endpoint_slice(name, endpoints))
    assert_same_but_withheld(objects, Environment(node_name="node-1"))


def test_the_full_plan_has_withheld_addresses_the_lean_one_does_not() -> None:
    # What the comparison above leaves out is really there: a Local Service with no endpoint
    # on this node is withheld, and only the full plan says so.
    objects = [
        *cluster(aggregate=True, excluded=False, single_lb=False),
        service("web", "Local", "LoadBalancer", 3, external=False),
        endpoint_slice("web", [("node-2", True)]),
        service("api", "Local", "LoadBalancer", 4, external=False),
        endpoint_slice("api", [("node-1", True)]),
    ]
    env = Environment(node_name="node-1")
    full = assert_same_but_withheld(objects, env)
    assert [r.text for r in full.plan.v4.withheld] == ["10.49.0.3/32", "10.50.0.3/32"]
    assert [r.text for r in full.plan.v4.routes if r.text.endswith("/32")] == [
        "10.49.0.4/32",
        "10.50.0.4/32",
    ]
    lean = render_objects(objects, env, withheld=False)
    assert lean.plan.v4.withheld == () and lean.plan.v6.withheld == ()


def test_every_planner_plans_withheld_addresses_unless_told_not_to() -> None:
    # explain, status and the sidecar call the planners without the switch: by default the
    # withheld addresses are planned, at every level.
    from birdgen.model.parse import parse_cluster
    from birdgen.model.values import Family
    from birdgen.plan import build_plan
    from birdgen.plan.services import (
        ServiceTable,
        configured_ranges,
        plan_services,
        service_notes,
    )

    objects = [
        *cluster(aggregate=True, excluded=False, single_lb=False),
        service("web", "Local", "LoadBalancer", 3, external=False),
        endpoint_slice("web", [("node-2", True)]),
    ]
    env = Environment(node_name="node-1")
    parsed = parse_cluster(objects)
    held = ["10.49.0.3/32", "10.50.0.3/32"]
    assert [r.text for r in build_plan(parsed, env).v4.withheld] == held
    assert build_plan(parsed, env, withheld=False).v4.withheld == ()
    me = parsed.nodes["node-1"]
    assert [r.text for r in plan_services(parsed, env, me)[Family.V4].withheld] == held
    lean_table = ServiceTable(withheld=False)
    assert plan_services(parsed, env, me, lean_table)[Family.V4].withheld == ()
    svc, ranges = parsed.services[0], configured_ranges(parsed, env)
    slices = parsed.slices[(svc.namespace, svc.name)]
    notes = service_notes(svc, slices, ranges, False, "node-1")
    assert [(text, advertised) for _, text, advertised, _ in notes] == [
        ("10.49.0.3/32", False),
        ("10.50.0.3/32", False),
    ]
    assert service_notes(svc, slices, ranges, False, "node-1", withheld=False) == ()
