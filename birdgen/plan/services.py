"""plan: which Service prefixes this node advertises, each with the reason it does (spec §6).

Pure: takes the validated cluster and this node, returns per-family routes, the ranges passed on
for other nodes, and the ranges kept out of this node's kernel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from birdgen.errors import InvalidInput, Problem
from birdgen.model.resources import Cluster, Endpoint, EndpointSlice, Environment, Node, Service
from birdgen.model.values import (
    Family,
    IPAddress,
    IPNetwork,
    family_of,
    host_text,
    network_text,
    parse_cidr,
)

EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


@dataclass
class ServiceRoutes:
    """The outcome for one family, built up while walking the ranges and Services.

    Prefixes are keyed by their text (`10.49.62.131/32`): a node may originate 100,000, and a
    string hashes in C where an `ipaddress` network hashes in Python.
    """

    reasons: dict[str, list[str]] = field(default_factory=dict)
    withheld: dict[str, list[str]] = field(default_factory=dict)  # service IPs not advertised
    export_ranges: list[IPNetwork] = field(default_factory=list)
    kernel_reject: list[IPNetwork] = field(default_factory=list)

    def add(self, prefix: str, reason: str) -> None:
        _note(self.reasons, prefix, reason)

    def withhold(self, prefix: str, reason: str) -> None:
        _note(self.withheld, prefix, reason)


def _note(notes: dict[str, list[str]], prefix: str, reason: str) -> None:
    known = notes.get(prefix)
    if known is None:
        notes[prefix] = [reason]
    elif reason not in known:
        known.append(reason)


# A range as (version, first address, last address, text), for a containment test on ints.
Bounds = tuple[int, int, int, str]


@dataclass(frozen=True)
class Ranges:
    cluster: tuple[IPNetwork, ...]
    cluster_source: str  # where the cluster ranges came from, for `explain`
    external: tuple[IPNetwork, ...]
    load_balancer: tuple[IPNetwork, ...]
    lb_aggregation: bool

    @cached_property
    def singles_lb(self) -> frozenset[IPAddress]:
        """Single-address entries of serviceLoadBalancerIPs (computed once, asked per Service)."""
        return frozenset(n.network_address for n in self.load_balancer if _single(n))

    @cached_property
    def singles_ext(self) -> frozenset[IPAddress]:
        return frozenset(n.network_address for n in self.external if _single(n))

    @cached_property
    def bounds(self) -> dict[str, tuple[Bounds, ...]]:
        """Each list of ranges as `Bounds`: asked once per Service address, where `ip in net`
        would run `ipaddress`'s Python code each time."""
        lists = {"cluster": self.cluster, "external": self.external, "lb": self.load_balancer}
        return {
            what: tuple(
                (n.version, int(n.network_address), int(n.broadcast_address), network_text(n))
                for n in nets
            )
            for what, nets in lists.items()
        }

    @cached_property
    def _texts(self) -> dict[tuple[str, str], str]:
        return {}

    def text(self, what: str, net: str) -> str:
        """`what net`, formatted once per range rather than once per Service address."""
        key = (what, net)
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = f"{what} {net}"
        return text

    @property
    def any(self) -> bool:
        return bool(self.cluster or self.external or self.load_balancer)


def configured_ranges(cluster: Cluster, env: Environment) -> Ranges:
    cfg = cluster.default_config
    if env.advertise_cluster_ips:
        # The legacy variable is a single CIDR and overrides serviceClusterIPs entirely.
        try:
            legacy = parse_cidr(env.advertise_cluster_ips)
        except ValueError as exc:
            raise InvalidInput(
                [Problem("environment", "CALICO_ADVERTISE_CLUSTER_IPS", "", str(exc))]
            ) from None
        cluster_ranges: tuple[IPNetwork, ...] = (legacy,)
        source = "CALICO_ADVERTISE_CLUSTER_IPS"
    else:
        cluster_ranges = cfg.service_cluster_ips
        source = "serviceClusterIPs"
    return Ranges(
        cluster_ranges,
        source,
        cfg.service_external_ips,
        cfg.service_load_balancer_ips,
        cfg.lb_aggregation,
    )


# One Service's notes for this node: (IP version, prefix text, advertised, reason) per address.
Notes = tuple[tuple[int, str, bool, str], ...]
# `service_notes`'s arguments: the Service, its slices, the ranges, whether this node is
# excluded, the node name endpoints are matched against.
Inputs = tuple[Service, tuple[EndpointSlice, ...], Ranges, bool, str]
_Remembered = tuple[Inputs, Notes]


