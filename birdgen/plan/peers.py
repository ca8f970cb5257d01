"""plan: the BGP sessions this node opens, exactly as Calico computes them (spec §4, §5, §8).

Peering entries come from three passes over the BGPPeers (global, node-scoped, reverse), keyed
by (scope, peer IP, peer port); the first entry for a key wins and BGPPeers are taken in name
order, so where Calico's choice depends on map order birdgen's is fixed. Then the node-to-node
mesh. Pure: secrets are looked up in the cluster snapshot, never fetched.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from birdgen.errors import Problem
from birdgen.model.resources import BGPPeer, Cluster, Environment, Node, Password, SecretKeyRef
from birdgen.model.values import Family, IPAddress, round_seconds
from birdgen.plan.filters import filter_calls, unknown_filter_warnings
from birdgen.plan.types import PeerRoute, Session

DEFAULT_AS = 64512
# BIRD quotes strings with no escapes at all; TCP MD5 keys are at most 80 bytes (TCP_MD5SIG_MAXKEYLEN).
_PASSWORD_MAX = 80


@dataclass(frozen=True)
class Entry:
    """One peering entry (spec §4.2) before it becomes a session."""

    scope: str  # "global" or "node"
    ip: IPAddress
    port: int | None
    as_number: int
    peer: BGPPeer
    reason: str
    rr_cluster_id: str = ""
    is_calico_node: bool = False  # peerIP peers only: the IP is some Calico node's
    peer_ip_mode: bool = False  # localASNumber and allow-local-as apply only to these

    @property
    def key(self) -> tuple[str, str, int | None]:
        return (self.scope, str(self.ip), self.port)

    def settings(self) -> dict[str, object]:
        """What the session would be made of, beyond its key: two entries with the same key
        but different settings are a conflict worth a warning (only the first is used)."""
        peer = self.peer
        return {
            "asNumber": self.as_number,
            "localASNumber": peer.local_as_number if self.peer_ip_mode else None,
            "numAllowedLocalASNumbers": peer.num_allowed_local_as if self.peer_ip_mode else None,
            **{field: getattr(peer, attr) for attr, field in _SESSION_FIELDS.items()},
        }


# BGPPeer attributes that shape a session (as opposed to choosing where it exists), by the
# spec field they come from.
_SESSION_FIELDS = {
    "keep_original_next_hop": "keepOriginalNextHop", "next_hop_mode": "nextHopMode",
    "password": "password", "source_address_node_ip": "sourceAddress",
    "max_restart_time": "maxRestartTime", "keepalive_time": "keepaliveTime",
    "ttl_security": "ttlSecurity", "reachable_by": "reachableBy", "filters": "filters",
}  # fmt: skip


def global_as(cluster: Cluster) -> int:
    asn = cluster.default_config.as_number
    return asn if asn is not None else DEFAULT_AS


def node_as(cluster: Cluster, node: Node) -> int:
    return node.as_number if node.as_number is not None else global_as(cluster)


def node_listen_port(cluster: Cluster, node_name: str) -> int | None:
    """The port other nodes dial to reach this one: its node.<name> listenPort, else the default's."""
    own = cluster.configs.get(f"node.{node_name}")
    if own is not None and own.listen_port:
        return own.listen_port
    return cluster.default_config.listen_port


def _node_endpoints(
    cluster: Cluster, nodes: list[Node], families: tuple[Family, ...]
) -> list[tuple[Node, IPAddress]]:
    return [(n, addr) for n in nodes for fam in families if (addr := n.address(fam)) is not None]


def _selected(cluster: Cluster, peer: BGPPeer, which: str) -> list[Node]:
    selector = peer.peer_selector if which == "peer" else peer.node_selector
    if selector is None:
        return []
    return [n for n in cluster.nodes.values() if selector.matches(n.labels)]


