"""model: parse Kubernetes objects (Service, EndpointSlice, Endpoints, Node, Secret) into records.

Manifests that never went through an API server lack its defaults; `parse_service` applies them
as the spec's section 6.6 says, so a file and a live cluster give the same records.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from msgspec import UNSET

from birdgen.errors import Problem
from birdgen.model.documents import (
    EndpointConditions,
    EndpointSliceDocument,
    LabelledMeta,
    LoadBalancerStatus,
    NodeDocument,
    NodeMeta,
    ServiceDocument,
    ServiceSpec,
    ServiceStatus,
    as_mapping,
    from_mapping,
    given,
)
from birdgen.model.fields import Fields, label_map
from birdgen.model.resources import Endpoint, EndpointSlice, Node, Secret, Service
from birdgen.model.values import (
    Family,
    is_label_value,
    parse_ip,
    parse_ip_or_cidr,
    parse_label_key,
    parse_local_asn,
    parse_str,
    show,
    unusable_bgp_address,
)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
ANNOTATION_PREFIX = "projectcalico.org/"
_SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
# The few values nearly every record repeats, as one object each: a decoded string is a new
# one per object, 40,000 of them kept at 1,000 nodes.
_SHARED: dict[Any, Any] = {
    v: v
    for v in (*_SERVICE_TYPES, "Cluster", "Local", "IPv4", "IPv6", "FQDN",
              (Family.V4,), (Family.V6,), (Family.V4, Family.V6), (Family.V6, Family.V4), ())
}  # fmt: skip


def _family(value: Any) -> Family:
    if value == "IPv4":
        return Family.V4
    if value == "IPv6":
        return Family.V6
    raise ValueError(f"{show(value)} is not IPv4 or IPv6")


# Services and EndpointSlices are nearly all of a cluster's objects. Each is read from its typed
# document (`birdgen.model.documents`: from JSON by msgspec at the cluster edge, or converted
# from a file's mapping) for the well-formed case: attribute access, no field paths, raising
# `_Surprise` (or the value parsers' ValueError) at the first surprise; the `Fields` reader then
# reads the object again and reports exactly what is wrong.
# tests/model/test_kube_fast.py checks that both readers give the same record.


class _Surprise(Exception):
    """The object is not in the shape the document reader takes; read it with `Fields`."""


_NO_SPEC = ServiceSpec()
_NO_STATUS = ServiceStatus()
_NO_LB = LoadBalancerStatus()
_NO_META = LabelledMeta()
_NO_CONDITIONS = EndpointConditions()


def parse_service(
    obj: dict[str, Any] | ServiceDocument,
    namespace: str,
    name: str,
    problems: list[Problem],
    warnings: list[str] | None = None,
) -> Service:
    doc = obj if isinstance(obj, ServiceDocument) else from_mapping(ServiceDocument, obj)
    if isinstance(doc, ServiceDocument):
        try:
            return _service_from(doc, namespace, name)
        except (_Surprise, ValueError):
            pass
    raw = as_mapping(obj) if isinstance(obj, ServiceDocument) else obj
    return _service_fields(raw, namespace, name, problems, warnings)


def _service_from(doc: ServiceDocument, namespace: str, name: str) -> Service:
    spec = doc.spec or _NO_SPEC
    svc_type = given(spec.type)
    if svc_type is None:
        svc_type = "ClusterIP"
    elif svc_type not in _SERVICE_TYPES:
        raise _Surprise
    cluster_ip = given(spec.clusterIP)
    if cluster_ip is None:
        cluster_ip = ""
    elif cluster_ip.__class__ is not str:
        raise _Surprise
    if cluster_ip == "None":
        cluster_ips: tuple[Any, ...] = ()
    elif given(spec.clusterIPs) is not None:
        cluster_ips = tuple(map(parse_ip, spec.clusterIPs or ()))
    elif cluster_ip:
        cluster_ips = (parse_ip(cluster_ip),)
    else:
        cluster_ips = ()
    if not cluster_ip and cluster_ips:
        cluster_ip = str(cluster_ips[0])
    if given(spec.ipFamilies) is not None:
        families = tuple(map(_family, spec.ipFamilies or ()))
    else:
        families = tuple(dict.fromkeys(Family(ip.version) for ip in cluster_ips))
    policy = given(spec.externalTrafficPolicy)
    if policy is None:
        policy = "Cluster" if svc_type in ("NodePort", "LoadBalancer") else ""
    else:
        policy = _traffic_policy(policy)
    svc_type, policy = _SHARED[svc_type], _SHARED.get(policy, policy)
    families = _SHARED.get(families, families)
    lb_ip = given(spec.loadBalancerIP)
    ingress = []
    for item in ((doc.status or _NO_STATUS).loadBalancer or _NO_LB).ingress or ():
        ip = given(item.ip) if item is not None else None
        if ip:
            ingress.append(parse_ip(ip))
    return Service(
        namespace=namespace,
        name=name,
        type=svc_type,
        cluster_ip=cluster_ip,
        cluster_ips=cluster_ips,
        ip_families=families,
        external_ips=tuple(map(parse_ip, spec.externalIPs or ())),
        load_balancer_ip=parse_ip(lb_ip) if lb_ip else None,
        ingress_ips=tuple(ingress),
        external_traffic_policy=policy,
    )


def _service_fields(
    obj: dict[str, Any],
    namespace: str,
    name: str,
    problems: list[Problem],
    warnings: list[str] | None = None,
) -> Service:
    top = Fields("Service", f"{namespace}/{name}", obj, "", problems)
    spec = top.sub("spec")
    svc_type = spec.one_of("type", _SERVICE_TYPES, "ClusterIP")
    cluster_ip = spec.get("clusterIP", parse_str, "")
    if cluster_ip == "None":
        cluster_ips = []  # headless; the API server stores clusterIPs: [None] for it as well
    elif spec.has("clusterIPs"):
        cluster_ips = spec.values("clusterIPs", _service_ip)
    elif cluster_ip:
        cluster_ips = [ip for ip in [spec.get("clusterIP", _service_ip, None)] if ip is not None]
    else:
        cluster_ips = []
    if not cluster_ip and cluster_ips:
        cluster_ip = str(cluster_ips[0])  # clusterIPs alone, as some generators write it
    if spec.has("ipFamilies"):
        families = tuple(spec.values("ipFamilies", _family))
    else:
        families = tuple(dict.fromkeys(Family(ip.version) for ip in cluster_ips))
    default_policy = "Cluster" if svc_type in ("NodePort", "LoadBalancer") else ""
    policy = spec.get("externalTrafficPolicy", _traffic_policy, default_policy)
    ingress = []
    for i, item in enumerate(top.sub("status").sub("loadBalancer").items("ingress")):
        raw = item.raw("ip")
        if isinstance(raw, str) and raw and not _is_ip(raw):
            # confd skips an ingress IP it cannot parse (net.ParseIP) and logs it.
            if warnings is not None:
                warnings.append(
                    f"Service/{namespace}/{name}: status.loadBalancer.ingress[{i}].ip: "
                    f"{show(raw)} is not an IP address; skipped, as Calico skips it"
                )
        elif raw and (ip := item.get("ip", _service_ip, None)) is not None:
            ingress.append(ip)
    return Service(
        namespace=namespace,
        name=name,
        type=svc_type,
        cluster_ip=cluster_ip,
        cluster_ips=tuple(cluster_ips),
        ip_families=families,
        external_ips=tuple(spec.values("externalIPs", _service_ip)),
        load_balancer_ip=spec.get("loadBalancerIP", _service_ip, None)
        if spec.raw("loadBalancerIP")
        else None,
        ingress_ips=tuple(ingress),
        external_traffic_policy=policy,
    )


def _is_ip(text: str) -> bool:
    try:
        parse_ip(text)
    except ValueError:
        return False
    return True


def _service_ip(value: Any) -> Any:
    return parse_ip(value)


def _traffic_policy(value: Any) -> str:
    # "Global" is the pre-1.20 spelling of "Cluster".
    if value in ("Local", "Cluster", "Global", ""):
        return "Cluster" if value == "Global" else str(value)
    raise ValueError(f"{show(value)} is not Local or Cluster")


def parse_endpoint_slice(
    obj: dict[str, Any] | EndpointSliceDocument,
    namespace: str,
    name: str,
    problems: list[Problem],
) -> EndpointSlice | None:
    doc = obj if isinstance(obj, EndpointSliceDocument) else from_mapping(EndpointSliceDocument, obj)  # fmt: skip
    if isinstance(doc, EndpointSliceDocument):
        try:
            return _slice_from(doc, namespace, name)
        except _Surprise:
            pass
    raw = as_mapping(obj) if isinstance(obj, EndpointSliceDocument) else obj
    return _slice_fields(raw, namespace, name, problems)


def _slice_from(doc: EndpointSliceDocument, namespace: str, name: str) -> EndpointSlice | None:
    labels = (doc.metadata or _NO_META).labels or {}
    service = labels.get(SERVICE_NAME_LABEL)
    if service is None:
        service = ""
    elif service.__class__ is not str or (service and not is_label_value(service)):
        raise _Surprise  # label_map turns YAML booleans and numbers into strings
    address_type = given(doc.addressType)
    if address_type not in ("IPv4", "IPv6", "FQDN"):
        raise _Surprise
    address_type = _SHARED[address_type]
    endpoints = []
    for ep in doc.endpoints or ():  # 100,000 at 1,000 nodes: no calls but the record's
        node = ep.nodeName
        if node.__class__ is not str:
            if node is not UNSET and node is not None:
                raise _Surprise
            node = ""
        ready = (ep.conditions or _NO_CONDITIONS).ready
        if ready.__class__ is not bool:
            if ready is not UNSET and ready is not None:
                raise _Surprise
            ready = True
        endpoints.append(Endpoint(node, ready))
    if not service:
        return None
    return EndpointSlice(namespace, name, service, address_type, tuple(endpoints))


def _slice_fields(
    obj: dict[str, Any], namespace: str, name: str, problems: list[Problem]
) -> EndpointSlice | None:
    top = Fields("EndpointSlice", f"{namespace}/{name}", obj, "", problems)
    # The one label birdgen reads here; the others are the API server's business.
    labels = label_map(top.sub("metadata"), "labels", read=SERVICE_NAME_LABEL)
    service = labels.get(SERVICE_NAME_LABEL, "")
    address_type = top.get("addressType", _address_type, "")
    if not top.has("addressType"):
        top.fail("addressType", "is required (IPv4, IPv6 or FQDN)")
    endpoints = []
    for ep in top.items("endpoints"):
        ready = ep.sub("conditions").get("ready", _ready, True)
        endpoints.append(Endpoint(node_name=ep.get("nodeName", parse_str, ""), ready=ready))
    if not service:
        return None  # not owned by a Service: nothing to advertise for it
    return EndpointSlice(namespace, name, service, address_type, tuple(endpoints))


def _address_type(value: Any) -> str:
    if value not in ("IPv4", "IPv6", "FQDN"):
        raise ValueError(f"{show(value)} is not IPv4, IPv6 or FQDN")
    return str(value)


def _ready(value: Any) -> bool:
    if not isinstance(value, bool):  # (null never gets here: `Fields.get` gives the default)
        raise ValueError(f"{show(value)} is not a boolean")
    return value


def parse_endpoints(
    obj: dict[str, Any], namespace: str, name: str, problems: list[Problem]
) -> list[EndpointSlice]:
    """A legacy v1 Endpoints object, as one pseudo-slice per address family."""
    top = Fields("Endpoints", f"{namespace}/{name}", obj, "", problems)
    by_family: dict[Family, list[Endpoint]] = {}
    for subset in top.items("subsets"):
        for key, ready in (("addresses", True), ("notReadyAddresses", False)):
            for addr in subset.items(key):
                ip = addr.get("ip", parse_ip, None)
                if ip is None:
                    continue
                node = addr.get("nodeName", parse_str, "")
                by_family.setdefault(Family(ip.version), []).append(Endpoint(node, ready))
    return [
        EndpointSlice(namespace, name, name, family.k8s_name, tuple(eps))
        for family, eps in sorted(by_family.items())
    ]


def parse_kube_node(
    obj: dict[str, Any] | NodeDocument, name: str, problems: list[Problem], warnings: list[str]
) -> Node:
    """A Kubernetes Node, as Calico's KDD mode sees it: BGP data from `projectcalico.org/` annotations.

    Calico ignores invalid annotations (the node then simply lacks that value); birdgen does the
    same and says so on stderr.
    """
    doc = obj if isinstance(obj, NodeDocument) else from_mapping(NodeDocument, obj)
    maps = _node_maps(doc) if isinstance(doc, NodeDocument) else None
    if maps is None:
        raw = as_mapping(obj) if isinstance(obj, NodeDocument) else obj
        meta = Fields("Node", name, raw.get("metadata"), "metadata", problems)
        maps = label_map(meta, "labels"), label_map(meta, "annotations")
    labels, annotations = maps

    def annotation(key: str, parse: Any) -> Any:
        raw = annotations.get(ANNOTATION_PREFIX + key)
        if not raw:
            return None
        try:
            return parse(raw)
        except ValueError as exc:
            warnings.append(
                f"Node/{name}: metadata.annotations.{ANNOTATION_PREFIX}{key}: {exc}; ignored"
            )
            return None

    ipv4 = annotation("IPv4Address", _node_address)
    ipv6 = annotation("IPv6Address", _node_address)
    if ipv4 is not None and ipv4.version != 4:
        warnings.append(
            f"Node/{name}: metadata.annotations.{ANNOTATION_PREFIX}IPv4Address: not IPv4; ignored"
        )
        ipv4 = None
    if ipv6 is not None and ipv6.version != 6:
        warnings.append(
            f"Node/{name}: metadata.annotations.{ANNOTATION_PREFIX}IPv6Address: not IPv6; ignored"
        )
        ipv6 = None
    cluster_id = annotation("RouteReflectorClusterID", parse_ip)
    if cluster_id is not None and cluster_id.version != 4:
        warnings.append(
            f"Node/{name}: metadata.annotations.{ANNOTATION_PREFIX}RouteReflectorClusterID: not IPv4; ignored"
        )
        cluster_id = None
    return Node(
        name=name,
        source="Node (v1)",
        ipv4=ipv4,
        ipv6=ipv6,
        as_number=annotation("ASNumber", parse_local_asn),
        rr_cluster_id=str(cluster_id) if cluster_id else "",
        labels=labels,
    )


def _node_maps(doc: NodeDocument) -> tuple[dict[str, str], dict[str, str]] | None:
    """A Node document's labels and annotations when every key and value is a valid string
    (what `label_map` then gives as they are); None at the first surprise, for `Fields`."""
    meta = doc.metadata or _NO_NODE_META
    labels, annotations = meta.labels or {}, meta.annotations or {}
    try:
        for key, value in labels.items():
            if value.__class__ is not str or not is_label_value(value):
                return None
            parse_label_key(key)
        for key, value in annotations.items():
            if value.__class__ is not str:
                return None
            parse_label_key(key)
    except ValueError:
        return None
    return dict(labels), dict(annotations)


_NO_NODE_META = NodeMeta()


def _node_address(value: Any) -> Any:
    iface = parse_ip_or_cidr(value)
    if why := unusable_bgp_address(iface.ip):
        raise ValueError(f"{why}, not a node's BGP address")
    return iface


_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}")


def parse_secret(obj: dict[str, Any], namespace: str, name: str, problems: list[Problem]) -> Secret:
    """A Secret as the API server stores it: `data` values base64, `stringData` values plain
    text merged over them. Never echoes a value: it is secret material."""
    top = Fields("Secret", f"{namespace}/{name}", obj, "", problems)
    data: dict[str, str] = {}
    plain: set[str] = set()
    for field, decode in (("data", _base64_text), ("stringData", _plain_text)):
        raw = top.raw(field)
        if raw is None:
            continue
        if not isinstance(raw, dict):
            top.fail(field, f"expected a map, got {_type_name(raw)}")
            continue
        values = top.sub(field)
        for key, value in values.data.items():
            if not _SECRET_KEY.fullmatch(key):
                values.fail(key, "is not a valid Secret key (1-253 of [-._a-zA-Z0-9])")
                continue
            try:
                data[key] = decode(value)
            except ValueError as exc:
                values.fail(key, str(exc))
                continue
            if field == "stringData":  # read after `data`: its values win
                plain.add(key)
    return Secret(namespace, name, data, frozenset(plain))


def _base64_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a base64 string, got {_type_name(value)}")
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("is not base64-encoded UTF-8 text") from None


def _plain_text(value: Any) -> str:
    # The API server takes only strings here; `str()` would make `[a, b]` the password "['a', 'b']".
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_type_name(value)}")
    return value


# bool before int: a YAML `true` is a bool and an int to Python.
_TYPE_NAMES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (type(None), "null"), (bool, "a boolean"), ((int, float), "a number"), (list, "a list"),
    (dict, "a map"), (str, "a string"),
)  # fmt: skip


def _type_name(value: Any) -> str:
    """What a secret value is, without showing it."""
    return next((name for t, name in _TYPE_NAMES if isinstance(value, t)), type(value).__name__)
