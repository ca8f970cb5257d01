"""plan: the records a plan is made of — what one node advertises and with whom it peers.

A plan is the single answer to "what will this node's BIRD do, and why": the renderer lays it out
as bird.conf, and `birdgen explain` prints the `reasons` carried here. Nothing in it is
recomputed later.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import NamedTuple

from birdgen.model.bgpfilter import Direction, FilterRule
from birdgen.model.resources import Password, PrefixAdvertisement
from birdgen.model.values import Family, IPAddress, IPNetwork


class Route(NamedTuple):
    """A prefix this node originates (as a blackhole in the static protocol) and advertises, or
    a Service address it withholds, with why.

    The prefix is kept as its text, as `ipaddress` writes it (`10.49.62.131/32`): a node may
    have 100,000 routes, and the text is all the config, Calico's ordering and `explain` need.
    A tuple rather than a frozen dataclass for the same reason.
    """

    text: str
    reasons: tuple[str, ...]

    @property
    def prefix(self) -> IPNetwork:
        return ipaddress.ip_network(self.text)


@dataclass(frozen=True)
class PeerRoute:
    """A host route towards a BGP peer through a gateway (BGPPeer.spec.reachableBy)."""

    prefix: IPNetwork
    gateway: IPAddress
    reason: str


@dataclass(frozen=True)
class FilterFunction:
    """One BGPFilter's rules for one family and direction, defined once as a BIRD function."""

    filter_name: str
    direction: Direction
    family: Family
    rules: tuple[FilterRule, ...]

    @property
    def takes_same_as(self) -> bool:
        """Rules with a peerType need to know whether the session is iBGP (Calico's sameAS)."""
        return any(r.peer_type is not None for r in self.rules)


@dataclass(frozen=True)
class Session:
    """One BGP session, with every option Calico would give it."""

    name: str  # Calico's protocol name: Mesh_10_0_0_2, Global_10_0_0_1_port_179, Node_fd00__1
    family: Family
    peer_ip: IPAddress
    peer_port: int | None
    peer_as: int
    local_as: int | None  # set only when it differs from the node's AS (BGPPeer.localASNumber)
    ibgp: bool  # peer AS == effective local AS
    source_address: IPAddress | None
    passive: bool
    ttl_security: int | None  # hop count; None means "ttl security off" + plain multihop
    password: Password | None
    password_source: str  # "Secret kube-system/bgp key tor", or "" — never the value
    graceful_restart_time: int | None
    keepalive_time: int | None
    rr_client: bool
    next_hop: str | None  # "self", "keep" or None
    allow_local_as: int | None
    # BGPFilter names, in BGPPeer.spec.filters order; only filters with a function in this
    # family and direction (FamilyPlan.filter_functions). Mesh sessions never have any.
    import_filters: tuple[str, ...] = ()
    export_filters: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class FamilyPlan:
    """Everything this node does in one address family."""

    family: Family
    address: IPAddress | None  # this node's BGP address; None disables BGP in this family
    routes: tuple[Route, ...] = ()  # originated service prefixes, in Calico's order
    withheld: tuple[Route, ...] = ()  # Service addresses this node does not advertise, and why
    export_ranges: tuple[IPNetwork, ...] = ()  # routes inside these are also passed on to peers
    kernel_reject: tuple[IPNetwork, ...] = ()  # never installed in this node's kernel
    peer_routes: tuple[PeerRoute, ...] = ()
    sessions: tuple[Session, ...] = ()
    communities: tuple[PrefixAdvertisement, ...] = ()
    filter_functions: tuple[FilterFunction, ...] = ()  # every BGPFilter's, by name (§10)
    normal_priority: int = 1024
    strict_bind: bool = False
    listen_port: int | None = None

    @property
    def enabled(self) -> bool:
        return self.address is not None


@dataclass(frozen=True)
class NodePlan:
    node_name: str
    router_id: str
    router_id_reason: str
    local_as: int
    local_as_reason: str
    rr_cluster_id: str  # "" unless this node is a route reflector
    debug: str  # "all", "info" or "off"
    ignored_interfaces: tuple[str, ...]
    v4: FamilyPlan
    v6: FamilyPlan
    warnings: tuple[str, ...] = field(default=())

    @property
    def families(self) -> tuple[FamilyPlan, FamilyPlan]:
        return (self.v4, self.v6)
