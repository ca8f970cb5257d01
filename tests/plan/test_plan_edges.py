"""plan: edges of the node's plan that no other test pinned (mutation testing found them):
each family's route priority, and the line refusing a node without a router id. Written by
hand; the rendered lines and the refusal are compared whole."""

from __future__ import annotations

from typing import Any

import pytest
from manifests import bgp_configuration, bgp_peer

from birdgen.errors import InvalidInput
from birdgen.model.parse import parse_object
from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects
from birdgen.plan.incremental import Incremental

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


def svc(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "ns"}, "spec": spec}  # fmt: skip


def ready_elsewhere(name: str) -> dict[str, Any]:
    eps = [{"addresses": ["10.48.0.1"], "nodeName": "other", "conditions": {"ready": True}}]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{name}-1", "namespace": "ns", "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "endpoints": eps}  # fmt: skip


ME = calico("Node", "me", bgp={"ipv4Address": "10.0.0.2/24"})
CLUSTER = "within serviceClusterIPs 10.49.0.0/16"
SINGLE = "Service ns/single: externalTrafficPolicy=Cluster, external IP 10.52.0.7 is a single address of serviceExternalIPs"  # fmt: skip


def routes(
    aggregation: str,
) -> tuple[list[tuple[str, tuple[str, ...]]], list[tuple[str, tuple[str, ...]]]]:
    config = calico("BGPConfiguration", "default", asNumber=64512,
                    serviceClusterIPs=[{"cidr": "10.49.0.0/16"}],
                    serviceExternalIPs=[{"cidr": "10.51.0.0/16"}, {"cidr": "10.52.0.7/32"}],
                    serviceLoadBalancerAggregation=aggregation)  # fmt: skip
    objects = [
        config, ME,
        svc("ext", type="ExternalName", externalName="x.example", clusterIP="10.49.0.9"), ready_elsewhere("ext"),
        svc("hl", clusterIP="None", externalIPs=["10.51.0.5"]), ready_elsewhere("hl"),
        svc("unset", clusterIP="10.49.0.3"), ready_elsewhere("unset"),
        svc("single", type="NodePort", clusterIP="10.49.0.4", externalIPs=["10.52.0.7"], externalTrafficPolicy="Cluster"), ready_elsewhere("single"),
    ]  # fmt: skip
    v4 = render_objects(objects, ENV).plan.v4
    return [tuple(r) for r in v4.routes], [tuple(r) for r in v4.withheld]


def test_why_each_service_is_advertised_or_not_with_aggregation() -> None:
    advertised, withheld = routes("Enabled")
    assert advertised == [
        ("10.49.0.0/16", ("serviceClusterIPs range of BGPConfiguration default",)),
        ("10.49.0.4/32", (f"{SINGLE}; {CLUSTER}",)),
        ("10.51.0.0/16", ("serviceExternalIPs range of BGPConfiguration default",)),
        ("10.52.0.7/32", (f"{SINGLE}; external IP within serviceExternalIPs 10.52.0.7/32",)),
    ]
    assert withheld == [
        ("10.49.0.3/32", (f"Service ns/unset: not advertised: externalTrafficPolicy=unset: the aggregate ranges cover it; {CLUSTER}",)),
        ("10.49.0.9/32", (f"Service ns/ext: not advertised: type ExternalName; {CLUSTER}",)),
        ("10.51.0.5/32", ("Service ns/hl: not advertised: headless (clusterIP None); external IP within serviceExternalIPs 10.51.0.0/16",)),
    ]  # fmt: skip


def test_why_each_service_is_advertised_or_not_without_aggregation() -> None:
    advertised, withheld = routes("Disabled")
    assert advertised == [
        ("10.49.0.0/16", ("serviceClusterIPs range of BGPConfiguration default",)),
        ("10.49.0.3/32", (f"Service ns/unset: externalTrafficPolicy=unset, serviceLoadBalancerAggregation=Disabled, ready endpoint in the cluster; {CLUSTER}",)),
        ("10.49.0.4/32", (f"{SINGLE}; {CLUSTER}",)),
        ("10.51.0.0/16", ("serviceExternalIPs range of BGPConfiguration default",)),
        ("10.52.0.7/32", (f"{SINGLE}; external IP within serviceExternalIPs 10.52.0.7/32",)),
    ]  # fmt: skip
    assert withheld == [
        ("10.49.0.9/32", (f"Service ns/ext: not advertised: type ExternalName; {CLUSTER}",)),
        ("10.51.0.5/32", ("Service ns/hl: not advertised: headless (clusterIP None); external IP within serviceExternalIPs 10.51.0.0/16",)),
    ]  # fmt: skip