def _peer_ip_endpoint(cluster: Cluster, peer: BGPPeer, scope: str, reason: str) -> Entry | None:
    assert peer.peer_ip is not None
    wanted_as = peer.as_number or global_as(cluster)
    owners = [
        n
        for n in cluster.nodes.values()
        if peer.peer_ip in (n.address(Family.V4), n.address(Family.V6))
    ]
    port = peer.peer_port
    if port is None:
        same_as = [n for n in owners if node_as(cluster, n) == wanted_as]
        if same_as:  # a Calico node: dial the port it listens on
            port = node_listen_port(cluster, same_as[0].name)
    return Entry(
        scope,
        peer.peer_ip,
        port,
        peer.as_number,
        peer,
        reason,
        is_calico_node=bool(owners),
        peer_ip_mode=True,
    )


def _selector_endpoints(
    cluster: Cluster,
    peer: BGPPeer,
    remotes: list[Node],
    families: tuple[Family, ...],
    scope: str,
    reason: str,
) -> list[Entry]:
    return [
        Entry(scope, addr, node_listen_port(cluster, n.name), node_as(cluster, n), peer,
              f"{reason}; remote {n.ref}", rr_cluster_id=n.rr_cluster_id)
        for n, addr in _node_endpoints(cluster, remotes, families)
    ]  # fmt: skip


def _forward(cluster: Cluster, peer: BGPPeer, scope: str, why: str) -> list[Entry]:
    if peer.local_workload_selector is not None:
        return []
    if peer.peer_ip is not None:
        entry = _peer_ip_endpoint(cluster, peer, scope, f"{why}; peerIP {peer.peer_ip}")
        return [entry] if entry else []
    remotes = _selected(cluster, peer, "peer")
    return _selector_endpoints(
        cluster,
        peer,
        remotes,
        (Family.V4, Family.V6),
        scope,
        f"{why}; peerSelector {peer.peer_selector}",
    )


def _reverse_receives(cluster: Cluster, peer: BGPPeer, me: Node) -> tuple[Family, ...]:
    """The families in which `me` receives the reverse of `peer`, or () if it does not."""
    if peer.reverse_manual or peer.local_workload_selector is not None:
        return ()
    if peer.peer_selector is not None:
        return (Family.V4, Family.V6) if peer.peer_selector.matches(me.labels) else ()
    if peer.peer_ip is None:
        return ()
    fam = Family(peer.peer_ip.version)
    if me.address(fam) != peer.peer_ip:
        return ()
    if node_as(cluster, me) != (peer.as_number or global_as(cluster)):
        return ()
    if peer.peer_port is not None:
        own = cluster.configs.get(f"node.{me.name}")
        if own is not None and own.listen_port and own.listen_port != peer.peer_port:
            return ()
        default_port = cluster.default_config.listen_port
        if default_port and default_port != peer.peer_port:
            return ()
    return (fam,)


def peering_entries(cluster: Cluster, me: Node, warnings: list[str] | None = None) -> list[Entry]:
    """This node's entries: global ones, then its node-scoped ones not shadowed by a global one.

    Duplicates are resolved as Calico does (the first entry for a key wins; BGPPeers are taken
    in name order); when the loser came from another BGPPeer with different settings, a
    warning says which one won.
    """
    entries: dict[tuple[str, str, int | None], Entry] = {}
    notes: list[str] = [] if warnings is None else warnings

    def emit(new: list[Entry]) -> None:
        for e in new:
            first = entries.setdefault(e.key, e)  # the first entry for a key wins
            if first is not e:
                _warn_conflict(first, e, notes)

    for peer in cluster.peers:
        if peer.is_global:
            emit(
                _forward(
                    cluster, peer, "global", f"{peer.ref}: global peer (no node or nodeSelector)"
                )
            )
    for peer in cluster.peers:
        if peer.node == me.name:
            emit(_forward(cluster, peer, "node", f"{peer.ref}: spec.node is this node"))
        elif peer.node_selector is not None and peer.node_selector.matches(me.labels):
            emit(
                _forward(
                    cluster,
                    peer,
                    "node",
                    f"{peer.ref}: nodeSelector {peer.node_selector} matches this node",
                )
            )
    for peer in cluster.peers:
        families = _reverse_receives(cluster, peer, me)
        if not families:
            continue
        if peer.node:
            remotes = [n for n in cluster.nodes.values() if n.name == peer.node]
            which = f"spec.node {peer.node}"
        elif peer.node_selector is not None:
            remotes = _selected(cluster, peer, "node")
            which = f"nodeSelector {peer.node_selector}"
        else:
            remotes = list(cluster.nodes.values())
            which = "every node (no node or nodeSelector)"
        how = (
            f"peerSelector {peer.peer_selector}" if peer.peer_selector else f"peerIP {peer.peer_ip}"
        )
        reason = f"{peer.ref}: reverse peering: this node is the peer ({how}); towards {which}"
        emit(_selector_endpoints(cluster, peer, remotes, families, "node", reason))
    global_entries = {(str(e.ip), e.port): e for e in entries.values() if e.scope == "global"}
    out = []
    for e in entries.values():
        shadow = global_entries.get((str(e.ip), e.port)) if e.scope == "node" else None
        if shadow is None:
            out.append(e)
        else:
            _warn_conflict(shadow, e, notes)  # a global entry beats a node-scoped one
    return out


