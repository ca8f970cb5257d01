"""plan: which Service prefixes this node advertises, each with the reason it does (spec §6).

Pure: takes the validated cluster and this node, returns per-family routes, the ranges passed on
for other nodes, and the ranges kept out of this node's kernel.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from operator import itemgetter

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
from birdgen.plan.types import Route

EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


@dataclass
class ServiceRoutes:
    """The outcome for one family: routes and withheld addresses in Calico's order, the ranges
    passed on for other nodes, and the ranges kept out of this node's kernel."""

    routes: tuple[Route, ...] = ()
    withheld: tuple[Route, ...] = ()  # service IPs not advertised
    export_ranges: list[IPNetwork] = field(default_factory=list)
    kernel_reject: list[IPNetwork] = field(default_factory=list)


def calico_order(text: str) -> str:
    """Calico orders prefixes by the string "<address>-<prefixlen>", byte-wise; prefix texts
    are ASCII, so comparing the strings compares their bytes."""
    return text.replace("/", "-")


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
# The arguments of `service_notes` that vary by Service: the Service and its slices (the rest
# is the table's basis).
Inputs = tuple[Service, tuple[EndpointSlice, ...]]
# Per prefix, the Services that give it and the reason each gives, in the order of the
# Services' namespace and name (a Service's reasons in the order it gives them), each pair
# once: nearly every prefix has one, and a tuple is a third of the memory of a mapping.
Claims = tuple[tuple["ServiceKey", str], ...]
ServiceKey = tuple[str, str]  # (namespace, name)
# What the plan of every Service rests on: the ranges, this node's exclusion, the node name
# endpoints are matched against, and the aggregate routes with their reasons.
Basis = tuple[Ranges, bool, str, tuple[tuple[IPNetwork, str], ...]]


def _order_of(route: Route) -> str:
    return calico_order(route.text)


class _Ordered:
    """Routes in Calico's order, kept so as prefixes come, change and go: a few changes by
    bisection, so that a change costs its own prefixes; many (a first plan) by one sort."""

    def __init__(self) -> None:
        # Sorted by `calico_order` of their text, which bisection computes as it goes (a
        # list of those keys beside it would be one more string per prefix: 23,000 at 1,000
        # nodes).
        self._routes: list[Route] = []
        self._by_text: dict[str, Route] = {}
        self._frozen: tuple[Route, ...] | None = ()

    def update(self, changes: dict[str, tuple[str, ...] | None]) -> None:
        """Each prefix text's route now has these reasons; None: there is none."""
        by_text = self._by_text
        moved: list[tuple[str, Route | None]] = []  # in or out, or changed in place
        for text, reasons in changes.items():
            known = by_text.get(text)
            if reasons is None:
                if known is None:
                    continue
                del by_text[text]
                moved.append((text, None))
            elif known is None or known.reasons != reasons:
                by_text[text] = Route(text, reasons)
                moved.append((text, by_text[text]))
        if not moved:
            return
        self._frozen = None
        if len(moved) > 64:
            self._routes = sorted(by_text.values(), key=_order_of)
            return
        routes = self._routes
        for text, now in moved:
            order = calico_order(text)
            at = bisect.bisect_left(routes, order, key=_order_of)
            present = at < len(routes) and routes[at].text == text
            if now is None:
                del routes[at]
            elif present:
                routes[at] = now
            else:
                routes.insert(at, now)

    def routes(self) -> tuple[Route, ...]:
        if self._frozen is None:
            self._frozen = tuple(self._routes)
        return self._frozen