REVERSE = [
    ("node", 1790, ["neighbor 10.0.0.1 as 64600;"]),
    ("node", 179, []),
    # every node listens on 1790, n1 too
    ("default", 1790, ["neighbor 10.0.0.1 port 1790 as 64600;"]),
    ("default", 179, []),
]


@pytest.mark.parametrize(("where", "port", "sessions"), REVERSE)
def test_the_reverse_of_a_peer_ip_with_a_port_is_taken_only_on_the_port_the_node_listens_on(
    where: str, port: int, sessions: list[str]
) -> None:
    # n2 listens on 1790, by its own BGPConfiguration or the default one; the BGPPeer from n1
    # dials n2's address.
    def node(name: str, v4: str) -> dict[str, Any]:
        return calico("Node", name, bgp={"ipv4Address": f"{v4}/24"})

    listen = {"listenPort": 1790}
    objects = [
        node("n1", "10.0.0.1"),
        node("n2", "10.0.0.2"),
        bgp_configuration(asNumber=64600, **(listen if where == "default" else {})),
        *([calico("BGPConfiguration", "node.n2", **listen)] if where == "node" else []),
        bgp_peer("to-n2", node="n1", peerIP=f"10.0.0.2:{port}", asNumber=64600),
    ]
    text = render_objects(objects, Environment(node_name="n2")).text
    assert [line.strip() for line in text.splitlines() if "neighbor" in line] == sessions


def test_an_address_two_services_share_gives_both_reasons_and_a_service_down_is_withheld() -> None:
    config = calico("BGPConfiguration", "default", asNumber=64512,
                    serviceClusterIPs=[{"cidr": "10.49.0.0/16"}], serviceExternalIPs=[{"cidr": "10.52.0.7/32"}],
                    serviceLoadBalancerAggregation="Disabled")  # fmt: skip
    down = ready_elsewhere("down")
    down["endpoints"][0]["conditions"]["ready"] = False
    objects = [
        config, ME,
        svc("a", type="NodePort", clusterIP="10.49.0.4", externalIPs=["10.52.0.7"], externalTrafficPolicy="Cluster"), ready_elsewhere("a"),
        svc("b", type="NodePort", clusterIP="10.49.0.5", externalIPs=["10.52.0.7"], externalTrafficPolicy="Cluster"), ready_elsewhere("b"),
        svc("down", clusterIP="10.49.0.6"), down,
    ]  # fmt: skip
    v4 = render_objects(objects, ENV).plan.v4
    single = "externalTrafficPolicy=Cluster, external IP 10.52.0.7 is a single address of serviceExternalIPs; external IP within serviceExternalIPs 10.52.0.7/32"  # fmt: skip
    assert [tuple(r) for r in v4.routes if r.text == "10.52.0.7/32"] == [
        ("10.52.0.7/32", (f"Service ns/a: {single}", f"Service ns/b: {single}"))
    ]
    assert [tuple(r) for r in v4.withheld] == [
        ("10.49.0.6/32", (f"Service ns/down: not advertised: externalTrafficPolicy=unset, serviceLoadBalancerAggregation=Disabled, no ready endpoint in the cluster; {CLUSTER}",))
    ]  # fmt: skip


def test_a_password_with_capitals_and_spaces_is_written_as_it_is() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k", "namespace": "kube-system"},
              "stringData": {"pw": "X y"}}  # fmt: skip
    ref = {"secretKeyRef": {"name": "k", "key": "pw"}}
    me = calico("Node", "me", bgp={"ipv4Address": "10.0.0.2/24"})
    objects = [bgp_configuration(asNumber=64512), me, secret, bgp_peer("tor", peerIP="10.0.0.1", asNumber=65001, password=ref)]  # fmt: skip
    rendered = render_objects(objects, ENV)
    assert [line.strip() for line in rendered.text.splitlines() if "password" in line] == ['password "X y";']  # fmt: skip
    assert rendered.notices == ()