def _warn_conflict(winner: Entry, loser: Entry, warnings: list[str]) -> None:
    if winner.peer.name == loser.peer.name:
        return
    mine, theirs = winner.settings(), loser.settings()
    differ = sorted(k for k in mine if mine[k] != theirs[k])
    if not differ:
        return
    port = f" port {winner.port}" if winner.port is not None else ""
    why = (
        "a global peering beats a node-scoped one"
        if winner.scope != loser.scope
        else "the first BGPPeer by name wins"
    )
    message = (
        f"BGPPeer/{loser.peer.name}: the peering with {winner.ip}{port} duplicates the one "
        f"from BGPPeer/{winner.peer.name}, which is used ({why}); "
        f"their settings differ ({', '.join(differ)})"
    )
    if message not in warnings:
        warnings.append(message)


def protocol_name(prefix: str, ip: IPAddress, port: int | None) -> str:
    name = f"{prefix}_{str(ip).replace('.', '_').replace(':', '_')}"
    return f"{name}_port_{port}" if port is not None else name


def resolve_password(
    cluster: Cluster,
    env: Environment,
    ref: SecretKeyRef | None,
    owner: str,
    problems: list[Problem],
    warnings: list[str],
) -> tuple[Password | None, str]:
    """The password a Secret holds, or None (with a warning) when the Secret or key is missing.

    Calico renders the session without a password then; the session must not disappear.
    """
    if ref is None:
        return None, ""
    where = f"Secret {env.secrets_namespace}/{ref.name} key {ref.key}"
    secret = cluster.secrets.get((env.secrets_namespace, ref.name))
    if secret is None or ref.key not in secret.data:
        missing = "not found" if secret is None else "has no such key"
        warnings.append(
            f"{owner}: password {where} {missing}; the session is rendered without a password"
        )
        return None, f"{where} ({missing}: no password)"
    value = secret.data[ref.key]
    bad = [c for c in value if c in '"\\' or ord(c) < 0x20 or ord(c) == 0x7F]
    if bad or not value or len(value.encode()) > _PASSWORD_MAX:
        # Never show the value; say what is wrong with it.
        why = ("contains a character BIRD cannot quote (a double quote, backslash or control character)"
               if bad else f"must be 1-{_PASSWORD_MAX} bytes")  # fmt: skip
        problems.append(
            Problem(
                "Secret",
                f"{env.secrets_namespace}/{ref.name}",
                secret.field_of(ref.key),
                f"the BGP password {why}",
            )
        )
        return None, where
    return Password(value), where