class ServiceMemo:
    """`service_notes` of each Service of the last plan, with the arguments it had.

    An optimisation of the same pure function, for the sidecar, whose records are frozen and
    kept from step to step: a Service whose arguments are the very same objects as last time
    (and whose ranges, exclusion and node name are equal) gets its notes back instead of
    being planned again. Any other argument computes them afresh, so a plan with a memo is
    the plan without one.
    """

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], _Remembered] = {}
        self.ranges: Ranges | None = None


def service_notes(
    svc: Service,
    slices: tuple[EndpointSlice, ...],
    ranges: Ranges,
    excluded: bool,
    endpoint_node_name: str,
) -> Notes:
    """What one Service adds to this node's routes (advertised) and withheld addresses."""
    if excluded:
        advertised, verdict = False, f"this node has the label {EXCLUDE_LABEL}=true"
    else:
        advertised, verdict = _advertised(svc, slices, ranges, endpoint_node_name)
    ref = f"Service {svc.namespace}/{svc.name}"
    return tuple(
        (
            ip.version,
            host_text(ip),
            advertised,
            f"{ref}: {verdict}; {category}"
            if advertised
            else f"{ref}: not advertised: {verdict}; {category}",
        )
        for ip, category in _service_addresses(svc, ranges)
    )


def plan_services(
    cluster: Cluster, env: Environment, node: Node, memo: ServiceMemo | None = None
) -> dict[Family, ServiceRoutes]:
    ranges = configured_ranges(cluster, env)
    out = {Family.V4: ServiceRoutes(), Family.V6: ServiceRoutes()}
    excluded = node.labels.get(EXCLUDE_LABEL) == "true"
    cfg_name = "BGPConfiguration default"

    # Aggregates (§6.2): every cluster range; external and (aggregated) LB ranges except single
    # addresses, which are per-service so that Local services stay local.
    aggregates: list[tuple[IPNetwork, str]] = [
        (
            net,
            f"{ranges.cluster_source} range of {cfg_name}"
            if ranges.cluster_source == "serviceClusterIPs"
            else "CALICO_ADVERTISE_CLUSTER_IPS (legacy environment variable)",
        )
        for net in ranges.cluster
    ]
    aggregates += [
        (net, f"serviceExternalIPs range of {cfg_name}")
        for net in ranges.external
        if not _single(net)
    ]
    if ranges.lb_aggregation:
        aggregates += [
            (net, f"serviceLoadBalancerIPs range of {cfg_name}")
            for net in ranges.load_balancer
            if not _single(net)
        ]
    for net, reason in aggregates:
        routes = out[family_of(net)]
        if net not in routes.kernel_reject:
            routes.kernel_reject.append(net)
        if not excluded:
            routes.add(network_text(net), reason)
            if net not in routes.export_ranges:
                routes.export_ranges.append(net)
    # birdgen keeps every configured service range out of the kernel, single addresses and
    # non-aggregated LB ranges included, so that no node ever installs another node's service
    # route for host traffic (a deliberate divergence from Calico, spec §6.9 #1).
    for net in (*ranges.external, *ranges.load_balancer):
        if net not in out[family_of(net)].kernel_reject:
            out[family_of(net)].kernel_reject.append(net)

    if not ranges.any:
        return out
    by_version = {4: out[Family.V4], 6: out[Family.V6]}
    if memo is not None:
        # Equal ranges are the memo's own object, so that each Service's inputs compare by
        # identity; different ranges miss every entry.
        if memo.ranges is not None and memo.ranges == ranges:
            ranges = memo.ranges
        memo.ranges = ranges
    fresh: dict[tuple[str, str], _Remembered] = {}
    for svc in cluster.services:
        where = (svc.namespace, svc.name)
        slices = () if excluded else cluster.slices.get(where, ())
        inputs = (svc, slices, ranges, excluded, env.endpoint_node_name)
        known = memo.entries.get(where) if memo is not None else None
        # Tuple equality asks identity first, element by element, in C: the same records
        # compare in nanoseconds; a new record compares by value (equal means same notes).
        notes = known[1] if known is not None and known[0] == inputs else service_notes(*inputs)
        fresh[where] = (inputs, notes)
        for version, prefix, advertised, reason in notes:
            if advertised:
                by_version[version].add(prefix, reason)
            else:
                by_version[version].withhold(prefix, reason)
    if memo is not None:
        memo.entries = fresh  # only the Services of this plan: a deleted one is forgotten
    for routes in out.values():  # an address advertised for one Service is not withheld
        for prefix in list(routes.withheld):
            if prefix in routes.reasons:
                del routes.withheld[prefix]
    return out


