"""model: the lines an operator reads for bad Kubernetes objects (EndpointSlice, Service,
Endpoints, Secret refused; Node annotations ignored with a warning), whole and complete.

Each object goes through `parse_cluster` as a file's document would; the lines are written
by hand and the list is compared whole, so a changed word, field path or an extra line fails.
"""

from __future__ import annotations

from typing import Any

import pytest

from birdgen.errors import InvalidInput
from birdgen.model.parse import parse_cluster

SLICE = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "s-1", "namespace": "ns",
                      "labels": {"kubernetes.io/service-name": "s"}}}  # fmt: skip
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"}}
ENDPOINTS = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "e", "namespace": "ns"}}
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k", "namespace": "ns"}}
ANNOTATION = "Node/n1: metadata.annotations.projectcalico.org/"
KEY = ("is not a valid key (an optional DNS subdomain and '/', then up to 63 of [-A-Za-z0-9_.],"
       " starting and ending alphanumeric)")  # fmt: skip


def refusal(obj: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        parse_cluster([obj])
    return [str(p) for p in info.value.problems]


def warnings(obj: dict[str, Any]) -> list[str]:
    return list(parse_cluster([obj]).warnings)


REFUSED: list[tuple[dict[str, Any], list[str]]] = [
    ({**SLICE, "endpoints": []}, ["EndpointSlice/ns/s-1: addressType: is required (IPv4, IPv6 or FQDN)"]),
    ({**SLICE, "addressType": None}, ["EndpointSlice/ns/s-1: addressType: is required (IPv4, IPv6 or FQDN)"]),
    ({**SLICE, "addressType": "IPX"}, ['EndpointSlice/ns/s-1: addressType: "IPX" is not IPv4, IPv6 or FQDN']),
    # one line, naming the value written (not an empty string read in its place)
    ({**SLICE, "addressType": 4}, ["EndpointSlice/ns/s-1: addressType: 4 is not IPv4, IPv6 or FQDN"]),
    ({**SLICE, "addressType": "IPv4", "endpoints": [{"conditions": {"ready": "yes"}, "nodeName": 5}]},
     ['EndpointSlice/ns/s-1: endpoints[0].conditions.ready: "yes" is not a boolean',
      "EndpointSlice/ns/s-1: endpoints[0].nodeName: 5 is not a string"]),
    ({**SLICE, "addressType": "IPv4", "endpoints": "x"},
     ['EndpointSlice/ns/s-1: endpoints: expected a list, got "x"']),
    ({**SLICE, "addressType": "IPv4", "endpoints": [{"conditions": "x"}]},
     ['EndpointSlice/ns/s-1: endpoints[0].conditions: expected an object, got "x"']),
    ({**SERVICE, "spec": {"type": "Foo"}},
     ['Service/ns/s: spec.type: "Foo" is not one of ClusterIP, NodePort, LoadBalancer, ExternalName']),
    ({**SERVICE, "spec": {"clusterIP": 5}}, ["Service/ns/s: spec.clusterIP: 5 is not a string"]),
    ({**SERVICE, "spec": {"clusterIP": "10.0.0.1x"}},
     ['Service/ns/s: spec.clusterIP: "10.0.0.1x" is not an IP address']),
    ({**SERVICE, "spec": {"clusterIPs": ["x", "10.0.0.1"]}},
     ['Service/ns/s: spec.clusterIPs[0]: "x" is not an IP address']),
    ({**SERVICE, "spec": {"ipFamilies": ["IPv5"]}},
     ['Service/ns/s: spec.ipFamilies[0]: "IPv5" is not IPv4 or IPv6']),
    ({**SERVICE, "spec": {"externalTrafficPolicy": "Nope"}},
     ['Service/ns/s: spec.externalTrafficPolicy: "Nope" is not Local or Cluster']),
    ({**SERVICE, "spec": {"externalIPs": ["x"]}},
     ['Service/ns/s: spec.externalIPs[0]: "x" is not an IP address']),
    ({**SERVICE, "spec": {"loadBalancerIP": "x"}},
     ['Service/ns/s: spec.loadBalancerIP: "x" is not an IP address']),
    ({**SERVICE, "spec": {"type": "LoadBalancer"},
      "status": {"loadBalancer": {"ingress": [{"ip": "x"}, {"ip": 5}, {"hostname": "h"}]}}},
     ["Service/ns/s: status.loadBalancer.ingress[1].ip: 5 is not an IP address"]),
    ({**ENDPOINTS, "subsets": [{"addresses": [{"ip": "x"}]}]},
     ['Endpoints/ns/e: subsets[0].addresses[0].ip: "x" is not an IP address']),
    ({**ENDPOINTS, "subsets": [{"addresses": [{"ip": "10.0.0.1", "nodeName": 5}]}]},
     ["Endpoints/ns/e: subsets[0].addresses[0].nodeName: 5 is not a string"]),
    ({**ENDPOINTS, "subsets": [{"notReadyAddresses": "x"}]},
     ['Endpoints/ns/e: subsets[0].notReadyAddresses: expected a list, got "x"']),
    ({**ENDPOINTS, "subsets": "x"}, ['Endpoints/ns/e: subsets: expected a list, got "x"']),
    # a Secret's values are never shown, only what they are
    ({**SECRET, "data": "x"}, ["Secret/ns/k: data: expected a map, got a string"]),
    ({**SECRET, "stringData": []}, ["Secret/ns/k: stringData: expected a map, got a list"]),
    ({**SECRET, "data": {"k": 5}}, ["Secret/ns/k: data.k: expected a base64 string, got a number"]),
    ({**SECRET, "data": {"k": "!!"}}, ["Secret/ns/k: data.k: is not base64-encoded UTF-8 text"]),
    ({**SECRET, "data": {"k": "/w=="}}, ["Secret/ns/k: data.k: is not base64-encoded UTF-8 text"]),
    ({**SECRET, "data": {"a b": "eA=="}},
     ["Secret/ns/k: data.a b: is not a valid Secret key (1-253 of [-._a-zA-Z0-9])"]),
    ({**SECRET, "stringData": {"k": [1]}}, ["Secret/ns/k: stringData.k: expected a string, got a list"]),
    ({**SECRET, "stringData": {"k": None}}, ["Secret/ns/k: stringData.k: expected a string, got null"]),
    ({**SECRET, "stringData": {"k": True}},
     ["Secret/ns/k: stringData.k: expected a string, got a boolean"]),
    ({**SECRET, "stringData": {"k": 1.5}}, ["Secret/ns/k: stringData.k: expected a string, got a number"]),
    ({**SECRET, "stringData": {"k": {}}}, ["Secret/ns/k: stringData.k: expected a string, got a map"]),
]  # fmt: skip


@pytest.mark.parametrize(("obj", "lines"), REFUSED, ids=range(len(REFUSED)))
def test_a_refused_object_is_said_in_these_lines(obj: dict[str, Any], lines: list[str]) -> None:
    assert refusal(obj) == lines


def node(annotations: dict[str, Any], labels: dict[str, Any] | None = None) -> dict[str, Any]:
    meta = {"name": "n1", "annotations": annotations, **({"labels": labels} if labels else {})}
    return {"apiVersion": "v1", "kind": "Node", "metadata": meta}


IGNORED: list[tuple[str, Any, str]] = [
    ("IPv4Address", "x", '"x" is not an IP address or CIDR'),
    ("IPv4Address", 5, '"5" is not an IP address or CIDR'),
    ("IPv4Address", "fd00::1/64", "not IPv4"),
    ("IPv6Address", "10.0.0.1/24", "not IPv6"),
    ("IPv4Address", "0.0.0.0/0", "0.0.0.0 is the unspecified address, not a node's BGP address"),
    ("IPv6Address", "fe80::1/64",
     "fe80::1 is an IPv6 link-local address, which BIRD cannot use without an interface, not a node's BGP address"),
    ("RouteReflectorClusterID", "fd00::1", "not IPv4"),
    ("RouteReflectorClusterID", "x", '"x" is not an IP address'),
    ("ASNumber", "0", "0 is not a usable AS number"),
    ("ASNumber", "x", '"x" is not an AS number (a uint32 or a.b)'),
]  # fmt: skip


@pytest.mark.parametrize(("key", "value", "why"), IGNORED, ids=range(len(IGNORED)))
def test_a_bad_node_annotation_is_ignored_with_this_warning(key: str, value: Any, why: str) -> None:
    assert warnings(node({"projectcalico.org/" + key: value})) == [
        f"{ANNOTATION}{key}: {why}; ignored"
    ]


def test_bad_node_labels_are_refused_with_the_key_or_value_named() -> None:
    assert refusal(node({}, {"a b": "x"})) == [f'Node/n1: metadata.labels: "a b" {KEY}']
    assert refusal(node({}, {"k": "a b"})) == [
        'Node/n1: metadata.labels.k: "a b" is not a valid label value'
        " (up to 63 of [-A-Za-z0-9_.], starting and ending alphanumeric)"
    ]
