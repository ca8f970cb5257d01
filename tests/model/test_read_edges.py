"""model: edges of reading objects that no other test pinned (mutation testing found them).

The refusal lines are compared whole; the records are the ones a reader of the cluster gets.
Written by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from birdgen.errors import InvalidInput
from birdgen.model.documents import NodeDocument, ObjectMeta, ServiceDocument
from birdgen.model.parse import parse_cluster, parse_object
from birdgen.model.resources import Environment


def refusal(*objects: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        parse_cluster(list(objects))
    return [str(p) for p in info.value.problems]


def calico(kind: str, name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": {"name": name}, "spec": spec}  # fmt: skip


def kube_node(
    labels: dict[str, Any] | None = None,
    address: str | None = None,
    annotations: dict[str, Any] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "n1", "labels": labels or {}}
    if address:
        annotations = {**(annotations or {}), "projectcalico.org/IPv4Address": address}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Node", "metadata": meta}


def test_more_than_500_communities_are_refused() -> None:
    communities = [{"name": f"c{i}", "value": f"1:{i}"} for i in range(501)]
    adverts = [{"cidr": "10.0.0.0/8", "communities": ["c1"]}]
    config = calico("BGPConfiguration", "default", communities=communities, prefixAdvertisements=adverts)  # fmt: skip
    assert refusal(config) == [
        "BGPConfiguration/default: spec.communities: has 501 entries; at most 500 are allowed"
    ]


def test_a_peers_empty_node_and_reachable_by_are_as_if_not_given() -> None:
    peer = calico("BGPPeer", "p", peerIP="10.0.0.1", asNumber=65001, node="", reachableBy="")
    cluster = parse_cluster([peer])
    assert cluster.warnings == ()
    (read,) = cluster.peers
    assert read.node == "" and read.reachable_by is None


def test_boolean_label_values_read_as_the_words_true_and_false() -> None:
    (node,) = parse_cluster([kube_node({"a": False, "b": True})]).nodes.values()
    assert node.labels == {"a": "false", "b": "true"}


def test_a_label_value_of_another_type_is_refused_naming_the_value() -> None:
    assert refusal(kube_node({"a": [1]})) == ["Node/n1: metadata.labels.a: expected a string, got [1]"]  # fmt: skip


# An ingress IP Calico skips (with a warning) and a Service label written as a number send
# the objects to the field-by-field readers (the fast readers step aside), as well as the
# plain shapes the fast readers take.
ODD_INGRESS = {"loadBalancer": {"ingress": [{"ip": "not-an-ip"}]}}


@pytest.mark.parametrize("status", [{}, ODD_INGRESS], ids=["fast", "field-by-field"])
@pytest.mark.parametrize("kind", ["NodePort", "LoadBalancer"])
def test_a_node_port_or_load_balancer_service_without_a_policy_is_cluster_wide(
    kind: str, status: dict[str, Any]
) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
           "spec": {"type": kind, "clusterIP": "10.49.0.1"}, "status": status}  # fmt: skip
    assert parse_cluster([svc]).services[0].external_traffic_policy == "Cluster"


@pytest.mark.parametrize("owner", ["s", 5], ids=["fast", "field-by-field"])
def test_an_endpoint_slices_other_labels_are_not_checked(owner: Any) -> None:
    # The other label first: reading the one wanted goes on past the others.
    labels = {"bad key!": "not a value", "kubernetes.io/service-name": owner}
    eps = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": "s-1", "namespace": "ns", "labels": labels},
           "addressType": "IPv4", "endpoints": []}  # fmt: skip
    cluster = parse_cluster([eps])
    assert [s.name for s in cluster.slices[("ns", str(owner))]] == ["s-1"]


def test_every_secret_value_that_is_not_base64_is_named() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k", "namespace": "ns"},
              "data": {"a": "!!!", "b": "???"}}  # fmt: skip
    assert refusal(secret) == [
        "Secret/ns/k: data.a: is not base64-encoded UTF-8 text",
        "Secret/ns/k: data.b: is not base64-encoded UTF-8 text",
    ]


def test_a_calico_node_with_only_an_as_number_still_wins_over_the_kubernetes_node() -> None:
    # Its BGP data are Calico's (etcd mode), even without an address; the labels are merged.
    nodes = parse_cluster([calico("Node", "n1", bgp={"asNumber": 65010}), kube_node({"k": "v"}, "10.0.0.5/24")]).nodes  # fmt: skip
    node = nodes["n1"]
    assert (node.ipv4, node.as_number, node.labels) == (None, 65010, {"k": "v"})


def test_a_calico_node_without_bgp_data_takes_the_kubernetes_nodes() -> None:
    nodes = parse_cluster([calico("Node", "n1"), kube_node({"k": "v"}, "10.0.0.5/24")]).nodes
    node = nodes["n1"]
    assert (str(node.ipv4), node.as_number, node.labels) == ("10.0.0.5/24", None, {"k": "v"})


def test_a_kubernetes_node_with_a_bad_name_is_refused_as_a_node() -> None:
    bad = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "Bad_Name"}}
    assert refusal(bad) == [
        'Node/Bad_Name: metadata.name: "Bad_Name" is not a valid name (lower-case RFC 1123 subdomain)'
    ]


@pytest.mark.parametrize(("document", "kind"), [(ServiceDocument(), "Service"), (NodeDocument(), "Node")])  # fmt: skip
def test_a_typed_document_without_metadata_is_refused_naming_metadata(
    document: Any, kind: str
) -> None:
    parsed = parse_object(document)
    assert parsed.key is None
    assert [str(p) for p in parsed.problems] == [f"{kind}/?: metadata: is required"]


def test_the_environments_names_are_checked_and_only_the_node_name_says_where_it_came_from() -> (
    None
):
    assert [str(p) for p in Environment(node_name="").problems()] == [
        'environment/NODENAME: "" is not a valid name (from --node, $NODENAME or the host name)'
    ]
    assert [str(p) for p in Environment(node_name="n", k8s_node_ref="Bad_Ref").problems()] == [
        'environment/CALICO_K8S_NODE_REF: "Bad_Ref" is not a valid name (lower-case RFC 1123 subdomain)'
    ]
    assert Environment(node_name="n").problems() == []


def secret(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k", "namespace": "ns"}, **fields}  # fmt: skip


def test_a_secret_with_only_string_data_holds_its_values() -> None:
    (read,) = parse_cluster([secret(stringData={"pw": "x"})]).secrets.values()
    assert (read.data, read.from_string_data) == ({"pw": "x"}, frozenset({"pw"}))


def test_every_invalid_secret_key_is_named() -> None:
    assert refusal(secret(data={"a b": "eA==", "c d": "eA=="})) == [
        "Secret/ns/k: data.a b: is not a valid Secret key (1-253 of [-._a-zA-Z0-9])",
        "Secret/ns/k: data.c d: is not a valid Secret key (1-253 of [-._a-zA-Z0-9])",
    ]


def test_a_password_reference_takes_a_key_with_upper_case_letters() -> None:
    ref = {"secretKeyRef": {"name": "k", "key": "Pass.Word_1"}}
    peer = calico("BGPPeer", "p", peerIP="10.0.0.1", asNumber=65001, password=ref)
    (read,) = parse_cluster([peer]).peers
    assert read.password is not None and (read.password.name, read.password.key) == ("k", "Pass.Word_1")  # fmt: skip


def test_an_address_annotation_of_the_other_family_leaves_the_node_without_that_address() -> None:
    annotations = {"projectcalico.org/IPv4Address": "fd00::1/64", "projectcalico.org/IPv6Address": "10.0.0.1/24"}  # fmt: skip
    cluster = parse_cluster([kube_node(annotations=annotations)])
    node = cluster.nodes["n1"]
    assert (node.ipv4, node.ipv6) == (None, None)
    assert cluster.warnings == (
        "Node/n1: metadata.annotations.projectcalico.org/IPv4Address: not IPv4; ignored",
        "Node/n1: metadata.annotations.projectcalico.org/IPv6Address: not IPv6; ignored",
    )


@pytest.mark.parametrize(("value", "shown"), [(False, "false"), (True, "true")])
def test_a_boolean_where_a_number_belongs_is_shown_as_written(value: bool, shown: str) -> None:
    peer = calico("BGPPeer", "p", peerIP="10.0.0.1", asNumber=value)
    assert refusal(peer) == [f"BGPPeer/p: spec.asNumber: {shown} is not an AS number"]


def test_a_kubernetes_nodes_valid_annotations_are_its_bgp_data() -> None:
    annotations = {"projectcalico.org/IPv4Address": "10.0.0.1/24", "projectcalico.org/IPv6Address": "fd00::1/64",
                   "projectcalico.org/RouteReflectorClusterID": "224.0.0.1"}  # fmt: skip
    cluster = parse_cluster([kube_node(annotations=annotations)])
    node = cluster.nodes["n1"]
    assert (str(node.ipv4), str(node.ipv6), node.rr_cluster_id) == ("10.0.0.1/24", "fd00::1/64", "224.0.0.1")  # fmt: skip
    assert cluster.warnings == ()


@pytest.mark.parametrize("status", [{}, ODD_INGRESS], ids=["fast", "field-by-field"])
def test_an_explicitly_empty_traffic_policy_is_kept_empty(status: dict[str, Any]) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
           "spec": {"type": "LoadBalancer", "clusterIP": "10.49.0.1", "externalTrafficPolicy": ""},
           "status": status}  # fmt: skip
    assert parse_cluster([svc]).services[0].external_traffic_policy == ""


def test_an_endpoints_node_name_or_ready_of_another_type_is_refused() -> None:
    eps = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": "s-1", "namespace": "ns", "labels": {"kubernetes.io/service-name": "s"}},
           "addressType": "IPv4",
           "endpoints": [{"nodeName": 5}, {"nodeName": "n1", "conditions": {"ready": "yes"}}]}  # fmt: skip
    assert refusal(eps) == [
        "EndpointSlice/ns/s-1: endpoints[0].nodeName: 5 is not a string",
        'EndpointSlice/ns/s-1: endpoints[1].conditions.ready: "yes" is not a boolean',
    ]


def test_an_empty_peer_ip_beside_a_peer_selector_is_as_if_not_given() -> None:
    (read,) = parse_cluster([calico("BGPPeer", "p", peerIP="", peerSelector="all()")]).peers
    assert read.peer_ip is None and str(read.peer_selector) == "all()"


def test_a_local_workload_selector_with_a_peer_selector_is_refused() -> None:
    peer = calico("BGPPeer", "p", localWorkloadSelector="all()", peerSelector="all()")
    assert refusal(peer) == [
        "BGPPeer/p: spec.asNumber: is required with spec.localWorkloadSelector",
        "BGPPeer/p: spec.localWorkloadSelector: cannot be set together with spec.peerIP or spec.peerSelector",
    ]


def test_a_label_keys_prefix_may_be_253_characters_and_no_more() -> None:
    prefix = ".".join(["a" * 63] * 4)[:253]  # four labels, the last one 61 characters
    (node,) = parse_cluster([kube_node({f"{prefix}/k": "v"})]).nodes.values()
    assert list(node.labels) == [f"{prefix}/k"]
    assert len(refusal(kube_node({f"{prefix}a/k": "v"}))) == 1


def test_every_bad_label_is_named_and_a_null_value_reads_as_empty() -> None:
    labels = {1: "a", "n": float("nan"), "l": [1], "m": [2], "z": None, "ok": "v"}
    assert refusal(kube_node(labels)) == [
        "Node/n1: metadata.labels: key 1 is not a string",
        "Node/n1: metadata.labels.l: expected a string, got [1]",
        "Node/n1: metadata.labels.m: expected a string, got [2]",
        "Node/n1: metadata.labels.n: nan is not a finite number",
    ]
    (node,) = parse_cluster([kube_node({"z": None, "ok": "v"})]).nodes.values()
    assert node.labels == {"z": "", "ok": "v"}


def test_labels_that_are_not_a_map_are_refused_naming_what_was_written() -> None:
    obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": ["a"]}}
    assert refusal(obj) == ["Node/n1: metadata.labels: expected a map of strings, got ['a']"]


def test_a_namespaced_object_is_named_with_its_namespace() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"}, "spec": {"clusterIP": "10.49.0.1"}}  # fmt: skip
    peer = calico("BGPPeer", "p", peerIP="10.0.0.1", asNumber=65001)
    cluster = parse_cluster([svc, peer])
    assert (str(cluster.services[0].ref), str(cluster.peers[0].ref)) == (
        "Service ns/s",
        "BGPPeer p",
    )


@pytest.mark.parametrize(("count", "refused"), [(500, False), (501, True)])
def test_at_most_500_prefix_advertisements(count: int, refused: bool) -> None:
    adverts = [
        {"cidr": f"10.{i // 256}.{i % 256}.0/24", "communities": ["c"]} for i in range(count)
    ]
    config = calico("BGPConfiguration", "default", communities=[{"name": "c", "value": "1:1"}], prefixAdvertisements=adverts)  # fmt: skip
    if not refused:
        assert len(parse_cluster([config]).default_config.prefix_advertisements) == 500
        return
    assert refusal(config) == [
        "BGPConfiguration/default: spec.prefixAdvertisements: has 501 entries; at most 500 are allowed"
    ]


ANNOTATED = kube_node()
ANNOTATED["metadata"]["annotations"] = {
    "projectcalico.org/IPv4Address": "10.0.0.5/24",
    "projectcalico.org/IPv6Address": "fd00::5/64",
    "projectcalico.org/ASNumber": "65020",
}
MERGED = [
    # a Calico Node with any BGP data wins whole, the Kubernetes Node's annotations unread
    ({"ipv6Address": "fd00::1/64"}, ("None", "fd00::1/64", None)),
    (
        {"ipv4Address": "10.0.0.1/24", "ipv6Address": "fd00::1/64"},
        ("10.0.0.1/24", "fd00::1/64", None),
    ),
    # one without takes the Kubernetes Node's
    (None, ("10.0.0.5/24", "fd00::5/64", 65020)),
]


@pytest.mark.parametrize(("bgp", "want"), MERGED)
def test_which_nodes_bgp_data_a_merged_node_has(bgp: dict[str, Any] | None, want: tuple[Any, ...]) -> None:  # fmt: skip
    calico_node = calico("Node", "n1", **({"bgp": bgp} if bgp else {}))
    node = parse_cluster([calico_node, ANNOTATED]).nodes["n1"]
    assert (str(node.ipv4), str(node.ipv6), node.as_number) == want


def test_a_typed_document_keeps_its_namespace() -> None:
    document = ServiceDocument(metadata=ObjectMeta(name="s", namespace="ns"))
    assert parse_object(document).key == ("Service", "ns", "s")


def test_a_namespace_that_is_not_a_string_is_refused_with_this_line() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": [1]}, "spec": {"clusterIP": "10.49.0.1"}}  # fmt: skip
    assert refusal(svc) == ["Service/s: metadata.namespace: [1] is not a valid name"]


def test_objects_not_read_are_named_in_notices_with_what_cannot_be_shown_as_a_question_mark() -> (
    None
):
    objects = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {}},
        {"apiVersion": "a (b)", "kind": "Thing", "metadata": {"name": "t"}},
        {"apiVersion": "x.io/vX", "kind": "Other", "metadata": {"name": "o"}},
    ]
    assert parse_cluster(objects).warnings == (
        "skipping Deployment/? (apps/v1): not a kind birdgen reads",
        "skipping Thing/t (?): not a kind birdgen reads",
        "skipping Other/o (x.io/vX): not a kind birdgen reads",
    )


def test_secret_data_that_is_not_a_map_leaves_string_data_read() -> None:
    assert refusal(secret(data="x", stringData={"a b": "v"})) == [
        "Secret/ns/k: data: expected a map, got a string",
        "Secret/ns/k: stringData.a b: is not a valid Secret key (1-253 of [-._a-zA-Z0-9])",
    ]
