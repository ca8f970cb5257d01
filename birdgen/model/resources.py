"""model: the frozen records birdgen plans from, one per resource kind it understands.

The parsers in `birdgen.model.parse` build these from raw dicts; everything downstream reads only
these records, never the raw dicts, so every value here has already been validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NamedTuple

from birdgen.errors import Problem
from birdgen.model.selector import Selector
from birdgen.model.values import (
    Family,
    IPAddress,
    IPInterface,
    IPNetwork,
    parse_label_name,
    parse_object_name,
)

if TYPE_CHECKING:  # bgpfilter imports this module; the annotation alone needs the name
    from birdgen.model.bgpfilter import BGPFilter


@dataclass(frozen=True)
class Ref:
    """Which resource something came from; printed in errors and in `explain`."""

    kind: str
    name: str
    namespace: str = ""

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.namespace}/{self.name}"
            if self.namespace
            else f"{self.kind} {self.name}"
        )


@dataclass(frozen=True)
class SecretKeyRef:
    name: str
    key: str

    def __str__(self) -> str:
        return f"Secret {self.name} key {self.key}"


class Password:
    """A password read from a Secret. It never prints itself: logs and `explain` show `<redacted>`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value, for the one place that needs it: the rendered `password "..."` line."""
        return self._value

    def __repr__(self) -> str:
        return "Password(<redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Password) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Community:
    """A standard (`aa:nn`) or large (`aa:nn:mm`) BGP community."""

    parts: tuple[int, ...]

    @property
    def large(self) -> bool:
        return len(self.parts) == 3

    def __str__(self) -> str:
        return ":".join(str(p) for p in self.parts)


@dataclass(frozen=True)
class PrefixAdvertisement:
    cidr: IPNetwork
    communities: tuple[Community, ...]  # resolved, de-duplicated, sorted as Calico sorts them


@dataclass(frozen=True)
class BGPConfiguration:
    name: str
    mesh_enabled: bool | None = None
    as_number: int | None = None
    service_cluster_ips: tuple[IPNetwork, ...] = ()
    service_external_ips: tuple[IPNetwork, ...] = ()
    service_load_balancer_ips: tuple[IPNetwork, ...] = ()
    lb_aggregation: bool = True
    listen_port: int | None = None
    log_severity: str | None = None
    bind_mode_node_ip: bool = False
    ignored_interfaces: tuple[str, ...] = ()
    # None when the field is absent: a node resource's list (even empty) replaces the default's.
    prefix_advertisements: tuple[PrefixAdvertisement, ...] | None = None
    node_mesh_password: SecretKeyRef | None = None
    node_mesh_max_restart_time: float | None = None
    ipv4_normal_route_priority: int = 1024
    ipv6_normal_route_priority: int = 1024

    @property
    def ref(self) -> Ref:
        return Ref("BGPConfiguration", self.name)


NextHopMode = Literal["Auto", "Self", "Keep"]


@dataclass(frozen=True)
class BGPPeer:
    name: str
    node: str = ""
    node_selector: Selector | None = None
    peer_ip: IPAddress | None = None
    peer_port: int | None = None
    as_number: int = 0
    local_as_number: int | None = None
    peer_selector: Selector | None = None
    keep_original_next_hop: bool = False
    next_hop_mode: NextHopMode | None = None
    password: SecretKeyRef | None = None
    source_address_node_ip: bool = True  # sourceAddress: UseNodeIP (default) or None
    max_restart_time: float | None = None
    keepalive_time: float | None = None
    num_allowed_local_as: int | None = None
    ttl_security: int | None = None
    reachable_by: IPAddress | None = None
    reverse_manual: bool = False  # reversePeering: Manual
    filters: tuple[str, ...] = ()
    local_workload_selector: Selector | None = None

    @property
    def ref(self) -> Ref:
        return Ref("BGPPeer", self.name)

    @property
    def is_global(self) -> bool:
        return not self.node and self.node_selector is None


@dataclass(frozen=True, slots=True)
class Node:
    """A node as BGP sees it, from a Calico Node or a Kubernetes Node's Calico annotations."""

    name: str
    source: str  # "Node" (Calico) or "Node (v1)"; for provenance only
    ipv4: IPInterface | None = None
    ipv6: IPInterface | None = None
    as_number: int | None = None
    rr_cluster_id: str = ""
    labels: Mapping[str, str] = field(default_factory=dict, hash=False, compare=True)

    def address(self, family: Family) -> IPAddress | None:
        iface = self.ipv4 if family is Family.V4 else self.ipv6
        return iface.ip if iface is not None else None

    @property
    def ref(self) -> Ref:
        return Ref(self.source, self.name)


