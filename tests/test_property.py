"""Property: any resources at all either render a config the real BIRD accepts, or fail with a
clean InvalidInput whose every problem names an object — never a crash, never a broken config."""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from birdgen.errors import InvalidInput
from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects
from birdgen.write.check import check_text

NODES = ["node-a", "node-b", "node-c"]
# Mostly-valid values, salted with hostile text: quotes, braces, newlines, BIRD keywords. Each
# attack names its protocol "evil", which the rendered text must never hold.
EVIL = '"; } protocol bgp evil { neighbor 6.6.6.6 as 666; #'
hostile = st.sampled_from([EVIL, "a\nb", "\\", "{", "", " ", "ünïcode", "x" * 300])
# An address with an IPv6 zone: `ipaddress` takes any text after `%` and prints it back.
zoned = st.builds(lambda ip: f"{ip}%lo as 1; }} protocol bgp evil {{ #", st.ip_addresses(v=6))
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)


def salted(
    valid: st.SearchStrategy[Any], bad: st.SearchStrategy[Any] = hostile
) -> st.SearchStrategy[Any]:
    """Valid 24 times in 25, so that many examples get as far as BIRD."""
    return st.integers(0, 24).flatmap(lambda i: bad if i == 0 else valid)


ip_text = salted(st.one_of(ipv4, ipv6), st.one_of(hostile, zoned, st.just("1.2.3")))
cidr_text = salted(
    st.one_of(
        st.builds(
            lambda ip, n: str(ipaddress.ip_network(f"{ip}/{n}", strict=False)),
            ipv4,
            st.integers(8, 32),
        ),
        st.builds(
            lambda ip, n: str(ipaddress.ip_network(f"{ip}/{n}", strict=False)),
            ipv6,
            st.integers(64, 128),
        ),
    ),
    st.one_of(hostile, st.just("fd00:50::%lo; } protocol bgp evil { #/64"), st.just("10.0.0.1/8")),
)
asn = salted(st.one_of(st.integers(1, 2**32 - 1), st.sampled_from(["64512", "1.10"])),
             st.one_of(st.integers(2**32, 2**33), st.sampled_from(["70000.1", "x", 0])))  # fmt: skip
name = salted(st.sampled_from(["tor", "rack-1", "a.b"]))


def calico(kind: str, obj_name: Any, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": kind,
        "metadata": {"name": obj_name},
        "spec": spec,
    }


@st.composite
def clusters(draw: st.DrawFn) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = [
        calico("BGPConfiguration", "default", {
            "asNumber": draw(asn),
            "nodeToNodeMeshEnabled": draw(st.booleans()),
            "serviceClusterIPs": [{"cidr": c} for c in draw(st.lists(cidr_text, max_size=3))],
            "serviceExternalIPs": [{"cidr": c} for c in draw(st.lists(cidr_text, max_size=2))],
            "serviceLoadBalancerIPs": [{"cidr": c} for c in draw(st.lists(cidr_text, max_size=2))],
            "serviceLoadBalancerAggregation": draw(st.sampled_from(["Enabled", "Disabled"])),
        })
    ]  # fmt: skip
    for n in NODES:
        bgp = {
            "ipv4Address": draw(salted(ipv4, ip_text)),
            "asNumber": draw(st.one_of(st.none(), asn)),
        }
        if draw(st.integers(0, 3)):  # mostly dual stack, so IPv6 sessions (and zones) render
            bgp["ipv6Address"] = draw(ipv6)
        labels = {"rack": draw(salted(st.just("r1"))),
                  "node.kubernetes.io/exclude-from-external-load-balancers": draw(st.sampled_from(["true", "false", True]))}  # fmt: skip
        objs.append(
            {
                **calico("Node", n, {"bgp": {k: v for k, v in bgp.items() if v is not None}}),
                "metadata": {"name": n, "labels": labels},
            }
        )
    for i in range(draw(st.integers(0, 3))):
        # A zoned peerIP in one peer of four: with every other value valid, only the refusal
        # of zones keeps the "evil" protocol out of the config.
        peer_ip = draw(st.one_of(ip_text, ip_text, ip_text, zoned))
        spec: dict[str, Any] = {"peerIP": peer_ip, "asNumber": draw(asn)}
        if draw(st.booleans()):
            spec["password"] = {"secretKeyRef": {"name": "bgp", "key": f"k{i}"}}
        if draw(st.booleans()):
            spec["node"] = draw(st.sampled_from(NODES))
        objs.append(calico("BGPPeer", draw(name), spec))
    objs.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bgp", "namespace": "kube-system"},
                 "stringData": {f"k{i}": draw(salted(st.just("s3cret"))) for i in range(3)}})  # fmt: skip
    for i in range(draw(st.integers(0, 4))):
        svc_name = f"svc-{i}"
        objs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc_name, "namespace": "default"},
                     "spec": {"type": draw(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"])),
                              "clusterIP": draw(st.one_of(ip_text, st.just("None"))),
                              "externalIPs": draw(st.lists(ip_text, max_size=2)),
                              "externalTrafficPolicy": draw(st.sampled_from(["Local", "Cluster"]))},
                     "status": {"loadBalancer": {"ingress": [{"ip": draw(ip_text)}]}}})  # fmt: skip
        objs.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                     "metadata": {"name": f"{svc_name}-x", "namespace": "default", "labels": {"kubernetes.io/service-name": svc_name}},
                     "addressType": draw(st.sampled_from(["IPv4", "IPv6"])),
                     "endpoints": [{"nodeName": draw(st.sampled_from(NODES)), "conditions": {"ready": draw(st.booleans())}}]})  # fmt: skip
    return objs


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(), st.sampled_from(NODES))
def test_random_resources_render_valid_config_or_fail_cleanly(
    objects: list[dict[str, Any]], node: str
) -> None:
    try:
        rendered = render_objects(objects, Environment(node_name=node))
    except InvalidInput as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.kind and problem.message
            assert "\n" not in str(problem)  # one line each: no raw newlines echoed from input
        return
    check_text(rendered.text, display_name="<property>")
    assert "evil" not in rendered.text and '"; }' not in rendered.text, (
        "resource text in the config"
    )
