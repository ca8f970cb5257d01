"""The fast readers for Services, EndpointSlices and v1 Nodes (their typed documents,
`birdgen.model.documents`, and the record made from one) against the `Fields` readers they
shortcut, and both against records written by hand (the oracle that is not birdgen).

The property: whenever the fast reader returns a record, the `Fields` reader accepts the object
without a problem and returns the very same record; otherwise the fast reader steps aside, so
every error message is the `Fields` reader's. And a document read from the object's JSON (as
list pages and watch events are) is the one converted from its mapping (as files are), and gives
back a mapping the `Fields` reader reads exactly as the object itself.
"""

from __future__ import annotations

import ipaddress
import textwrap
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from birdgen.errors import Problem
from birdgen.model import documents, kube
from birdgen.model.parse import parse_object
from birdgen.model.resources import Endpoint, EndpointSlice, Family, Service

# Values that are right for some field, wrong for others, or wrong everywhere.
ANY_VALUE = st.sampled_from(
    [
        None,
        "",
        "None",
        "10.49.0.10",
        " 10.49.0.11",
        "010.49.0.1",
        "fd00::a",
        "not-an-ip",
        "IPv4",
        "IPv6",
        "FQDN",
        "Local",
        "Cluster",
        "Global",
        "ClusterIP",
        "LoadBalancer",
        "NodePort",
        "ExternalName",
        "node-1",
        True,
        False,
        0,
        7,
        [],
        {},
    ]
)