# Slots (here, on Node and on EndpointSlice): the sidecar keeps one record per object, 40,000
# at 1,000 nodes; an instance then holds its fields and nothing else.
@dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    name: str
    type: str  # ClusterIP, NodePort, LoadBalancer, ExternalName (defaults applied)
    cluster_ip: str  # as written; "" or "None" for headless
    cluster_ips: tuple[IPAddress, ...]
    ip_families: tuple[Family, ...]
    external_ips: tuple[IPAddress, ...]
    load_balancer_ip: IPAddress | None
    ingress_ips: tuple[IPAddress, ...]  # status.loadBalancer.ingress[].ip
    external_traffic_policy: str  # "Local", "Cluster" or "" (plain ClusterIP)

    @property
    def ref(self) -> Ref:
        return Ref("Service", self.name, self.namespace)

    @property
    def headless(self) -> bool:
        return self.cluster_ip in ("", "None")


class Endpoint(NamedTuple):
    # A tuple rather than a frozen dataclass: a cluster has ~100,000 of them, and a tuple is
    # built in half the time.
    node_name: str
    ready: bool


@dataclass(frozen=True, slots=True)
class EndpointSlice:
    """An EndpointSlice, or one family's worth of a legacy v1 Endpoints object."""

    namespace: str
    name: str
    service_name: str
    address_type: str  # IPv4, IPv6 or FQDN
    endpoints: tuple[Endpoint, ...]


@dataclass(frozen=True)
class Secret:
    namespace: str
    name: str
    data: Mapping[str, str] = field(default_factory=dict, hash=False)
    from_string_data: frozenset[str] = frozenset()  # keys whose value came from stringData

    @property
    def ref(self) -> Ref:
        return Ref("Secret", self.name, self.namespace)

    def field_of(self, key: str) -> str:
        """The field an operator wrote `key` in: `stringData.<key>` or `data.<key>`."""
        return f"{'stringData' if key in self.from_string_data else 'data'}.{key}"


@dataclass(frozen=True)
class IPPool:
    name: str
    cidr: IPNetwork
    disable_bgp_export: bool = False


@dataclass(frozen=True)
class Cluster:
    """Every resource birdgen read, validated, with later duplicates already replacing earlier."""

    configs: Mapping[str, BGPConfiguration] = field(default_factory=dict)
    peers: tuple[BGPPeer, ...] = ()  # sorted by name: Calico's winner among duplicates is random
    nodes: Mapping[str, Node] = field(default_factory=dict)
    services: tuple[Service, ...] = ()
    slices: Mapping[tuple[str, str], tuple[EndpointSlice, ...]] = field(default_factory=dict)
    secrets: Mapping[tuple[str, str], Secret] = field(default_factory=dict)
    ip_pools: tuple[IPPool, ...] = ()
    filters: Mapping[str, BGPFilter] = field(default_factory=dict)  # BGPFilter by name
    warnings: tuple[str, ...] = ()

    @property
    def default_config(self) -> BGPConfiguration:
        return self.configs.get("default") or BGPConfiguration(name="default")


@dataclass(frozen=True)
class Environment:
    """What the process environment tells about the node, as Calico's calico-node reads it."""

    node_name: str
    k8s_node_ref: str = ""  # CALICO_K8S_NODE_REF; empty means node_name
    router_id: str = ""  # CALICO_ROUTER_ID: "hash", a literal, or empty
    advertise_cluster_ips: str = ""  # CALICO_ADVERTISE_CLUSTER_IPS (legacy)
    secrets_namespace: str = "kube-system"  # NAMESPACE

    @property
    def endpoint_node_name(self) -> str:
        return self.k8s_node_ref or self.node_name

    def problems(self) -> list[Problem]:
        """What is wrong with the names the environment gave. Each is compared with resource
        names, which are RFC 1123, so text that is none could only fail to match, later and
        with a vaguer message."""
        out = []
        for variable, value, parse in (
            ("NODENAME", self.node_name, parse_object_name),
            ("CALICO_K8S_NODE_REF", self.k8s_node_ref, parse_object_name),
            ("NAMESPACE", self.secrets_namespace, parse_label_name),
        ):
            try:
                if value or variable == "NODENAME":
                    parse(value)
            except ValueError as exc:
                where = (
                    " (from --node, $NODENAME or the host name)" if variable == "NODENAME" else ""
                )
                out.append(Problem("environment", variable, "", f"{exc}{where}"))
        return out

    @classmethod
    def from_mapping(
        cls, node_name: str | None, environ: Mapping[str, str], hostname: str = ""
    ) -> Environment:
        """Read from an environment mapping: `--node`, else NODENAME, else the host name."""
        return cls(
            node_name=node_name or environ.get("NODENAME") or hostname,
            k8s_node_ref=environ.get("CALICO_K8S_NODE_REF", ""),
            router_id=environ.get("CALICO_ROUTER_ID", ""),
            advertise_cluster_ips=environ.get("CALICO_ADVERTISE_CLUSTER_IPS", ""),
            secrets_namespace=environ.get("NAMESPACE") or "kube-system",
        )