class ServiceTable:
    """Every Service's notes (`service_notes`) merged into routes and withheld addresses in
    Calico's order, per IP version, kept up to date Service by Service.

    `plan_services` makes a fresh one for `birdgen render` and plans every Service into it;
    the sidecar keeps one from step to step and tells it which Services a change touched, so
    a change costs the Services it touches and their prefixes, nothing per Service of the
    cluster. A Service whose arguments are the very same records as last time (and equal
    ranges, exclusion and node name) keeps its notes; any other basis (ranges, aggregates,
    exclusion, node name) empties the table and plans every Service again. Either way the
    outcome is the one of planning every Service from scratch.

    Without `withheld` the table plans only what is advertised: the addresses a node does not
    advertise are nearly all of a big cluster's (23,400 of 23,400 at 1,000 nodes, against 32
    advertised) and three quarters of the planning time, and only `explain` and the drift
    check read them; `birdgen render` needs none.
    """

    def __init__(self, withheld: bool = True) -> None:
        self.keeps_withheld = withheld
        self.basis: Basis | None = None
        # Each Service's inputs; its notes are made again from them when it changes (a pure
        # function, some microseconds) rather than kept: 23,000 of them at 1,000 nodes.
        self.entries: dict[ServiceKey, Inputs] = {}
        # Per IP version and prefix, the reasons each Service gives it, advertised or withheld.
        self._claims: dict[tuple[int, bool], dict[str, Claims]] = {}
        self._aggregates: dict[int, dict[str, list[str]]] = {}
        self.routes: dict[int, _Ordered] = {}
        self.withheld: dict[int, _Ordered] = {}
        self._reset(None)

    def _reset(self, basis: Basis | None) -> None:
        self.basis = basis
        self.entries = {}
        self._claims = {(v, adv): {} for v in (4, 6) for adv in (True, False)}
        self._aggregates = {4: {}, 6: {}}
        self.routes = {4: _Ordered(), 6: _Ordered()}
        self.withheld = {4: _Ordered(), 6: _Ordered()}
        if basis is None:
            return
        _, excluded, _, aggregates = basis
        if not excluded:
            for net, reason in aggregates:
                given = self._aggregates[net.version].setdefault(network_text(net), [])
                if reason not in given:
                    given.append(reason)
        self._merge({(v, text) for v, texts in self._aggregates.items() for text in texts})

    def plan(
        self,
        basis: Basis,
        services: Iterable[tuple[ServiceKey, Service | None]],
        slices: Mapping[ServiceKey, tuple[EndpointSlice, ...]],
    ) -> None:
        """Plan `services` (each key with its Service, None where it is gone) on `basis`."""
        if self.basis is None or basis != self.basis:
            self._reset(basis)
        # The table's own basis when equal: each Service's inputs then compare by identity.
        ranges, excluded, node_name, _ = self.basis or basis
        touched: set[tuple[int, str]] = set()
        for key, svc in services:
            known = self.entries.get(key)
            if svc is None:
                if known is None:
                    continue
                del self.entries[key]
                notes: Notes = ()
            else:
                inputs = (svc, () if excluded else slices.get(key, ()))
                # Tuple equality asks identity first, element by element, in C: the same
                # records compare in nanoseconds; a new record compares by value. The rest of
                # the arguments is the basis, the same for every entry.
                if known == inputs:
                    continue
                notes = service_notes(*inputs, ranges, excluded, node_name, self.keeps_withheld)
                self.entries[key] = inputs
            was = (
                service_notes(*known, ranges, excluded, node_name, self.keeps_withheld)
                if known is not None
                else ()
            )
            if was == notes:
                continue
            for version, text, advertised, _ in was:
                claims = self._claims[version, advertised]
                left = tuple(claim for claim in claims[text] if claim[0] != key)
                if left:
                    claims[text] = left
                else:
                    del claims[text]
                touched.add((version, text))
            for version, text, advertised, reason in notes:
                claims = self._claims[version, advertised]
                given = claims.get(text, ())
                if (key, reason) not in given:
                    # Sorted by Service; stable, so a Service's reasons keep their order.
                    claims[text] = tuple(sorted((*given, (key, reason)), key=itemgetter(0)))
                touched.add((version, text))
        self._merge(touched)

    def _merge(self, touched: set[tuple[int, str]]) -> None:
        """The route and withheld entry of each prefix touched, from every claim on it: the
        aggregate's reasons first, then each Service's in the order of their namespace and
        name; a prefix advertised by any of them is not withheld."""
        for version in (4, 6):
            advertised, withheld = self._claims[version, True], self._claims[version, False]
            aggregates = self._aggregates[version]
            routes: dict[str, tuple[str, ...] | None] = {}
            held: dict[str, tuple[str, ...] | None] = {}
            for v, text in touched:
                if v != version:
                    continue
                by_service = advertised.get(text)
                aggregate = aggregates.get(text)
                if by_service or aggregate:
                    routes[text] = _joined(aggregate, by_service)
                    held[text] = None
                else:
                    routes[text] = None
                    by_service = withheld.get(text)
                    held[text] = _joined(None, by_service) if by_service else None
            self.routes[version].update(routes)
            self.withheld[version].update(held)