def maybe(key: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """`{key: value}` or `{}` (the field absent)."""
    return st.one_of(st.just({}), values.map(lambda v: {key: v}))


def merged(*parts: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(*parts).map(lambda ds: {k: v for d in ds for k, v in d.items()})


ips = st.one_of(ANY_VALUE, st.ip_addresses().map(str))
ip_lists = st.one_of(ANY_VALUE, st.lists(ips, max_size=3))
ingress_item = st.one_of(ANY_VALUE, merged(maybe("ip", ips), maybe("hostname", ANY_VALUE)))
status = st.one_of(
    ANY_VALUE,
    merged(
        maybe(
            "loadBalancer",
            st.one_of(
                ANY_VALUE,
                merged(maybe("ingress", st.one_of(ANY_VALUE, st.lists(ingress_item, max_size=3)))),
            ),
        )
    ),
)
service_spec = st.one_of(
    ANY_VALUE,
    merged(
        maybe("type", st.one_of(st.sampled_from(kube._SERVICE_TYPES), ANY_VALUE)),
        maybe("clusterIP", ips),
        maybe("clusterIPs", ip_lists),
        maybe(
            "ipFamilies",
            st.one_of(
                ANY_VALUE, st.lists(st.sampled_from(["IPv4", "IPv6"]) | ANY_VALUE, max_size=2)
            ),
        ),
        maybe("externalTrafficPolicy", st.one_of(st.sampled_from(["Local", "Cluster"]), ANY_VALUE)),
        maybe("externalIPs", ip_lists),
        maybe("loadBalancerIP", ips),
    ),
)
services = merged(maybe("spec", service_spec), maybe("status", status))

labels = st.one_of(
    ANY_VALUE,
    st.dictionaries(
        st.sampled_from([kube.SERVICE_NAME_LABEL, "app", "x"]),
        st.one_of(st.sampled_from(["web", "nginx"]), ANY_VALUE),
        max_size=3,
    ),
)
endpoint = st.one_of(
    ANY_VALUE,
    merged(
        maybe("nodeName", st.one_of(st.sampled_from(["node-1", "node-2"]), ANY_VALUE)),
        maybe(
            "conditions",
            st.one_of(ANY_VALUE, merged(maybe("ready", st.one_of(st.booleans(), ANY_VALUE)))),
        ),
        maybe("addresses", st.just(["10.0.0.1"])),
    ),
)
slices = merged(
    maybe("metadata", st.one_of(ANY_VALUE, merged(maybe("labels", labels)))),
    maybe("addressType", st.one_of(st.sampled_from(["IPv4", "IPv6", "FQDN"]), ANY_VALUE)),
    maybe("endpoints", st.one_of(ANY_VALUE, st.lists(endpoint, max_size=3))),
)


def document(kind: type[documents.Document], obj: Any) -> documents.Document:
    """The object's document, the same from its mapping and from its JSON; `_Surprise` when
    its shape is not the document's."""
    doc = documents.from_mapping(kind, obj)
    assert doc == documents.decode(kind, msgspec.json.encode(obj))
    if doc is None:
        raise kube._Surprise
    return doc


def service_fast(obj: Any) -> Any:
    doc = document(documents.ServiceDocument, obj)
    assert isinstance(doc, documents.ServiceDocument)
    return kube._service_from(doc, "default", "web")


def slice_fast(obj: Any) -> Any:
    doc = document(documents.EndpointSliceDocument, obj)
    assert isinstance(doc, documents.EndpointSliceDocument)
    return kube._slice_from(doc, "default", "web-abc")


def reads_back(kind: type[documents.Document], obj: Any, read: Any) -> None:
    """What the typed path falls back on: `Fields` over the document's mapping reads it as
    it reads the object itself (same record, same problems)."""
    doc = documents.from_mapping(kind, obj)
    if doc is None:
        return
    ours: list[Problem] = []
    theirs: list[Problem] = []
    assert read(documents.as_mapping(doc), ours) == read(obj, theirs)
    assert ours == theirs


@settings(max_examples=500)
@given(services)
def test_a_service_document_reads_back_as_the_object(obj: dict[str, Any]) -> None:
    reads_back(documents.ServiceDocument, obj, lambda o, p: kube._service_fields(o, "default", "web", p, []))  # fmt: skip


@settings(max_examples=500)
@given(slices)
def test_a_slice_document_reads_back_as_the_object(obj: dict[str, Any]) -> None:
    reads_back(documents.EndpointSliceDocument, obj, lambda o, p: kube._slice_fields(o, "default", "web-abc", p))  # fmt: skip


@settings(max_examples=1000)
@given(services)
def test_service_fast_reader_agrees(obj: dict[str, Any]) -> None:
    problems: list[Problem] = []
    reference = kube._service_fields(obj, "default", "web", problems)
    try:
        fast = service_fast(obj)
    except (kube._Surprise, ValueError):
        return
    assert problems == []
    assert fast == reference


@settings(max_examples=1000)
@given(slices)
def test_slice_fast_reader_agrees(obj: dict[str, Any]) -> None:
    problems: list[Problem] = []
    reference = kube._slice_fields(obj, "default", "web-abc", problems)
    try:
        fast = slice_fast(obj)
    except kube._Surprise:
        return
    assert problems == []
    assert fast == reference


def test_the_fast_readers_take_the_usual_shapes() -> None:
    """Guards the property tests above from passing only because the fast path always steps aside."""
    service = {
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": "10.49.0.10",
            "clusterIPs": ["10.49.0.10", "fd00::a"],
            "ipFamilies": ["IPv4", "IPv6"],
            "externalTrafficPolicy": "Local",
            "externalIPs": ["192.168.3.180"],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "192.168.4.1"}, {"hostname": "x"}]}},
    }
    fast = service_fast(service)
    assert fast == kube._service_fields(service, "default", "web", [])
    assert [str(ip) for ip in fast.ingress_ips] == ["192.168.4.1"]
    endpoint_slice = {
        "metadata": {"labels": {kube.SERVICE_NAME_LABEL: "web"}},
        "addressType": "IPv4",
        "endpoints": [{"nodeName": "node-1", "conditions": {"ready": False}}, {"nodeName": "n2"}],
    }
    fast_slice = slice_fast(endpoint_slice)
    assert fast_slice is not None and [e.ready for e in fast_slice.endpoints] == [False, True]
    assert fast_slice == kube._slice_fields(endpoint_slice, "default", "web-abc", [])


def test_a_bad_field_is_still_reported_by_name() -> None:
    problems: list[Problem] = []
    kube.parse_service({"spec": {"clusterIP": "10.49.0.300"}}, "default", "web", problems)
    assert [str(p) for p in problems] == [
        'Service/default/web: spec.clusterIP: "10.49.0.300" is not an IP address'
    ]


# --- hand-written expectations: the independent side for both readers ------------------------
# The manifests are YAML read by PyYAML, the records are written out by hand from the Kubernetes
# API's documented defaults; both birdgen readers must produce exactly them.

