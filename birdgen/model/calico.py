"""model: parse Calico resources (BGPConfiguration, BGPPeer, Node, IPPool) into records.

Validation follows Calico's API (spec section 13): what the API server would refuse is an error
here too, because manifests read from files were never checked by one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from birdgen.errors import Problem
from birdgen.model.fields import Fields, label_map
from birdgen.model.resources import (
    BGPConfiguration,
    BGPPeer,
    Community,
    IPPool,
    NextHopMode,
    Node,
    PrefixAdvertisement,
    SecretKeyRef,
)
from birdgen.model.selector import Selector, SelectorError, parse_selector
from birdgen.model.values import (
    IPAddress,
    IPNetwork,
    parse_asn,
    parse_bool,
    parse_cidr,
    parse_duration,
    parse_int,
    parse_ip,
    parse_ip_or_cidr,
    parse_local_asn,
    parse_object_name,
    parse_peer_ip,
    parse_str,
    round_seconds,
    show,
    unusable_bgp_address,
)

_CONFIG_FIELDS = frozenset(
    {
        "logSeverityScreen", "nodeToNodeMeshEnabled", "asNumber", "serviceClusterIPs",
        "serviceExternalIPs", "serviceLoadBalancerIPs", "serviceLoadBalancerAggregation",
        "communities", "prefixAdvertisements", "listenPort", "nodeMeshPassword",
        "nodeMeshMaxRestartTime", "bindMode", "ignoredInterfaces", "localWorkloadPeeringIPV4",
        "localWorkloadPeeringIPV6", "programClusterRoutes", "ipv4NormalRoutePriority",
        "ipv6NormalRoutePriority",
    }
)  # fmt: skip
# Calico's API refuses to store these on a `node.<name>` resource.
_DEFAULT_ONLY = (
    "nodeToNodeMeshEnabled", "asNumber", "serviceClusterIPs", "serviceExternalIPs",
    "serviceLoadBalancerIPs", "nodeMeshPassword", "nodeMeshMaxRestartTime",
)  # fmt: skip
_PEER_FIELDS = frozenset(
    {
        "node", "nodeSelector", "peerIP", "asNumber", "localASNumber", "peerSelector",
        "keepOriginalNextHop", "nextHopMode", "password", "sourceAddress", "maxRestartTime",
        "keepaliveTime", "numAllowedLocalASNumbers", "ttlSecurity", "reachableBy", "filters",
        "localWorkloadSelector", "reversePeering",
    }
)  # fmt: skip
_NODE_BGP_FIELDS = frozenset(
    {"ipv4Address", "ipv6Address", "asNumber", "routeReflectorClusterID", "ipv4IPIPTunnelAddr"}
)
_POOL_FIELDS = frozenset(
    {
        "cidr", "vxlanMode", "ipipMode", "natOutgoing", "disabled", "disableBGPExport",
        "blockSize", "nodeSelector", "allowedUses", "assignmentMode", "ipip", "nat-outgoing",
    }
)  # fmt: skip
_TOP_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
_SEVERITY = re.compile(r"(?i)(trace|debug|info|warning|error|fatal)?")
_INTERFACE = re.compile(r"[a-zA-Z0-9_.*-]{1,15}")
_COMMUNITY = re.compile(r"([0-9]+):([0-9]+)(?::([0-9]+))?")
_PROGRAM_CLUSTER_ROUTES = ("Enabled", "Disabled", "EnabledIPIPOnly", "EnabledNoEncapOnly")
MAX_RESTART_SECONDS = 4095  # RFC 4724: the restart time field has 12 bits


def parse_community(value: Any) -> Community:
    m = _COMMUNITY.fullmatch(value) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"{show(value)} is not a community (aa:nn or aa:nn:mm)")
    parts = tuple(int(p) for p in m.groups() if p is not None)
    limit = 0xFFFF if len(parts) == 2 else 0xFFFFFFFF
    if any(p > limit for p in parts):
        bits = 16 if len(parts) == 2 else 32
        raise ValueError(f"{show(value)}: each part of this community must fit in {bits} bits")
    return Community(parts)


def _selector(text: Any) -> Selector | None:
    if not isinstance(text, str):
        raise ValueError(f"{show(text)} is not a selector")
    if not text.strip():
        return None
    try:
        return parse_selector(text)
    except SelectorError as exc:
        raise ValueError(str(exc)) from None


def _secret_ref(fields: Fields) -> SecretKeyRef | None:
    ref = fields.sub("secretKeyRef")
    ref.only({"name", "key", "optional"})
    if not fields.has("secretKeyRef"):
        fields.only({"secretKeyRef"})
        if fields.data:
            fields.fail("secretKeyRef", "is required")
        return None
    name = ref.get("name", parse_object_name, "")
    key = ref.get("key", _secret_key, "")
    # A value given but invalid was reported by `get`; "is required" only when there is none.
    for field in ("name", "key"):
        if not ref.has(field):
            ref.fail(field, "is required")
    return SecretKeyRef(name, key) if name and key else None


def _secret_key(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[-._a-zA-Z0-9]{1,253}", value):
        raise ValueError(f"{show(value)} is not a valid Secret key")
    return value


def _restart_time(value: Any) -> float:
    seconds = parse_duration(value)
    if not 0 <= round_seconds(seconds) <= MAX_RESTART_SECONDS:
        raise ValueError(f"{show(value)} is out of range (0s-{MAX_RESTART_SECONDS}s, RFC 4724)")
    return seconds


def _keepalive(value: Any) -> float:
    seconds = parse_duration(value)
    if not 1 <= round_seconds(seconds) <= 65535:
        raise ValueError(f"{show(value)} is out of range (1s-65535s)")
    return seconds


def _cidr_list(spec: Fields, key: str) -> tuple[IPNetwork, ...]:
    out: list[IPNetwork] = []
    for item in spec.items(key):
        item.only({"cidr"})
        if not item.raw("cidr"):
            continue  # Calico drops entries with an empty cidr
        net = item.get("cidr", parse_cidr, None)
        if net is not None and net not in out:
            out.append(net)
    return tuple(out)


def parse_bgp_configuration(
    obj: dict[str, Any], name: str, problems: list[Problem]
) -> BGPConfiguration:
    top = Fields("BGPConfiguration", name, obj, "", problems)
    top.only(_TOP_FIELDS)
    spec = top.sub("spec")
    spec.only(_CONFIG_FIELDS)
    is_default = name == "default"
    if not is_default:
        for key in _DEFAULT_ONLY:
            if spec.has(key):
                spec.fail(key, "may only be set on the BGPConfiguration named default")
    mesh = spec.get("nodeToNodeMeshEnabled", parse_bool, None)
    if mesh is False:
        for key in ("nodeMeshPassword", "nodeMeshMaxRestartTime"):
            if spec.has(key):
                spec.fail(key, "cannot be set while nodeToNodeMeshEnabled is false")
    severity = spec.get("logSeverityScreen", parse_str, None)
    if severity is not None and not _SEVERITY.fullmatch(severity):
        spec.fail(
            "logSeverityScreen",
            f"{show(severity)} is not one of Trace, Debug, Info, Warning, Error, Fatal",
        )
        severity = None

    def interface(value: Any) -> str:
        if not isinstance(value, str) or value == "*" or not _INTERFACE.fullmatch(value):
            raise ValueError(
                f'{show(value)} is not an interface name or glob (up to 15 of [a-zA-Z0-9_.*-], not "*")'
            )
        return value

    communities: dict[str, Community] = {}
    for item in spec.items("communities"):
        item.only({"name", "value"})
        cname = item.get("name", parse_str, "")
        value = item.get("value", parse_community, None)
        if not cname:
            item.fail("name", "is required")
        if cname and value is not None:
            communities.setdefault(cname, value)  # first definition wins, as in Calico
    for key, limit in (("communities", 500), ("prefixAdvertisements", 500)):
        if isinstance(spec.raw(key), list) and len(spec.raw(key)) > limit:
            spec.fail(key, f"has {len(spec.raw(key))} entries; at most {limit} are allowed")
    if spec.raw("communities") and not spec.raw("prefixAdvertisements"):
        spec.fail("communities", "is set but prefixAdvertisements is not")
    adverts: tuple[PrefixAdvertisement, ...] | None = None
    if spec.has("prefixAdvertisements"):
        adverts = tuple(_prefix_advertisements(spec, communities))
    lb_aggregation = spec.one_of(
        "serviceLoadBalancerAggregation", ("Enabled", "Disabled"), "Enabled"
    )
    # Read by Felix, not by BIRD: validated as Calico's API does, then not used.
    spec.one_of("programClusterRoutes", _PROGRAM_CLUSTER_ROUTES, "EnabledNoEncapOnly")
    for key, version in (("localWorkloadPeeringIPV4", 4), ("localWorkloadPeeringIPV6", 6)):
        if spec.raw(key):
            spec.get(key, _ip_of(version), None)
    return BGPConfiguration(
        name=name,
        mesh_enabled=mesh,
        as_number=spec.get("asNumber", parse_local_asn, None),
        service_cluster_ips=_cidr_list(spec, "serviceClusterIPs"),
        service_external_ips=_cidr_list(spec, "serviceExternalIPs"),
        service_load_balancer_ips=_cidr_list(spec, "serviceLoadBalancerIPs"),
        lb_aggregation=lb_aggregation == "Enabled",
        listen_port=spec.get("listenPort", lambda v: parse_int(v, 1, 65535), None),
        log_severity=severity.lower() if severity else None,
        bind_mode_node_ip=spec.one_of("bindMode", ("None", "NodeIP"), "None") == "NodeIP",
        ignored_interfaces=tuple(spec.values("ignoredInterfaces", interface)),
        prefix_advertisements=adverts,
        node_mesh_password=_secret_ref(spec.sub("nodeMeshPassword")) if spec.has("nodeMeshPassword") else None,
        node_mesh_max_restart_time=spec.get("nodeMeshMaxRestartTime", _restart_time, None),
        ipv4_normal_route_priority=spec.get("ipv4NormalRoutePriority", lambda v: parse_int(v, 1, 2147483646), 1024),
        ipv6_normal_route_priority=spec.get("ipv6NormalRoutePriority", lambda v: parse_int(v, 1, 2147483646), 1024),
    )  # fmt: skip


def _prefix_advertisements(spec: Fields, named: dict[str, Community]) -> list[PrefixAdvertisement]:
    out: list[PrefixAdvertisement] = []
    for item in spec.items("prefixAdvertisements"):
        item.only({"cidr", "communities"})
        cidr = item.get("cidr", parse_cidr, None)
        if not item.has("cidr"):
            item.fail("cidr", "is required")
        resolved: set[Community] = set()
        if isinstance(item.raw("communities"), list) and len(item.raw("communities")) > 50:
            item.fail(
                "communities", f"has {len(item.raw('communities'))} entries; at most 50 are allowed"
            )
        for i, ref in enumerate(item.values("communities", parse_str)):
            if _COMMUNITY.fullmatch(ref):
                try:
                    resolved.add(parse_community(ref))
                except ValueError as exc:
                    item.fail(f"communities[{i}]", str(exc))
            elif ref in named:
                resolved.add(named[ref])
            else:
                item.fail(
                    f"communities[{i}]",
                    f"{show(ref)} is neither a community value nor a name defined in spec.communities",
                )
        if cidr is not None and resolved:
            # Calico sorts the values as strings: "100:555:107" < "100:6532" < "5663:12".
            out.append(PrefixAdvertisement(cidr, tuple(sorted(resolved, key=str))))
    return out


def _multicast_warning(peer: str, field: str, ip: IPAddress) -> str:
    effect = (
        "no BGP session can come up with it"
        if field == "peerIP"
        else "BIRD never uses a route through it"
    )
    return (
        f"BGPPeer/{peer}: spec.{field}: {ip} is a multicast address; rendered as Calico "
        f"renders it, but {effect}"
    )


def parse_bgp_peer(
    obj: dict[str, Any], name: str, problems: list[Problem], warnings: list[str] | None = None
) -> BGPPeer:
    top = Fields("BGPPeer", name, obj, "", problems)
    top.only(_TOP_FIELDS)
    spec = top.sub("spec")
    spec.only(_PEER_FIELDS)
    no_peer_ip: tuple[IPAddress | None, int | None] = (None, None)
    peer_ip, peer_port = (
        spec.get("peerIP", parse_peer_ip, no_peer_ip) if spec.raw("peerIP") else no_peer_ip
    )
    notes: list[str] = [] if warnings is None else warnings
    if peer_ip is not None and peer_ip.is_multicast:
        # Calico's validator has no multicast check and BIRD loads such a neighbor (the
        # session just never comes up): render it, as confd does, and say so.
        notes.append(_multicast_warning(name, "peerIP", peer_ip))
    elif peer_ip is not None and (why := unusable_bgp_address(peer_ip)):
        spec.fail("peerIP", f"{why}; BIRD cannot peer with it")
        peer_ip = None
    node_selector = spec.get("nodeSelector", _selector, None)
    peer_selector = spec.get("peerSelector", _selector, None)
    workload_selector = spec.get("localWorkloadSelector", _selector, None)
    node = spec.get("node", lambda v: parse_object_name(v) if v else "", "")
    as_number = spec.get("asNumber", parse_asn, 0)
    next_hop: NextHopMode | None = None
    if spec.has("nextHopMode"):
        next_hop = spec.one_of("nextHopMode", ("Auto", "Self", "Keep"), "Auto")  # type: ignore[assignment]
    keep = spec.get("keepOriginalNextHop", parse_bool, False)
    reachable_by = spec.get("reachableBy", parse_ip, None) if spec.raw("reachableBy") else None
    if reachable_by is not None and reachable_by.is_multicast:
        notes.append(_multicast_warning(name, "reachableBy", reachable_by))
    elif reachable_by is not None and (why := unusable_bgp_address(reachable_by)):
        spec.fail("reachableBy", f"{why}; it cannot be a gateway")
        reachable_by = None

    if node and node_selector is not None:
        spec.fail("nodeSelector", "cannot be set together with spec.node")
    if spec.raw("peerIP") and spec.raw("peerSelector"):
        spec.fail("peerSelector", "cannot be set together with spec.peerIP")
    if spec.raw("peerSelector") and as_number:
        spec.fail(
            "asNumber",
            "cannot be set together with spec.peerSelector (the AS comes from the selected nodes)",
        )
    if spec.raw("localWorkloadSelector"):
        if spec.raw("peerIP") or spec.raw("peerSelector"):
            spec.fail(
                "localWorkloadSelector",
                "cannot be set together with spec.peerIP or spec.peerSelector",
            )
        if not as_number:
            spec.fail("asNumber", "is required with spec.localWorkloadSelector")
    if (
        not spec.raw("peerIP")
        and not spec.raw("peerSelector")
        and not spec.raw("localWorkloadSelector")
    ):
        spec.fail("", "one of peerIP, peerSelector or localWorkloadSelector is required")
    if keep and next_hop is not None:
        spec.fail("keepOriginalNextHop", "cannot be set together with spec.nextHopMode")
    if spec.raw("reachableBy"):
        if not spec.raw("peerIP"):
            spec.fail("reachableBy", "requires spec.peerIP")
        elif (
            reachable_by is not None
            and peer_ip is not None
            and reachable_by.version != peer_ip.version
        ):
            spec.fail(
                "reachableBy",
                f"{show(str(reachable_by))} is not of the same IP family as spec.peerIP",
            )

    password: SecretKeyRef | None = None
    if spec.has("password"):
        password = _secret_ref(spec.sub("password"))
    return BGPPeer(
        name=name,
        node=node,
        node_selector=node_selector,
        peer_ip=peer_ip,
        peer_port=peer_port,
        as_number=as_number,
        local_as_number=spec.get("localASNumber", parse_asn, None) or None,
        peer_selector=peer_selector,
        keep_original_next_hop=keep,
        next_hop_mode=next_hop,
        password=password,
        source_address_node_ip=spec.one_of("sourceAddress", ("UseNodeIP", "None"), "UseNodeIP") == "UseNodeIP",
        max_restart_time=spec.get("maxRestartTime", _restart_time, None),
        keepalive_time=spec.get("keepaliveTime", _keepalive, None),
        num_allowed_local_as=spec.get("numAllowedLocalASNumbers", lambda v: parse_int(v, 0, 255), None),
        ttl_security=spec.get("ttlSecurity", lambda v: parse_int(v, 0, 255), None),
        reachable_by=reachable_by,
        reverse_manual=spec.one_of("reversePeering", ("Auto", "Manual"), "Auto") == "Manual",
        filters=tuple(spec.values("filters", parse_object_name)),
        local_workload_selector=workload_selector,
    )  # fmt: skip


def parse_calico_node(obj: dict[str, Any], name: str, problems: list[Problem]) -> Node:
    top = Fields("Node", name, obj, "", problems)
    top.only(_TOP_FIELDS)
    spec = top.sub("spec")
    labels = label_map(top.sub("metadata"), "labels")
    if not spec.has("bgp"):
        return Node(name=name, source="Node", labels=labels)
    bgp = spec.sub("bgp")
    bgp.only(_NODE_BGP_FIELDS)
    if not any(bgp.raw(k) for k in _NODE_BGP_FIELDS):
        spec.fail("bgp", "is present but empty")
    ipv4 = bgp.get("ipv4Address", parse_ip_or_cidr, None) if bgp.raw("ipv4Address") else None
    ipv6 = bgp.get("ipv6Address", parse_ip_or_cidr, None) if bgp.raw("ipv6Address") else None
    if ipv4 is not None and ipv4.version != 4:
        bgp.fail("ipv4Address", f"{show(bgp.raw('ipv4Address'))} is not an IPv4 address")
        ipv4 = None
    for key, iface in (("ipv4Address", ipv4), ("ipv6Address", ipv6)):
        if iface is not None and (why := unusable_bgp_address(iface.ip)):
            bgp.fail(key, f"{why}, not a node's BGP address")
    if ipv6 is not None and ipv6.version != 6:
        bgp.fail("ipv6Address", f"{show(bgp.raw('ipv6Address'))} is not an IPv6 address")
        ipv6 = None
    if bgp.raw("ipv4IPIPTunnelAddr"):  # Felix's, not BIRD's: validated, then not used
        bgp.get("ipv4IPIPTunnelAddr", _ip_of(4), None)
    return Node(
        name=name,
        source="Node",
        ipv4=ipv4,
        ipv6=ipv6,
        as_number=bgp.get("asNumber", parse_local_asn, None),
        rr_cluster_id=bgp.get("routeReflectorClusterID", _cluster_id, ""),
        labels=labels,
    )


def _ip_of(version: int) -> Callable[[Any], IPAddress]:
    def parse(value: Any) -> IPAddress:
        ip = parse_ip(value)
        if ip.version != version:
            raise ValueError(f"{show(value)} is not an IPv{version} address")
        return ip

    return parse


def _cluster_id(value: Any) -> str:
    if not value:
        return ""
    ip = parse_ip(value)
    if ip.version != 4:
        raise ValueError(f"{show(value)} is not an IPv4 address")
    return str(ip)


def parse_ip_pool(obj: dict[str, Any], name: str, problems: list[Problem]) -> IPPool | None:
    top = Fields("IPPool", name, obj, "", problems)
    top.only(_TOP_FIELDS)
    spec = top.sub("spec")
    spec.only(_POOL_FIELDS)
    cidr = spec.get("cidr", parse_cidr, None)
    if not spec.has("cidr"):
        spec.fail("cidr", "is required")
    if cidr is None:
        return None
    return IPPool(name, cidr, spec.get("disableBGPExport", parse_bool, False))
