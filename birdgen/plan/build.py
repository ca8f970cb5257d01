"""plan: compose node identity, service routes and sessions into one `NodePlan` (spec §3, §9).

The one entry point of the pure core: `build_plan(cluster, env)`. Same input, same plan; every
collection is sorted so that the rendered text is byte-identical from run to run.
"""

from __future__ import annotations

import ipaddress
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field

from birdgen.errors import InvalidInput, Problem
from birdgen.model.resources import (
    BGPConfiguration,
    Cluster,
    Environment,
    Node,
    PrefixAdvertisement,
    Service,
)
from birdgen.model.values import Family, IPNetwork, hashed_router_id, network_text
from birdgen.plan.filters import filter_functions
from birdgen.plan.peers import DEFAULT_AS, plan_sessions
from birdgen.plan.services import (
    ServiceKey,
    ServiceRoutes,
    ServiceTable,
    calico_order,
    plan_services,
)
from birdgen.plan.types import FamilyPlan, NodePlan, PeerRoute, Session

# plan_sessions' outcome: sessions, peer routes, and the problems and warnings it added.
_Sessions = tuple[list[Session], list[PeerRoute], list[Problem], list[str]]


@dataclass
class Kept:
    """What the sidecar keeps from one plan to the next (`birdgen.plan.incremental`): the
    service table, and the sessions with what they were planned from (the same objects)."""

    services: ServiceTable = field(default_factory=ServiceTable)
    sessions: tuple[tuple[object, ...], _Sessions] | None = None


def build_plan(
    cluster: Cluster,
    env: Environment,
    kept: Kept | None = None,
    touched: Mapping[ServiceKey, Service | None] | None = None,
    *,
    withheld: bool = True,
) -> NodePlan:
    """`kept` (the sidecar's, kept between steps) and `touched` (the Services changed since
    it last planned) only save work: the plan is the one made without them. Without
    `withheld`, the plan's `withheld` addresses are left empty (what `birdgen render` needs:
    the config has none of them); nothing else changes."""
    me = cluster.nodes.get(env.node_name)
    if me is None:
        raise InvalidInput(
            [
                Problem(
                    "Node",
                    env.node_name,
                    "",
                    "not found: the node being rendered must be among the resources (a Calico Node or a Kubernetes Node)",
                )
            ]
        )
    problems: list[Problem] = []
    warnings: list[str] = list(cluster.warnings)
    default = cluster.default_config
    own_cfg = cluster.configs.get(f"node.{me.name}")

    router_id, router_id_reason = _router_id(me, env, problems)
    if me.as_number is not None:
        local_as, as_reason = me.as_number, f"{me.ref}: asNumber"
    elif default.as_number is not None:
        local_as, as_reason = default.as_number, "BGPConfiguration default: spec.asNumber"
    else:
        local_as, as_reason = (
            DEFAULT_AS,
            "Calico's default AS (no asNumber on the node or in BGPConfiguration default)",
        )

    table = kept.services if kept else ServiceTable(withheld)
    services = plan_services(cluster, env, me, table, touched)
    sessions, peer_routes = _sessions(cluster, env, me, problems, warnings, kept)
    if problems:
        raise InvalidInput(problems)
    adverts = _prefix_advertisements(default, own_cfg)
    listen_port = own_cfg.listen_port if own_cfg and own_cfg.listen_port else default.listen_port

    families = {}
    for fam in (Family.V4, Family.V6):
        routes = services[fam]
        families[fam] = FamilyPlan(
            family=fam,
            address=me.address(fam),
            routes=routes.routes,
            withheld=routes.withheld,
            export_ranges=_calico_sorted(_export_ranges(routes, default, me, fam)),
            kernel_reject=_calico_sorted(routes.kernel_reject),
            peer_routes=tuple(r for r in peer_routes if r.prefix.version == fam.value),
            sessions=tuple(
                sorted((s for s in sessions if s.family is fam), key=lambda s: s.name.encode())
            ),
            communities=tuple(a for a in adverts if a.cidr.version == fam.value),
            # Calico defines them only where BGP runs, whether or not a peer calls them.
            filter_functions=filter_functions(cluster, fam) if me.address(fam) is not None else (),
            normal_priority=default.ipv4_normal_route_priority
            if fam is Family.V4
            else default.ipv6_normal_route_priority,
            strict_bind=default.bind_mode_node_ip and me.address(fam) is not None,
            listen_port=listen_port,
        )
    severity = (
        (own_cfg.log_severity if own_cfg and own_cfg.log_severity else None)
        or default.log_severity
        or "info"
    )
    return NodePlan(
        node_name=me.name,
        router_id=router_id,
        router_id_reason=router_id_reason,
        local_as=local_as,
        local_as_reason=as_reason,
        rr_cluster_id=me.rr_cluster_id,
        debug={"debug": "all", "info": "info"}.get(severity, "off"),
        ignored_interfaces=default.ignored_interfaces,
        v4=families[Family.V4],
        v6=families[Family.V6],
        warnings=tuple(warnings),
    )


