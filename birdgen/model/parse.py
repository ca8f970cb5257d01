"""model: turn the raw objects a source yielded into one validated `Cluster`.

Recognises each object's kind by apiVersion and kind and parses it into its record, once
(`parse_object`); `assemble` joins the records into a `Cluster` and raises `InvalidInput`
listing every problem in every object at once. `parse_cluster` is both, for a list of objects
in which a later object with the same kind, namespace and name replaces an earlier one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from msgspec import UNSET

from birdgen.errors import InvalidInput, Problem
from birdgen.model.bgpfilter import BGPFilter, parse_bgp_filter
from birdgen.model.calico import (
    parse_bgp_configuration,
    parse_bgp_peer,
    parse_calico_node,
    parse_ip_pool,
)
from birdgen.model.documents import Document, NodeDocument, given
from birdgen.model.kube import (
    parse_endpoint_slice,
    parse_endpoints,
    parse_kube_node,
    parse_secret,
    parse_service,
)
from birdgen.model.resources import (
    BGPConfiguration,
    BGPPeer,
    Cluster,
    EndpointSlice,
    IPPool,
    Node,
    Secret,
    Service,
)
from birdgen.model.values import SHOW_MAX, parse_object_name, show

CALICO_API_VERSIONS = ("projectcalico.org/v3", "crd.projectcalico.org/v1")
CALICO_KINDS = ("BGPConfiguration", "BGPPeer", "BGPFilter", "Node", "IPPool")
KUBE_KINDS = {("v1", "Service"), ("v1", "Endpoints"), ("v1", "Node"), ("v1", "Secret"),
              ("discovery.k8s.io/v1", "EndpointSlice")}  # fmt: skip
CLUSTER_SCOPED = ("BGPConfiguration", "BGPPeer", "BGPFilter", "Node", "IPPool", "KubeNode")


def kind_of(obj: dict[str, Any]) -> str | None:
    """birdgen's name for the object's kind ("KubeNode" for a v1 Node), or None if not ours."""
    api, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api, str) or not isinstance(kind, str):
        return None  # also keeps lists and mappings out of the lookups below
    if api in CALICO_API_VERSIONS and kind in CALICO_KINDS:
        return kind
    if (api, kind) in KUBE_KINDS:
        return "KubeNode" if kind == "Node" else kind
    return None


def _shown_name(value: Any, unsafe: str = " :/") -> str:
    """An invalid name as the `Kind/<name>` of a problem: itself when it is short text without
    `unsafe` characters (a `/` would read as a separator there; an apiVersion has one)."""
    plain = isinstance(value, str) and 0 < len(value) <= SHOW_MAX and value.isprintable()
    return value if plain and not any(c in value for c in unsafe) else "?"


Key = tuple[str, str, str]  # (kind, namespace, name); kind is "KubeNode" for a v1 Node


@dataclass(frozen=True, slots=True)
class Parsed:
    """One raw object, read once: its key, its record, and what was wrong with it.

    `record` is the kind's record (a list of pseudo-slices for a legacy Endpoints), or None when
    the object is invalid or not used (an EndpointSlice no Service owns, a BGPConfiguration
    with another name). `key` is None when not even kind and name could be read. The sidecar
    keeps one per object in its store, so a watch event costs one parse, not a cluster's.
    """

    key: Key | None
    record: Any
    problems: tuple[Problem, ...] = ()
    notices: tuple[str, ...] = ()


def parse_object(obj: Any) -> Parsed:
    """Recognise, name and parse one raw object (a mapping, or a Service's, EndpointSlice's or
    v1 Node's typed document as the edges decode them from JSON)."""
    problems: list[Problem] = []
    notices: list[str] = []
    key = _key(obj, problems, notices)
    if key is None:
        return Parsed(None, None, tuple(problems), tuple(notices))
    return _parse_keyed(key, obj, problems, notices)


def _parse_keyed(key: Key, obj: Any, problems: list[Problem], notices: list[str]) -> Parsed:
    record = _record(key, obj, problems, notices)
    return Parsed(key, None if problems else record, tuple(problems), tuple(notices))


def index(objects: Iterable[Any], problems: list[Problem], notices: list[str]) -> dict[Key, Any]:
    """The objects we understand keyed by (kind, namespace, name); later ones replace earlier.
    Raw objects and `Parsed` records alike (a record's key was read when it was parsed)."""
    out: dict[Key, Any] = {}
    for obj in objects:
        if isinstance(obj, Parsed):
            key = obj.key
            if key is None:
                problems.extend(obj.problems)
                notices.extend(obj.notices)
        else:
            key = _key(obj, problems, notices)
        if key is not None:
            out[key] = obj
    return out


def _key(obj: Any, problems: list[Problem], notices: list[str]) -> Key | None:
    if isinstance(obj, Document):
        meta = obj.metadata
        if meta is None or meta is UNSET:
            problems.append(Problem(obj.KIND, "?", "metadata", "is required"))
            return None
        typed = "KubeNode" if isinstance(obj, NodeDocument) else obj.KIND
        return _named(typed, given(meta.name), given(meta.namespace), problems)
    kind = kind_of(obj) if isinstance(obj, dict) else None
    if kind is None:
        fields = obj if isinstance(obj, dict) else {}
        meta = fields.get("metadata")
        name = meta.get("name", "?") if isinstance(meta, dict) else "?"
        notices.append(
            f"skipping {_shown_name(fields.get('kind'))}/{_shown_name(name)} "
            f"({_shown_name(fields.get('apiVersion'), unsafe=' ()')}): not a kind birdgen reads"
        )
        return None
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        problems.append(Problem("Node" if kind == "KubeNode" else kind, "?", "metadata", "is required"))  # fmt: skip
        return None
    namespace = meta.get("namespace") if kind not in CLUSTER_SCOPED else None
    return _named(kind, meta.get("name"), namespace, problems)


def _named(kind: str, name_value: Any, namespace_value: Any, problems: list[Problem]) -> Key | None:
    display = "Node" if kind == "KubeNode" else kind
    try:
        name = parse_object_name(name_value)
    except ValueError as exc:
        problems.append(Problem(display, _shown_name(name_value), "metadata.name", str(exc)))
        return None
    namespace = ""
    if kind not in CLUSTER_SCOPED:
        namespace_value = namespace_value or "default"
        # A cluster has few namespaces and thousands of objects in each: each is checked
        # once, and all the objects of one share its string.
        known = _NAMESPACES.get(namespace_value) if namespace_value.__class__ is str else None
        if known is None:
            try:
                known = sys.intern(parse_object_name(namespace_value))
            except ValueError as exc:
                problems.append(Problem(display, name, "metadata.namespace", str(exc)))
                return None
            if len(_NAMESPACES) < 10_000:
                _NAMESPACES[known] = known
        namespace = known
    return (kind, namespace, name)


_NAMESPACES: dict[str, str] = {}  # valid namespaces seen, to their interned string


def _record(key: Key, obj: Any, problems: list[Problem], warnings: list[str]) -> Any:
    kind, ns, name = key
    if kind == "BGPConfiguration":
        if name != "default" and not name.startswith("node."):
            warnings.append(
                f'BGPConfiguration/{name}: ignored: only "default" and "node.<node name>" are used'
            )
            return None
        return parse_bgp_configuration(obj, name, problems)
    if kind == "BGPPeer":
        return parse_bgp_peer(obj, name, problems, warnings)
    if kind == "BGPFilter":
        return parse_bgp_filter(obj, name, problems)
    if kind == "Node":
        return parse_calico_node(obj, name, problems)
    if kind == "KubeNode":
        return parse_kube_node(obj, name, problems, warnings)
    if kind == "IPPool":
        return parse_ip_pool(obj, name, problems)
    if kind == "Service":
        return parse_service(obj, ns, name, problems, warnings)
    if kind == "EndpointSlice":
        return parse_endpoint_slice(obj, ns, name, problems)
    if kind == "Endpoints":
        return parse_endpoints(obj, ns, name, problems)
    if kind == "Secret":
        return parse_secret(obj, ns, name, problems)
    raise AssertionError(kind)  # kind_of only returns the kinds above


def parse_cluster(
    objects: Iterable[dict[str, Any] | Document | Parsed], notices: list[str] | None = None
) -> Cluster:
    """Every object parsed and validated; raises `InvalidInput` naming every problem found.

    A later object with the same kind, namespace and name replaces an earlier one. Objects
    already parsed (the sidecar's store keeps them so) are taken as they are."""
    unnamed: list[Parsed] = []
    by_key: dict[Key, Parsed] = {}
    for obj in objects:
        parsed = obj if isinstance(obj, Parsed) else parse_object(obj)
        if parsed.key is None:
            unnamed.append(parsed)
        else:
            by_key[parsed.key] = parsed
    return assemble([*unnamed, *(by_key[k] for k in sorted(by_key))], notices)


def assemble(parsed: Iterable[Parsed], notices: list[str] | None = None) -> Cluster:
    """The `Cluster` of objects parsed one by one, in the order given (keys unique, sorted);
    raises `InvalidInput` naming every problem of every object."""
    problems: list[Problem] = []
    warnings: list[str] = [] if notices is None else notices
    configs: dict[str, BGPConfiguration] = {}
    peers: list[BGPPeer] = []
    calico_nodes: dict[str, Node] = {}
    kube_nodes: dict[str, Node] = {}
    services: list[Service] = []
    slices: dict[tuple[str, str], list[EndpointSlice]] = {}
    legacy: dict[tuple[str, str], list[EndpointSlice]] = {}
    secrets: dict[tuple[str, str], Secret] = {}
    pools: list[IPPool] = []
    filters: dict[str, BGPFilter] = {}
    for item in parsed:
        problems.extend(item.problems)
        warnings.extend(item.notices)
        record = item.record
        if item.key is None or record is None:
            continue
        kind, ns, name = item.key
        if kind == "BGPConfiguration":
            configs[name] = record
        elif kind == "BGPPeer":
            peers.append(record)
        elif kind == "BGPFilter":
            filters[name] = record
        elif kind == "Node":
            calico_nodes[name] = record
        elif kind == "KubeNode":
            kube_nodes[name] = record
        elif kind == "IPPool":
            pools.append(record)
        elif kind == "Service":
            services.append(record)
        elif kind == "EndpointSlice":
            slices.setdefault((ns, record.service_name), []).append(record)
        elif kind == "Endpoints":
            legacy[(ns, name)] = record
        elif kind == "Secret":
            secrets[(ns, name)] = record
    if problems:
        raise InvalidInput(problems)
    # Legacy Endpoints count only for Services that have no EndpointSlice at all.
    for key, pseudo in legacy.items():
        if key not in slices and pseudo:
            slices[key] = pseudo
    return Cluster(
        configs=configs,
        peers=tuple(peers),
        nodes=_merge_nodes(calico_nodes, kube_nodes),
        services=tuple(services),
        slices={key: tuple(value) for key, value in slices.items()},
        secrets=secrets,
        ip_pools=tuple(pools),
        filters=filters,
        warnings=tuple(warnings),
    )


def _merge_nodes(calico: dict[str, Node], kube: dict[str, Node]) -> dict[str, Node]:
    """One Node per name. A Calico Node's BGP data wins (etcd mode); labels are merged, the
    Kubernetes ones winning on the same key, as Calico's KDD conversion does."""
    out = dict(kube)
    for name, node in calico.items():
        k8s = kube.get(name)
        if k8s is None:
            out[name] = node
            continue
        labels = {**node.labels, **k8s.labels}
        if node.ipv4 or node.ipv6 or node.as_number is not None or node.rr_cluster_id:
            out[name] = Node(
                node.name,
                node.source,
                node.ipv4,
                node.ipv6,
                node.as_number,
                node.rr_cluster_id,
                labels,
            )
        else:
            out[name] = Node(
                k8s.name, k8s.source, k8s.ipv4, k8s.ipv6, k8s.as_number, k8s.rr_cluster_id, labels
            )
    return dict(sorted(out.items()))


__all__ = ["Parsed", "assemble", "index", "kind_of", "parse_cluster", "parse_object", "show"]


def referenced_secrets(parsed: Iterable[Parsed]) -> set[str]:
    """The names of the Secrets that BGPPeers and BGPConfiguration `default` take passwords
    from: all birdgen reads of Secrets, so all it needs to be granted."""
    names: set[str] = set()
    for item in parsed:
        if item.key is None or item.record is None:
            continue
        kind, _, name = item.key
        if kind == "BGPPeer" and item.record.password is not None:
            names.add(item.record.password.name)
        elif (
            kind == "BGPConfiguration"
            and name == "default"
            and item.record.node_mesh_password is not None
        ):
            names.add(item.record.node_mesh_password.name)
    return names