def test_a_route_reflector_passes_on_each_familys_lb_and_external_ranges_in_calicos_order() -> None:
    me = calico("Node", "me", bgp={"ipv4Address": "10.0.0.2/24", "ipv6Address": "fd00::2/64",
                                   "routeReflectorClusterID": "224.0.0.1"})  # fmt: skip
    config = bgp_configuration(
        asNumber=64512,
        serviceLoadBalancerIPs=[
            {"cidr": "10.50.0.0/16"},
            {"cidr": "fd50::/64"},
            {"cidr": "9.9.9.9/32"},
        ],
        serviceExternalIPs=[{"cidr": "9.0.0.0/8"}, {"cidr": "10.50.0.0/16"}],
    )
    plan = render_objects([config, me], ENV).plan
    # Calico orders by text ("10." before "9."), each range once.
    assert [str(n) for n in plan.v4.export_ranges] == ["10.50.0.0/16", "9.0.0.0/8", "9.9.9.9/32"]
    assert [str(n) for n in plan.v6.export_ranges] == ["fd50::/64"]


@pytest.mark.parametrize(("length", "refused"), [(80, False), (81, True), (0, True)])
def test_a_password_must_be_1_to_80_bytes(length: int, refused: bool) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k", "namespace": "kube-system"},
              "stringData": {"pw": "x" * length}}  # fmt: skip
    ref = {"secretKeyRef": {"name": "k", "key": "pw"}}
    me = calico("Node", "me", bgp={"ipv4Address": "10.0.0.2/24"})
    objects = [bgp_configuration(asNumber=64512), me, secret, bgp_peer("tor", peerIP="10.0.0.1", asNumber=65001, password=ref)]  # fmt: skip
    if not refused:
        assert f'password "{"x" * 80}";' in render_objects(objects, ENV).text
        return
    with pytest.raises(InvalidInput) as info:
        render_objects(objects, ENV)
    assert [str(p) for p in info.value.problems] == [
        "Secret/kube-system/k: stringData.pw: the BGP password must be 1-80 bytes"
    ]


def test_a_reverse_session_says_why_and_towards_which_node() -> None:
    def node(name: str, v4: str) -> dict[str, Any]:
        return calico("Node", name, bgp={"ipv4Address": f"{v4}/24"})

    objects = [node("n1", "10.0.0.1"), node("n2", "10.0.0.2"), bgp_configuration(asNumber=64600),
               bgp_peer("to-n2", node="n1", peerIP="10.0.0.2", asNumber=64600)]  # fmt: skip
    plan = render_objects(objects, Environment(node_name="n2")).plan
    assert [s.reasons for s in plan.v4.sessions] == [
        ("BGPPeer to-n2: reverse peering: this node is the peer (peerIP 10.0.0.2); towards spec.node n1; remote Node n1",)
    ]  # fmt: skip


def test_peers_without_a_session_leave_the_sessions_after_them() -> None:
    # a: IPv6, which this node lacks; b: no AS. Both come before c, which gets its session.
    me = calico("Node", "me", bgp={"ipv4Address": "10.0.0.2/24"})
    objects = [bgp_configuration(asNumber=64512), me, bgp_peer("a", peerIP="fd00::9", asNumber=65001),
               bgp_peer("b", peerIP="10.0.0.8"), bgp_peer("c", peerIP="10.0.0.9", asNumber=65001)]  # fmt: skip
    rendered = render_objects(objects, ENV)
    assert [s.name for s in (*rendered.plan.v4.sessions, *rendered.plan.v6.sessions)] == ["Global_10_0_0_9"]  # fmt: skip
    assert rendered.notices == (
        "BGPPeer/a: no session with fd00::9: this node has no IPv6 address, so IPv6 BGP is disabled",
        "BGPPeer/b: spec.asNumber: not set (or 0); no session with 10.0.0.8: BIRD cannot peer with AS 0",
    )


MESH = calico("BGPConfiguration", "default", asNumber=64512)  # the node-to-node mesh on


