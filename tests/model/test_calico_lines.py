"""model: the lines an operator reads for refused Calico objects (BGPConfiguration, BGPPeer,
Node, IPPool) and the warnings for what is rendered anyway, whole and complete.

tests/model/test_refusal_lines.py has BGPFilter operations, communities, password references
and prefix advertisements; these the rest of each kind's fields. Written by hand; the list of
lines is compared whole, so a changed word, field path or an extra line fails.
"""

from __future__ import annotations

from typing import Any

import pytest
from manifests import bgp_peer

from birdgen.errors import InvalidInput
from birdgen.model.parse import parse_cluster

CFG = "BGPConfiguration/default: spec"
PEER = "BGPPeer/p: spec"
NODE = "Node/n: spec.bgp"
INTERFACE = 'is not an interface name or glob (up to 15 of [a-zA-Z0-9_.*-], not "*")'


def config(name: str = "default", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "projectcalico.org/v3", "kind": "BGPConfiguration",
            "metadata": {"name": name}, "spec": spec}  # fmt: skip


def node(**bgp: Any) -> dict[str, Any]:
    return {"apiVersion": "projectcalico.org/v3", "kind": "Node", "metadata": {"name": "n"},
            "spec": {"bgp": bgp}}  # fmt: skip


def pool(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "p"},
            "spec": spec}  # fmt: skip


def ref(**fields: Any) -> dict[str, Any]:
    return {"secretKeyRef": fields}