SERVICE_CASES = [
    (
        "plain ClusterIP",
        "spec: {clusterIP: 10.49.0.10}",
        dict(type="ClusterIP", cluster_ip="10.49.0.10", cluster_ips=("10.49.0.10",),
             ip_families=(Family.V4,), external_traffic_policy=""),
    ),
    (
        "NodePort defaults to policy Cluster",
        "spec: {type: NodePort, clusterIP: 'fd00::a'}",
        dict(type="NodePort", cluster_ip="fd00::a", cluster_ips=("fd00::a",),
             ip_families=(Family.V6,), external_traffic_policy="Cluster"),
    ),
    (
        "headless keeps its families",
        "spec: {clusterIP: None, clusterIPs: [None], ipFamilies: [IPv4]}",
        dict(type="ClusterIP", cluster_ip="None", cluster_ips=(), ip_families=(Family.V4,),
             external_traffic_policy=""),
    ),
    (
        "clusterIPs alone: the first is the clusterIP, families in order",
        "spec: {clusterIPs: ['fd00::7', 10.49.0.7]}",
        dict(type="ClusterIP", cluster_ip="fd00::7", cluster_ips=("fd00::7", "10.49.0.7"),
             ip_families=(Family.V6, Family.V4), external_traffic_policy=""),
    ),
    (
        "LoadBalancer: Global is Cluster; ingress hostnames are not addresses",
        """
        spec:
          type: LoadBalancer
          clusterIP: 10.49.0.9
          externalTrafficPolicy: Global
          externalIPs: [192.168.3.180, 'fd00:3::1']
          loadBalancerIP: 192.168.4.9
        status:
          loadBalancer:
            ingress: [{ip: 192.168.4.1}, {hostname: lb.example}, {ip: ''}]
        """,
        dict(type="LoadBalancer", cluster_ip="10.49.0.9", cluster_ips=("10.49.0.9",),
             ip_families=(Family.V4,), external_ips=("192.168.3.180", "fd00:3::1"),
             load_balancer_ip="192.168.4.9", ingress_ips=("192.168.4.1",),
             external_traffic_policy="Cluster"),
    ),
    (
        "empty loadBalancerIP and Local policy",
        "spec: {type: LoadBalancer, clusterIP: 10.49.0.9, loadBalancerIP: '', externalTrafficPolicy: Local}",
        dict(type="LoadBalancer", cluster_ip="10.49.0.9", cluster_ips=("10.49.0.9",),
             ip_families=(Family.V4,), external_traffic_policy="Local"),
    ),
    (
        "no spec at all",
        "metadata: {name: web}",
        dict(type="ClusterIP", cluster_ip="", cluster_ips=(), ip_families=(),
             external_traffic_policy=""),
    ),
]  # fmt: skip


def expected_service(fields: dict[str, Any]) -> Service:
    ips = ipaddress.ip_address
    lb = fields.get("load_balancer_ip")
    return Service(
        namespace="default",
        name="web",
        type=fields["type"],
        cluster_ip=fields["cluster_ip"],
        cluster_ips=tuple(ips(a) for a in fields["cluster_ips"]),
        ip_families=fields["ip_families"],
        external_ips=tuple(ips(a) for a in fields.get("external_ips", ())),
        load_balancer_ip=ips(lb) if lb else None,
        ingress_ips=tuple(ips(a) for a in fields.get("ingress_ips", ())),
        external_traffic_policy=fields["external_traffic_policy"],
    )


@pytest.mark.parametrize(
    ("manifest", "fields"), [c[1:] for c in SERVICE_CASES], ids=[c[0] for c in SERVICE_CASES]
)
def test_service_readers_match_the_written_record(manifest: str, fields: dict[str, Any]) -> None:
    obj = yaml.safe_load(textwrap.dedent(manifest))
    expected = expected_service(fields)
    assert service_fast(obj) == expected
    problems: list[Problem] = []
    assert kube._service_fields(obj, "default", "web", problems) == expected
    assert problems == []