def _single(net: IPNetwork) -> bool:
    return net.prefixlen == net.max_prefixlen


def _advertised(
    svc: Service, slices: Iterable[EndpointSlice], ranges: Ranges, node_name: str
) -> tuple[bool, str]:
    """Whether this node advertises the Service's own addresses, and why (§6.3)."""
    slices = tuple(slices)
    if svc.type not in ("ClusterIP", "NodePort", "LoadBalancer"):
        return False, f"type {svc.type}"
    if svc.headless:
        return False, "headless (clusterIP None)"
    if not slices:
        return False, "no EndpointSlice"  # Calico does nothing without endpoints (§6.9 #2)
    policy = svc.external_traffic_policy
    if policy == "Cluster":
        singles_lb, singles_ext = ranges.singles_lb, ranges.singles_ext
        if svc.type == "LoadBalancer":
            for ip in (svc.load_balancer_ip, *svc.ingress_ips):
                if ip is not None and ip in singles_lb:
                    return (
                        True,
                        f"externalTrafficPolicy=Cluster, load-balancer IP {ip} is a single address of serviceLoadBalancerIPs",
                    )
        for ip in svc.external_ips:
            if ip in singles_ext:
                return (
                    True,
                    f"externalTrafficPolicy=Cluster, external IP {ip} is a single address of serviceExternalIPs",
                )
    if policy != "Local" and ranges.lb_aggregation:
        shown = policy or "unset"
        return False, f"externalTrafficPolicy={shown}: the aggregate ranges cover it"
    families = {f.k8s_name for f in svc.ip_families}
    ready = [ep for s in slices if s.address_type in families for ep in s.endpoints if ep.ready]
    if policy == "Local":
        if any(ep.node_name == node_name for ep in ready):
            return True, "externalTrafficPolicy=Local, ready endpoint on this node"
        return False, "externalTrafficPolicy=Local, no ready endpoint on this node"
    shown = policy or "unset"
    if ready:
        return (
            True,
            f"externalTrafficPolicy={shown}, serviceLoadBalancerAggregation=Disabled, ready endpoint in the cluster",
        )
    return (
        False,
        f"externalTrafficPolicy={shown}, serviceLoadBalancerAggregation=Disabled, no ready endpoint in the cluster",
    )


# Stands for "some node other than this one" in a slice reduced by `as_seen_from`; `*` is in
# no valid node name.
ELSEWHERE = "*"


def as_seen_from(eps: EndpointSlice, node_name: str) -> EndpointSlice:
    """The slice reduced to all `_advertised` reads of it for node `node_name`: its endpoints on
    this node, and whether any endpoint elsewhere is ready. Planning with reduced slices gives
    the same plan; the sidecar keeps them so, so that endpoints moving between other nodes
    leave its store, and its config, untouched."""
    mine = [ep for ep in eps.endpoints if ep.node_name == node_name]
    elsewhere = any(ep.ready and ep.node_name != node_name for ep in eps.endpoints)
    kept = (*dict.fromkeys(mine), *((Endpoint(ELSEWHERE, True),) if elsewhere else ()))
    if len(kept) == len(eps.endpoints) and kept == eps.endpoints:
        return eps
    return EndpointSlice(
        eps.namespace, eps.name, eps.service_name, eps.address_type, tuple(kept), eps.legacy
    )


def _service_addresses(svc: Service, ranges: Ranges) -> list[tuple[IPAddress, str]]:
    """The Service's addresses that are advertised once the Service is (§6.4)."""
    out: list[tuple[IPAddress, str]] = []
    if ranges.cluster:
        for ip in svc.cluster_ips:
            within = _within(ip, ranges.bounds["cluster"])
            where = (
                ranges.text(f"within {ranges.cluster_source}", within)
                if within
                else f"cluster IP (outside {ranges.cluster_source}; advertised as Calico does)"
            )
            out.append((ip, where))
    for ip in svc.external_ips:
        within = _within(ip, ranges.bounds["external"])
        if within:
            out.append((ip, ranges.text("external IP within serviceExternalIPs", within)))
    for ip in svc.ingress_ips:
        within = _within(ip, ranges.bounds["lb"])
        if within:
            out.append(
                (ip, ranges.text("load-balancer ingress IP within serviceLoadBalancerIPs", within))
            )
    return out


def _within(ip: IPAddress, bounds: tuple[Bounds, ...]) -> str | None:
    """The text of the first range that holds `ip`, or None."""
    version, value = ip.version, int(ip)
    for net_version, first, last, text in bounds:
        if net_version == version and first <= value <= last:
            return text
    return None