REFUSED: list[tuple[dict[str, Any], list[str]]] = [
    (config("node.n1", serviceClusterIPs=[{"cidr": "10.96.0.0/12"}], asNumber=65000),
     ["BGPConfiguration/node.n1: spec.asNumber: may only be set on the BGPConfiguration named default",
      "BGPConfiguration/node.n1: spec.serviceClusterIPs: may only be set on the BGPConfiguration named default"]),
    (config(nodeToNodeMeshEnabled=False, nodeMeshPassword=ref(name="a", key="b"),
            nodeMeshMaxRestartTime="10s"),
     [f"{CFG}.nodeMeshMaxRestartTime: cannot be set while nodeToNodeMeshEnabled is false",
      f"{CFG}.nodeMeshPassword: cannot be set while nodeToNodeMeshEnabled is false"]),
    (config(logSeverityScreen="Loud"),
     [f'{CFG}.logSeverityScreen: "Loud" is not one of Trace, Debug, Info, Warning, Error, Fatal']),
    (config(ignoredInterfaces=["*", "eth0", 'a"b']),
     [f'{CFG}.ignoredInterfaces[0]: "*" {INTERFACE}', f'{CFG}.ignoredInterfaces[2]: "a\\"b" {INTERFACE}']),
    (config(communities=[{"value": "1:1"}],
            prefixAdvertisements=[{"cidr": "10.0.0.0/8", "communities": ["1:1"]}]),
     [f"{CFG}.communities[0].name: is required"]),
    (config(communities=[{"name": "c", "value": "1:1"}]),
     [f"{CFG}.communities: is set but prefixAdvertisements is not"]),
    (config(serviceLoadBalancerAggregation="On", programClusterRoutes="x", bindMode="Any"),
     [f'{CFG}.bindMode: "Any" is not one of None, NodeIP',
      f'{CFG}.programClusterRoutes: "x" is not one of Enabled, Disabled, EnabledIPIPOnly, EnabledNoEncapOnly',
      f'{CFG}.serviceLoadBalancerAggregation: "On" is not one of Enabled, Disabled']),
    (config(localWorkloadPeeringIPV4="fd00::1", localWorkloadPeeringIPV6="10.0.0.1"),
     [f'{CFG}.localWorkloadPeeringIPV4: "fd00::1" is not an IPv4 address',
      f'{CFG}.localWorkloadPeeringIPV6: "10.0.0.1" is not an IPv6 address']),
    (config(listenPort=0, asNumber=0, ipv4NormalRoutePriority=0, ipv6NormalRoutePriority=2147483647),
     [f"{CFG}.asNumber: 0 is not a usable AS number",
      f"{CFG}.ipv4NormalRoutePriority: 0 is out of range (1-2147483646)",
      f"{CFG}.ipv6NormalRoutePriority: 2147483647 is out of range (1-2147483646)",
      f"{CFG}.listenPort: 0 is out of range (1-65535)"]),
    (config(nodeMeshMaxRestartTime="5000s"),
     [f'{CFG}.nodeMeshMaxRestartTime: "5000s" is out of range (0s-4095s, RFC 4724)']),
    # an entry with an empty cidr is dropped, as Calico drops it
    (config(serviceClusterIPs=[{"cidr": "x"}, {"cidr": ""}, {"foo": 1}]),
     [f'{CFG}.serviceClusterIPs[0].cidr: "x" is not a CIDR such as "10.96.0.0/12"',
      f"{CFG}.serviceClusterIPs[2].foo: unknown field"]),
    (config(nodeMeshPassword=ref()),
     [f"{CFG}.nodeMeshPassword.secretKeyRef.key: is required",
      f"{CFG}.nodeMeshPassword.secretKeyRef.name: is required"]),
    # a value given but invalid is said once, as invalid, not also as missing
    (config(nodeMeshPassword=ref(name="A", key="a b")),
     [f'{CFG}.nodeMeshPassword.secretKeyRef.key: "a b" is not a valid Secret key',
      f'{CFG}.nodeMeshPassword.secretKeyRef.name: "A" is not a valid name (lower-case RFC 1123 subdomain)']),
    (config(nodeMeshPassword=ref(name="", key="")),
     [f'{CFG}.nodeMeshPassword.secretKeyRef.key: "" is not a valid Secret key',
      f'{CFG}.nodeMeshPassword.secretKeyRef.name: "" is not a valid name']),
    (config(nodeMeshPassword={"other": 1}),
     [f"{CFG}.nodeMeshPassword.other: unknown field", f"{CFG}.nodeMeshPassword.secretKeyRef: is required"]),
    (bgp_peer("p", peerIP="0.0.0.0"),
     [f"{PEER}.peerIP: 0.0.0.0 is the unspecified address; BIRD cannot peer with it"]),
    (bgp_peer("p", peerIP="10.0.0.1", reachableBy="0.0.0.0", asNumber=1),
     [f"{PEER}.reachableBy: 0.0.0.0 is the unspecified address; it cannot be a gateway"]),
    (bgp_peer("p", peerIP="10.0.0.1", reachableBy="fd00::1", asNumber=1),
     [f'{PEER}.reachableBy: "fd00::1" is not of the same IP family as spec.peerIP']),
    (bgp_peer("p", peerSelector="all()", reachableBy="10.0.0.1"),
     [f"{PEER}.reachableBy: requires spec.peerIP"]),
    (bgp_peer("p", node="n1", nodeSelector="all()", peerIP="10.0.0.1", peerSelector="all()", asNumber=5),
     [f"{PEER}.asNumber: cannot be set together with spec.peerSelector (the AS comes from the selected nodes)",
      f"{PEER}.nodeSelector: cannot be set together with spec.node",
      f"{PEER}.peerSelector: cannot be set together with spec.peerIP"]),
    (bgp_peer("p", localWorkloadSelector="all()", peerIP="10.0.0.1"),
     [f"{PEER}.asNumber: is required with spec.localWorkloadSelector",
      f"{PEER}.localWorkloadSelector: cannot be set together with spec.peerIP or spec.peerSelector"]),
    (bgp_peer("p"), [f"{PEER}: one of peerIP, peerSelector or localWorkloadSelector is required"]),
    (bgp_peer("p", peerIP="10.0.0.1", keepOriginalNextHop=True, nextHopMode="Self"),
     [f"{PEER}.keepOriginalNextHop: cannot be set together with spec.nextHopMode"]),
    (bgp_peer("p", peerIP="10.0.0.1", nextHopMode="Other", sourceAddress="X", reversePeering="Y",
              maxRestartTime="x", keepaliveTime="0s", numAllowedLocalASNumbers=256, ttlSecurity=-1,
              filters=["A"]),
     [f'{PEER}.filters[0]: "A" is not a valid name (lower-case RFC 1123 subdomain)',
      f'{PEER}.keepaliveTime: "0s" is out of range (1s-65535s)',
      f'{PEER}.maxRestartTime: "x" is not a duration such as "90s" or "2m"',
      f'{PEER}.nextHopMode: "Other" is not one of Auto, Self, Keep',
      f"{PEER}.numAllowedLocalASNumbers: 256 is out of range (0-255)",
      f'{PEER}.reversePeering: "Y" is not one of Auto, Manual',
      f'{PEER}.sourceAddress: "X" is not one of UseNodeIP, None',
      f"{PEER}.ttlSecurity: -1 is out of range (0-255)"]),
    (bgp_peer("p", peerIP="10.0.0.1", nodeSelector=["x"]),
     [f"{PEER}.nodeSelector: ['x'] is not a selector"]),
    (bgp_peer("p", peerSelector=5), [f"{PEER}.peerSelector: 5 is not a selector"]),
    (bgp_peer("p", peerIP="10.0.0.1", nodeSelector="(("),
     [f'{PEER}.nodeSelector: selector "((": expected a label key, "all()", "has(", "!" or "(" at position 2']),
    (node(), ["Node/n: spec.bgp: is present but empty"]),
    (node(ipv4Address="fd00::1/64", ipv6Address="10.0.0.1/24"),
     [f'{NODE}.ipv4Address: "fd00::1/64" is not an IPv4 address',
      f'{NODE}.ipv6Address: "10.0.0.1/24" is not an IPv6 address']),
    (node(ipv4Address="0.0.0.0/0", ipv6Address="::/0"),
     [f"{NODE}.ipv4Address: 0.0.0.0 is the unspecified address, not a node's BGP address",
      f"{NODE}.ipv6Address: :: is the unspecified address, not a node's BGP address"]),
    (node(ipv4Address="10.0.0.1/24", ipv4IPIPTunnelAddr="fd00::1", routeReflectorClusterID="fd00::1",
          asNumber=0, foo=1),
     [f"{NODE}.asNumber: 0 is not a usable AS number", f"{NODE}.foo: unknown field",
      f'{NODE}.ipv4IPIPTunnelAddr: "fd00::1" is not an IPv4 address',
      f'{NODE}.routeReflectorClusterID: "fd00::1" is not an IPv4 address']),
    (pool(disableBGPExport="yes"), ["IPPool/p: spec.cidr: is required"]),
    (pool(cidr="10.0.0.0/8", disableBGPExport="yes", x=1),
     ['IPPool/p: spec.disableBGPExport: "yes" is not a boolean', "IPPool/p: spec.x: unknown field"]),
]  # fmt: skip