SLICE_CASES = [
    (
        "readiness defaults to true; a missing nodeName is empty",
        """
        metadata: {labels: {kubernetes.io/service-name: web, app: x}}
        addressType: IPv6
        endpoints:
          - {addresses: ['fd00:48::5'], nodeName: node-1}
          - {addresses: ['fd00:48::6'], nodeName: node-2, conditions: {ready: false}}
          - {addresses: ['fd00:48::7'], conditions: {ready: true}}
        """,
        EndpointSlice("default", "web-abc", "web", "IPv6",
                      (Endpoint("node-1", True), Endpoint("node-2", False), Endpoint("", True))),
    ),
    (
        "FQDN slices and no endpoints",
        "{metadata: {labels: {kubernetes.io/service-name: web}}, addressType: FQDN}",
        EndpointSlice("default", "web-abc", "web", "FQDN", ()),
    ),
    (
        "not owned by a Service",
        "{metadata: {labels: {app: web}}, addressType: IPv4, endpoints: [{nodeName: node-1}]}",
        None,
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("manifest", "expected"), [c[1:] for c in SLICE_CASES], ids=[c[0] for c in SLICE_CASES]
)
def test_slice_readers_match_the_written_record(
    manifest: str, expected: EndpointSlice | None
) -> None:
    obj = yaml.safe_load(textwrap.dedent(manifest))
    assert slice_fast(obj) == expected
    problems: list[Problem] = []
    assert kube._slice_fields(obj, "default", "web-abc", problems) == expected
    assert problems == []


# --- v1 Nodes: the document's labels and annotations against `label_map` ---------------------

node_keys = st.sampled_from(
    ["kubernetes.io/hostname", "zone", "projectcalico.org/IPv4Address",
     "projectcalico.org/ASNumber", "bad key", "-dash", "a/b/c", "x" * 64, "Upper.Case/ok"]
)  # fmt: skip
node_values = st.one_of(
    st.sampled_from(["", "node-1", "10.0.0.2/16", "64512", "has space", "y" * 64]), ANY_VALUE
)
node_maps = st.one_of(ANY_VALUE, st.dictionaries(node_keys, node_values, max_size=4))
nodes = merged(
    maybe(
        "metadata",
        st.one_of(
            ANY_VALUE,
            merged(
                maybe("labels", node_maps),
                maybe("annotations", node_maps),
                maybe("name", ANY_VALUE),
            ),
        ),
    ),
    maybe("status", st.one_of(ANY_VALUE, st.just({"addresses": [{"type": "InternalIP"}]}))),
)


def node_fields(obj: dict[str, Any], problems: list[Problem]) -> Any:
    """The `Fields` reading of a Node's maps, as `parse_kube_node` falls back on it."""
    meta = kube.Fields("Node", "node-1", obj.get("metadata"), "metadata", problems)
    return kube.label_map(meta, "labels"), kube.label_map(meta, "annotations")


@settings(max_examples=500)
@given(nodes)
def test_a_node_document_reads_back_as_the_object(obj: dict[str, Any]) -> None:
    reads_back(documents.NodeDocument, obj, node_fields)


@settings(max_examples=1000)
@given(nodes)
def test_node_fast_reader_agrees(obj: dict[str, Any]) -> None:
    problems: list[Problem] = []
    reference = node_fields(obj, problems)
    try:
        doc = document(documents.NodeDocument, obj)
    except kube._Surprise:
        return
    assert isinstance(doc, documents.NodeDocument)
    fast = kube._node_maps(doc)
    if fast is not None:
        assert problems == []
        assert fast == reference


def test_the_node_fast_reader_takes_the_usual_shape_and_skips_the_status() -> None:
    node = {
        "metadata": {
            "name": "node-1",
            "labels": {"kubernetes.io/hostname": "node-1", "topology.kubernetes.io/zone": "b"},
            "annotations": {"projectcalico.org/IPv4Address": "10.0.0.2/16", "note": "any text"},
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    doc = documents.decode(documents.NodeDocument, msgspec.json.encode(node))
    assert isinstance(doc, documents.NodeDocument)
    assert "status" not in documents.as_mapping(doc)
    assert kube._node_maps(doc) == node_fields(node, [])
    record = kube.parse_kube_node(doc, "node-1", [], [])
    assert record == kube.parse_kube_node(node, "node-1", [], [])
    assert str(record.ipv4) == "10.0.0.2/16" and record.labels["topology.kubernetes.io/zone"] == "b"
    # Keyed as the mapping is: a v1 Node, not Calico's Node of the same name.
    assert parse_object(doc) == parse_object({"apiVersion": "v1", "kind": "Node", **node})
    assert parse_object(doc).key == ("KubeNode", "", "node-1")


def test_a_bad_node_label_in_a_document_is_still_reported_by_name() -> None:
    node = {"metadata": {"name": "node-1", "labels": {"zone": "has space"}}}
    doc = documents.decode(documents.NodeDocument, msgspec.json.encode(node))
    assert isinstance(doc, documents.NodeDocument) and kube._node_maps(doc) is None
    problems: list[Problem] = []
    kube.parse_kube_node(doc, "node-1", problems, [])
    assert [p.field for p in problems] == ["metadata.labels.zone"]
    from_mapping: list[Problem] = []
    node_fields(node, from_mapping)
    assert problems == from_mapping