def plan_sessions(
    cluster: Cluster, env: Environment, me: Node, problems: list[Problem], warnings: list[str]
) -> tuple[list[Session], list[PeerRoute]]:
    my_as = node_as(cluster, me)
    sessions: list[Session] = []
    routes: list[PeerRoute] = []
    entries = peering_entries(cluster, me, warnings)
    _warn_local_workload_peers(cluster, me, warnings)
    for entry in sorted(entries, key=lambda e: e.scope != "global"):  # global routes first (§8)
        fam = Family(entry.ip.version)
        own = me.address(fam)
        peer = entry.peer
        if own is None:
            _warn_once(
                warnings,
                f"BGPPeer/{peer.name}: no session with {entry.ip}: this node has no "
                f"IPv{fam.value} address, so IPv{fam.value} BGP is disabled",
            )
            continue
        if entry.ip == own:
            continue  # the peer is this node itself: silently skipped, as Calico does
        if entry.as_number == 0:
            # spec.asNumber is optional; matching Calico nodes took AS 0 as the global AS,
            # but the session itself would be `as 0`, which BIRD refuses (Calico writes it).
            _warn_once(
                warnings,
                f"BGPPeer/{peer.name}: spec.asNumber: not set (or 0); no session with "
                f"{entry.ip}: BIRD cannot peer with AS 0",
            )
            continue
        for message in unknown_filter_warnings(cluster, peer):
            _warn_once(warnings, message)
        local_as = peer.local_as_number if entry.peer_ip_mode and peer.local_as_number else None
        effective = local_as or my_as
        ibgp = entry.as_number == effective
        passive = entry.scope == "global" and entry.is_calico_node and str(entry.ip) > str(own)
        password, pw_source = resolve_password(
            cluster, env, peer.password, str(peer.ref), problems, warnings
        )
        rr_client = bool(me.rr_cluster_id) and ibgp and entry.rr_cluster_id != me.rr_cluster_id
        reasons = [entry.reason]
        if passive:
            reasons.append(
                f"passive: {entry.ip} sorts after this node's {own} (Calico's string order)"
            )
        if rr_client:
            reasons.append(
                f"route-reflector client: this node's routeReflectorClusterID is {me.rr_cluster_id}"
            )
        if pw_source:
            reasons.append(f"password from {pw_source}")
        if not peer.source_address_node_ip and cluster.default_config.bind_mode_node_ip:
            # BIRD 2 has no global listen address: strict bind to the node's address (the
            # template's `local <ip>`) makes it the source of every session anyway.
            note = (
                f"spec.sourceAddress: None has no effect under bindMode: NodeIP: "
                f"the session's source is this node's {own} (strict bind)"
            )
            _warn_once(warnings, f"BGPPeer/{peer.name}: {note}")
            reasons.append(note)
        imports = filter_calls(cluster, peer, fam, "import")
        exports = filter_calls(cluster, peer, fam, "export")
        if imports or exports:
            reasons.append(
                f"BGPFilters (spec.filters): import {', '.join(imports) or '-'}; "
                f"export {', '.join(exports) or '-'}"
            )
        if peer.reachable_by is not None and entry.ip.version == peer.reachable_by.version:
            routes.append(
                PeerRoute(
                    ipaddress.ip_network(entry.ip),
                    peer.reachable_by,
                    f"{peer.ref}: reachableBy {peer.reachable_by}",
                )
            )
        sessions.append(
            Session(
                name=protocol_name(
                    "Global" if entry.scope == "global" else "Node", entry.ip, entry.port
                ),
                family=fam,
                peer_ip=entry.ip,
                peer_port=entry.port,
                peer_as=entry.as_number,
                local_as=local_as,
                ibgp=ibgp,
                source_address=own if peer.source_address_node_ip else None,
                passive=passive,
                ttl_security=peer.ttl_security or None,
                password=password,
                password_source=pw_source,
                graceful_restart_time=round_seconds(peer.max_restart_time)
                if peer.max_restart_time is not None
                else None,
                keepalive_time=round_seconds(peer.keepalive_time)
                if peer.keepalive_time is not None
                else None,
                rr_client=rr_client,
                next_hop=_next_hop(peer, ibgp),
                allow_local_as=peer.num_allowed_local_as
                if entry.peer_ip_mode and peer.num_allowed_local_as
                else None,
                import_filters=imports,
                export_filters=exports,
                reasons=tuple(reasons),
                description=f"BGPPeer {peer.name}",
            )
        )
    sessions.extend(_mesh(cluster, env, me, my_as, problems, warnings))
    return sessions, routes


