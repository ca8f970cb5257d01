"""model: turn the raw objects a source yielded into one validated `Cluster`.

Recognises each object's kind by apiVersion and kind, lets a later object with the same kind,
namespace and name replace an earlier one, parses each into its record, and raises
`InvalidInput` listing every problem in every object at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from birdgen.errors import InvalidInput, Problem
from birdgen.model.bgpfilter import BGPFilter, parse_bgp_filter
from birdgen.model.calico import (
    parse_bgp_configuration,
    parse_bgp_peer,
    parse_calico_node,
    parse_ip_pool,
)
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


def _shown_name(value: Any) -> str:
    """An invalid name as the `Kind/<name>` of a problem: itself when it is short text."""
    plain = isinstance(value, str) and 0 < len(value) <= SHOW_MAX and value.isprintable()
    return value if plain and not any(c in value for c in " :/") else "?"


def index(
    objects: Iterable[dict[str, Any]], problems: list[Problem], notices: list[str]
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The objects we understand keyed by (kind, namespace, name); later ones replace earlier."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for obj in objects:
        kind = kind_of(obj) if isinstance(obj, dict) else None
        if kind is None:
            fields = obj if isinstance(obj, dict) else {}
            meta = fields.get("metadata")
            name = meta.get("name", "?") if isinstance(meta, dict) else "?"
            notices.append(
                f"skipping {_shown_name(fields.get('kind'))}/{_shown_name(name)} "
                f"({_shown_name(fields.get('apiVersion'))}): not a kind birdgen reads"
            )
            continue
        display = "Node" if kind == "KubeNode" else kind
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            problems.append(Problem(display, "?", "metadata", "is required"))
            continue
        try:
            name = parse_object_name(meta.get("name"))
        except ValueError as exc:
            problems.append(
                Problem(display, _shown_name(meta.get("name")), "metadata.name", str(exc))
            )
            continue
        namespace = ""
        if kind not in CLUSTER_SCOPED:
            try:
                namespace = parse_object_name(meta.get("namespace") or "default")
            except ValueError as exc:
                problems.append(Problem(display, name, "metadata.namespace", str(exc)))
                continue
        out[(kind, namespace, name)] = obj
    return out


def parse_cluster(objects: Iterable[dict[str, Any]], notices: list[str] | None = None) -> Cluster:
    """Every object parsed and validated; raises `InvalidInput` naming every problem found."""
    problems: list[Problem] = []
    warnings: list[str] = [] if notices is None else notices
    by_key = index(objects, problems, warnings)

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
    for (kind, ns, name), obj in sorted(by_key.items()):
        if kind == "BGPConfiguration":
            if name != "default" and not name.startswith("node."):
                warnings.append(
                    f'BGPConfiguration/{name}: ignored: only "default" and "node.<node name>" are used'
                )
                continue
            configs[name] = parse_bgp_configuration(obj, name, problems)
        elif kind == "BGPPeer":
            peers.append(parse_bgp_peer(obj, name, problems, warnings))
        elif kind == "BGPFilter":
            filters[name] = parse_bgp_filter(obj, name, problems)
        elif kind == "Node":
            calico_nodes[name] = parse_calico_node(obj, name, problems)
        elif kind == "KubeNode":
            kube_nodes[name] = parse_kube_node(obj, name, problems, warnings)
        elif kind == "IPPool":
            pool = parse_ip_pool(obj, name, problems)
            if pool is not None:
                pools.append(pool)
        elif kind == "Service":
            services.append(parse_service(obj, ns, name, problems, warnings))
        elif kind == "EndpointSlice":
            eps = parse_endpoint_slice(obj, ns, name, problems)
            if eps is not None:
                slices.setdefault((ns, eps.service_name), []).append(eps)
        elif kind == "Endpoints":
            legacy[(ns, name)] = parse_endpoints(obj, ns, name, problems)
        elif kind == "Secret":
            secrets[(ns, name)] = parse_secret(obj, ns, name, problems)
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


__all__ = ["kind_of", "parse_cluster", "show"]