def test_an_ipv6_only_node_meshes_in_ipv6() -> None:
    objects = [MESH, calico("Node", "me", bgp={"ipv6Address": "fd00::2/64"}), calico("Node", "n3", bgp={"ipv6Address": "fd00::3/64"})]  # fmt: skip
    plan = render_objects(objects, Environment(node_name="me", router_id="hash")).plan
    assert ([s.name for s in plan.v4.sessions], [s.name for s in plan.v6.sessions]) == ([], ["Mesh_fd00__3"])  # fmt: skip


def test_a_node_sharing_an_address_gets_no_mesh_session_and_the_next_node_does() -> None:
    objects = [MESH, *(calico("Node", n, bgp={"ipv4Address": a}) for n, a in
               (("me", "10.0.0.2/24"), ("a", "10.0.0.5/24"), ("b", "10.0.0.5/24"), ("c", "10.0.0.6/24")))]  # fmt: skip
    rendered = render_objects(objects, ENV)
    assert [s.name for s in rendered.plan.v4.sessions] == ["Mesh_10_0_0_5", "Mesh_10_0_0_6"]
    assert rendered.notices == (
        "Node/b: has the same address 10.0.0.5 as Node/a; one mesh session with 10.0.0.5, for Node/a",
    )


def test_a_local_workload_peer_is_warned_about_on_its_own_node_only() -> None:
    objects = [MESH, calico("Node", "me", bgp={"ipv4Address": "10.0.0.2/24"}),
               bgp_peer("lw-me", node="me", localWorkloadSelector="all()", asNumber=65001),
               bgp_peer("lw-other", node="other", localWorkloadSelector="all()", asNumber=65001)]  # fmt: skip
    assert render_objects(objects, ENV).notices == (
        "BGPPeer/lw-me: spec.localWorkloadSelector peers with local workloads, which needs Felix's"
        " endpoint-status files; birdgen does not read them, so no session is rendered",
    )


def test_a_mesh_node_with_its_own_as_is_peered_in_that_as() -> None:
    objects = [MESH, calico("Node", "me", bgp={"ipv4Address": "10.0.0.2/24"}),
               calico("Node", "a", bgp={"ipv4Address": "10.0.0.5/24", "asNumber": 65010})]  # fmt: skip
    text = render_objects(objects, ENV).text
    assert [line.strip() for line in text.splitlines() if "neighbor" in line] == ["neighbor 10.0.0.5 as 65010;"]  # fmt: skip


def test_a_shared_address_lists_its_services_by_namespace_then_name() -> None:
    # By (namespace, name): "a" before "a-b", though "a-b/..." sorts first as text.
    config = calico("BGPConfiguration", "default", asNumber=64512, serviceExternalIPs=[{"cidr": "10.52.0.7/32"}],
                    serviceLoadBalancerAggregation="Disabled")  # fmt: skip
    objects: list[dict[str, Any]] = [config, ME]
    for namespace, name in (("a-b", "c"), ("a", "z")):
        service = svc(name, type="NodePort", clusterIP="10.49.0.4", externalIPs=["10.52.0.7"], externalTrafficPolicy="Cluster")  # fmt: skip
        slice_ = ready_elsewhere(name)
        service["metadata"]["namespace"] = slice_["metadata"]["namespace"] = namespace
        objects += [service, slice_]
    (route,) = [r for r in render_objects(objects, ENV).plan.v4.routes if r.text == "10.52.0.7/32"]
    assert [reason.split(":")[0] for reason in route.reasons] == ["Service a/z", "Service a-b/c"]


def test_a_plan_refused_at_one_step_is_refused_again_at_the_next() -> None:
    # The sessions' outcome is kept from step to step; so are the problems it had.
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k", "namespace": "kube-system"},
              "stringData": {"pw": "x" * 81}}  # fmt: skip
    ref = {"secretKeyRef": {"name": "k", "key": "pw"}}
    # The sidecar hands its records parsed, the unchanged ones the very same objects.
    objects = [parse_object(o) for o in (
        bgp_configuration(asNumber=64512), calico("Node", "me", bgp={"ipv4Address": "10.0.0.2/24"}),
        secret, bgp_peer("tor", peerIP="10.0.0.1", asNumber=65001, password=ref))]  # fmt: skip
    state = Incremental()
    line = "Secret/kube-system/k: stringData.pw: the BGP password must be 1-80 bytes"
    for step in (objects, [*objects, parse_object(svc("s", clusterIP="10.49.0.1"))]):
        with pytest.raises(InvalidInput) as info:
            state.plan(step, ENV)
        assert [str(p) for p in info.value.problems] == [line]