def _warn_once(warnings: list[str], message: str) -> None:
    if message not in warnings:
        warnings.append(message)


def _warn_local_workload_peers(cluster: Cluster, me: Node, warnings: list[str]) -> None:
    """localWorkloadSelector peers need Felix's endpoint-status files; birdgen reads none."""
    for peer in cluster.peers:
        if peer.local_workload_selector is None:
            continue
        applies = (
            peer.is_global
            or peer.node == me.name
            or (peer.node_selector is not None and peer.node_selector.matches(me.labels))
        )
        if applies:
            message = (
                f"BGPPeer/{peer.name}: spec.localWorkloadSelector peers with local workloads, "
                "which needs Felix's endpoint-status files; birdgen does not read them, "
                "so no session is rendered"
            )
            _warn_once(warnings, message)


def _next_hop(peer: BGPPeer, ibgp: bool) -> str | None:
    if peer.next_hop_mode == "Self":
        return "self"
    if peer.next_hop_mode == "Keep":
        return "keep"
    if peer.next_hop_mode is None and peer.keep_original_next_hop and not ibgp:
        return "keep"
    return None


def _mesh(
    cluster: Cluster,
    env: Environment,
    me: Node,
    my_as: int,
    problems: list[Problem],
    warnings: list[str],
) -> list[Session]:
    cfg = cluster.default_config
    if cfg.mesh_enabled is False or me.rr_cluster_id:
        return []  # route reflectors leave the mesh; they are reached through BGPPeers
    password, pw_source = resolve_password(
        cluster,
        env,
        cfg.node_mesh_password,
        "BGPConfiguration default: nodeMeshPassword",
        problems,
        warnings,
    )
    restart = (
        round_seconds(cfg.node_mesh_max_restart_time)
        if cfg.node_mesh_max_restart_time is not None
        else None
    )
    out: list[Session] = []
    for fam in (Family.V4, Family.V6):
        own = me.address(fam)
        if own is None:
            continue
        seen: dict[IPAddress, str] = {}
        for other in cluster.nodes.values():  # by name: the first node with an address wins
            addr = other.address(fam)
            if addr is None or addr == own or other.rr_cluster_id:
                continue
            if addr in seen:
                _warn_once(
                    warnings,
                    f"Node/{other.name}: has the same address {addr} as Node/{seen[addr]}; "
                    f"one mesh session with {addr}, for Node/{seen[addr]}",
                )
                continue
            seen[addr] = other.name
            # A node without its own AS is assumed to share this node's (current Calico).
            peer_as = other.as_number if other.as_number is not None else my_as
            passive = str(addr) > str(own)
            reasons = [
                f"node-to-node mesh (BGPConfiguration default: nodeToNodeMeshEnabled) with {other.ref}"
            ]
            if passive:
                reasons.append(
                    f"passive: {addr} sorts after this node's {own} (Calico's string order)"
                )
            if pw_source:
                reasons.append(f"password from {pw_source} (nodeMeshPassword)")
            out.append(
                Session(
                    name=protocol_name("Mesh", addr, None),
                    family=fam,
                    peer_ip=addr,
                    peer_port=node_listen_port(cluster, other.name),
                    peer_as=peer_as,
                    local_as=None,
                    ibgp=peer_as == my_as,
                    source_address=own,
                    passive=passive,
                    ttl_security=None,
                    password=password,
                    password_source=pw_source,
                    graceful_restart_time=restart,
                    keepalive_time=None,
                    rr_client=False,
                    next_hop=None,
                    allow_local_as=None,
                    reasons=tuple(reasons),
                    description=f"Mesh with node {other.name}",
                )
            )
    return out