def _sessions(
    cluster: Cluster,
    env: Environment,
    me: Node,
    problems: list[Problem],
    warnings: list[str],
    kept: Kept | None,
) -> tuple[list[Session], list[PeerRoute]]:
    """`plan_sessions`, or what it gave last time from the very same objects (and warnings
    before it): it reads no Service, so a Service or endpoint change does not plan it again."""
    inputs = (cluster.configs, cluster.nodes, cluster.peers, cluster.secrets, cluster.filters,
              cluster.ip_pools, env, me)  # fmt: skip
    before = tuple(warnings)
    if kept is not None and kept.sessions is not None:
        (*known, known_before), outcome = kept.sessions
        if known_before == before and all(map(operator.is_, known, inputs)):
            problems += outcome[2]
            warnings += outcome[3]
            return outcome[0], outcome[1]
    added: list[Problem] = []
    sessions, routes = plan_sessions(cluster, env, me, added, warnings)
    if kept is not None:
        kept.sessions = ((*inputs, before), (sessions, routes, added, warnings[len(before) :]))
    problems += added
    return sessions, routes


def _router_id(me: Node, env: Environment, problems: list[Problem]) -> tuple[str, str]:
    if env.router_id == "hash":
        return hashed_router_id(
            me.name
        ), f"CALICO_ROUTER_ID=hash: derived from the node name {me.name!r}"
    if env.router_id:
        try:
            literal = ipaddress.IPv4Address(env.router_id)
        except ValueError:
            problems.append(
                Problem(
                    "environment",
                    "CALICO_ROUTER_ID",
                    "",
                    f'{env.router_id!r} is neither "hash" nor an IPv4 address',
                )
            )
            return "0.0.0.0", ""
        return str(literal), "CALICO_ROUTER_ID"
    if me.ipv4 is not None:
        return str(me.ipv4.ip), f"{me.ref}: IPv4 address"
    problems.append(
        Problem(
            "Node",
            me.name,
            "spec.bgp.ipv4Address",
            'is needed as the router id; give the node an IPv4 address or set CALICO_ROUTER_ID (an IPv4 address, or "hash")',
        )
    )
    return "0.0.0.0", ""


def _prefix_advertisements(
    default: BGPConfiguration, own: BGPConfiguration | None
) -> tuple[PrefixAdvertisement, ...]:
    # The node's list, when the field is present at all (even empty), replaces the default's.
    if own is not None and own.prefix_advertisements is not None:
        return own.prefix_advertisements
    return default.prefix_advertisements or ()


def _export_ranges(
    routes: ServiceRoutes, default: BGPConfiguration, me: Node, fam: Family
) -> list[IPNetwork]:
    out = list(routes.export_ranges)
    if me.rr_cluster_id:
        # A route reflector also passes on its clients' routes inside every LB and external
        # range, single addresses included, whatever the aggregation setting (spec §6.7 #3).
        for net in (*default.service_load_balancer_ips, *default.service_external_ips):
            if net.version == fam.value and net not in out:
                out.append(net)
    return out


def _calico_sorted(nets: list[IPNetwork]) -> tuple[IPNetwork, ...]:
    return tuple(sorted(set(nets), key=lambda net: calico_order(network_text(net))))