def test_a_bad_calico_advertise_cluster_ips_is_refused_with_this_line() -> None:
    with pytest.raises(InvalidInput) as info:
        render_objects([ME], Environment(node_name="me", advertise_cluster_ips="x"))
    assert [str(p) for p in info.value.problems] == [
        'environment/CALICO_ADVERTISE_CLUSTER_IPS: "x" is not a CIDR such as "10.96.0.0/12"'
    ]


def test_a_bad_calico_router_id_is_refused_with_this_line() -> None:
    with pytest.raises(InvalidInput) as info:
        render_objects([ME], Environment(node_name="me", router_id="x"))
    assert [str(p) for p in info.value.problems] == [
        "environment/CALICO_ROUTER_ID: 'x' is neither \"hash\" nor an IPv4 address"
    ]


def test_bgp_filter_functions_are_defined_only_in_families_this_node_has_an_address_in() -> None:
    rule = {"action": "Reject", "matchOperator": "In"}
    bgp_filter = calico("BGPFilter", "f", exportV4=[{**rule, "cidr": "10.9.0.0/16"}], exportV6=[{**rule, "cidr": "fd09::/64"}])  # fmt: skip
    text = render_objects([bgp_configuration(asNumber=64512), ME, bgp_filter], ENV).text
    assert [line for line in text.splitlines() if line.startswith("function")] == [
        "function birdgen_priority_v4()",
        "function birdgen_export_services_v4()",
        "function 'bgp_f_exportFilterV4'()",
        "function birdgen_priority_v6()",
        "function birdgen_export_services_v6()",
    ]


def test_a_node_not_among_the_resources_is_refused_with_this_line() -> None:
    with pytest.raises(InvalidInput) as info:
        render_objects([bgp_configuration(asNumber=64512)], ENV)
    assert [str(p) for p in info.value.problems] == [
        "Node/me: not found: the node being rendered must be among the resources (a Calico Node or a Kubernetes Node)"
    ]


def test_a_sessions_password_never_shows_itself_and_equal_ones_are_one() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k", "namespace": "kube-system"},
              "stringData": {"pw": "s3cret"}}  # fmt: skip
    ref = {"secretKeyRef": {"name": "k", "key": "pw"}}
    me = calico("Node", "me", bgp={"ipv4Address": "10.0.0.2/24"})
    peers = [bgp_peer(n, peerIP=ip, asNumber=65001, password=ref) for n, ip in (("a", "10.0.0.8"), ("b", "10.0.0.9"))]  # fmt: skip
    sessions = render_objects([bgp_configuration(asNumber=64512), me, secret, *peers], ENV).plan.v4.sessions  # fmt: skip
    first, second = (s.password for s in sessions)
    assert (repr(first), str(first)) == ("Password(<redacted>)", "Password(<redacted>)")
    assert "s3cret" not in repr(sessions)
    assert len({first, second}) == 1 and first is not None and first.reveal() == "s3cret"


def test_a_service_address_that_is_also_a_range_gives_the_ranges_reason_then_the_services() -> None:
    config = calico("BGPConfiguration", "default", asNumber=64512, serviceClusterIPs=[{"cidr": "10.49.0.1/32"}])  # fmt: skip
    local = ready_elsewhere("a")
    local["endpoints"][0]["nodeName"] = "me"
    objects = [config, ME, svc("a", clusterIP="10.49.0.1", externalTrafficPolicy="Local"), local]
    assert [tuple(r) for r in render_objects(objects, ENV).plan.v4.routes] == [
        ("10.49.0.1/32", ("serviceClusterIPs range of BGPConfiguration default",
                          "Service ns/a: externalTrafficPolicy=Local, ready endpoint on this node; within serviceClusterIPs 10.49.0.1/32")),
    ]  # fmt: skip