def _joined(first: list[str] | None, by_service: Claims | None) -> tuple[str, ...]:
    """`first`, then each Service's reasons by namespace and name, each reason once."""
    if first is None and by_service is not None and len(by_service) == 1:
        return (by_service[0][1],)  # the usual prefix: one Service's one reason
    reasons = [*(first or ()), *(reason for _, reason in by_service or ())]
    return tuple(dict.fromkeys(reasons))


def service_notes(
    svc: Service,
    slices: tuple[EndpointSlice, ...],
    ranges: Ranges,
    excluded: bool,
    endpoint_node_name: str,
    withheld: bool = True,
) -> Notes:
    """What one Service adds to this node's routes (advertised) and withheld addresses (none
    without `withheld`)."""
    if excluded:
        advertised, verdict = False, f"this node has the label {EXCLUDE_LABEL}=true"
    else:
        advertised, verdict = _advertised(svc, slices, ranges, endpoint_node_name)
    if not advertised and not withheld:
        return ()
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
    cluster: Cluster,
    env: Environment,
    node: Node,
    table: ServiceTable | None = None,
    touched: Mapping[ServiceKey, Service | None] | None = None,
) -> dict[Family, ServiceRoutes]:
    """This node's service routes. `table` (the sidecar's, kept between steps) with `touched`
    (the Services a change touched, each with its record or None where it is gone) plans only
    those; without them every Service of the cluster is planned. Same outcome. A table made
    without `withheld` leaves out the addresses not advertised."""
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
    for net, _ in aggregates:
        routes = out[family_of(net)]
        if net not in routes.kernel_reject:
            routes.kernel_reject.append(net)
        if not excluded and net not in routes.export_ranges:
            routes.export_ranges.append(net)
    # birdgen keeps every configured service range out of the kernel, single addresses and
    # non-aggregated LB ranges included, so that no node ever installs another node's service
    # route for host traffic (a deliberate divergence from Calico, spec §6.9 #1).
    for net in (*ranges.external, *ranges.load_balancer):
        if net not in out[family_of(net)].kernel_reject:
            out[family_of(net)].kernel_reject.append(net)

    table = ServiceTable() if table is None else table
    basis: Basis = (ranges, excluded, env.endpoint_node_name, tuple(aggregates))
    if touched is None or basis != table.basis:
        # Every Service of the cluster, and every one the table knows that is gone.
        present = {(svc.namespace, svc.name): svc for svc in cluster.services}
        gone = {key: None for key in table.entries if key not in present}
        touched = {**present, **gone} if ranges.any else gone
    elif not ranges.any:
        touched = {}
    table.plan(basis, touched.items(), cluster.slices)
    for family, routes in out.items():
        routes.routes = table.routes[family.value].routes()
        routes.withheld = table.withheld[family.value].routes()
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


_ONLY_ELSEWHERE = (Endpoint(ELSEWHERE, True),)


def as_seen_from(eps: EndpointSlice, node_name: str) -> EndpointSlice:
    """The slice reduced to all `_advertised` reads of it for node `node_name`: its endpoints on
    this node, and whether any endpoint elsewhere is ready. Planning with reduced slices gives
    the same plan; the sidecar keeps them so, so that endpoints moving between other nodes
    leave its store, and its config, untouched."""
    mine = [ep for ep in eps.endpoints if ep.node_name == node_name]
    elsewhere = any(ep.ready and ep.node_name != node_name for ep in eps.endpoints)
    kept = (*dict.fromkeys(mine), *(_ONLY_ELSEWHERE if elsewhere else ()))
    if len(kept) == len(eps.endpoints) and kept == eps.endpoints:
        return eps
    if kept == _ONLY_ELSEWHERE:
        kept = _ONLY_ELSEWHERE  # most slices, as seen from one node: one tuple for them all
    return EndpointSlice(eps.namespace, eps.name, eps.service_name, eps.address_type, tuple(kept))


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