@pytest.mark.parametrize(("obj", "lines"), REFUSED, ids=range(len(REFUSED)))
def test_a_refused_object_is_said_in_these_lines(obj: dict[str, Any], lines: list[str]) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_cluster([obj])
    assert [str(p) for p in info.value.problems] == lines


@pytest.mark.parametrize(
    ("spec", "warning"),
    [
        ({"peerIP": "224.0.0.5", "asNumber": 1},
         "BGPPeer/p: spec.peerIP: 224.0.0.5 is a multicast address; rendered as Calico renders it,"
         " but no BGP session can come up with it"),
        ({"peerIP": "10.0.0.1", "reachableBy": "224.0.0.1", "asNumber": 1},
         "BGPPeer/p: spec.reachableBy: 224.0.0.1 is a multicast address; rendered as Calico"
         " renders it, but BIRD never uses a route through it"),
    ],
)  # fmt: skip
def test_a_multicast_address_is_rendered_with_this_warning(
    spec: dict[str, Any], warning: str
) -> None:
    assert list(parse_cluster([bgp_peer("p", **spec)]).warnings) == [warning]


def test_an_empty_password_is_no_password() -> None:
    assert parse_cluster([config(nodeMeshPassword={})]).default_config.node_mesh_password is None


def test_an_ip_pool_cidr_is_validated_though_pools_are_not_used() -> None:
    obj = pool(cidr="10.0.0.1/8")
    with pytest.raises(InvalidInput) as info:
        parse_cluster([obj])
    assert [str(p) for p in info.value.problems] == [
        'IPPool/p: spec.cidr: "10.0.0.1/8" has host bits set (did you mean "10.0.0.0/8"?)'
    ]


def test_an_empty_route_reflector_cluster_id_is_no_route_reflector() -> None:
    cluster = parse_cluster([node(ipv4Address="10.0.0.1/24", routeReflectorClusterID="")])
    assert cluster.nodes["n"].rr_cluster_id == ""


def test_a_calico_node_without_bgp_keeps_its_labels_for_selectors() -> None:
    obj = {"apiVersion": "projectcalico.org/v3", "kind": "Node",
           "metadata": {"name": "n", "labels": {"rack": "r1"}}, "spec": {}}  # fmt: skip
    assert parse_cluster([obj]).nodes["n"].labels == {"rack": "r1"}


def test_an_empty_node_address_is_no_address_as_calicos_omitempty() -> None:
    cluster = parse_cluster([node(ipv4Address="", ipv6Address="fd00::2/64")])
    assert cluster.nodes["n"].ipv4 is None
    assert str(cluster.nodes["n"].ipv6) == "fd00::2/64"
    cluster = parse_cluster([node(ipv4Address="10.0.0.2/24", ipv6Address="")])
    assert str(cluster.nodes["n"].ipv4) == "10.0.0.2/24" and cluster.nodes["n"].ipv6 is None
