"""explain: print a plan's provenance — every prefix and session, with what caused it.

Reads only the reasons the planner stored in the plan; it recomputes nothing. Passwords appear
only as the Secret they come from.
"""

from __future__ import annotations

import ipaddress

from birdgen.model.values import IPNetwork
from birdgen.plan.types import NodePlan, Route, Session


def explain(plan: NodePlan, prefix: str | None = None) -> str:
    query = _query(prefix) if prefix else None
    lines = [
        f"Node {plan.node_name}",
        f"  router id {plan.router_id}  ({plan.router_id_reason})",
        f"  AS {plan.local_as}  ({plan.local_as_reason})",
    ]
    if plan.rr_cluster_id:
        lines.append(f"  route reflector, cluster id {plan.rr_cluster_id}")
    routes = [r for f in plan.families for r in f.routes if _match(r, query)]
    withheld = [r for f in plan.families for r in f.withheld if _match(r, query)]
    lines += ["", "Advertised prefixes:"]
    lines += _route_lines(routes) or [_none_line(plan, query, matched=bool(withheld))]
    if withheld:
        lines += ["", "Service addresses not advertised from this node:"]
        lines += _route_lines(withheld)
    if query is None:
        rejects = [str(n) for f in plan.families for n in f.kernel_reject]
        lines += [
            "",
            "Kept out of this node's kernel: this node's service routes"
            + (f", and routes inside {', '.join(rejects)}" if rejects else ""),
        ]
        lines += ["", "BGP sessions:"]
        sessions = [s for f in plan.families for s in f.sessions]
        lines += [line for s in sessions for line in _session_lines(s)] or ["  (none)"]
        for f in plan.families:
            if not f.enabled:
                lines.append(
                    f"  IPv{f.family.value}: disabled (this node has no IPv{f.family.value} address)"
                )
        peer_routes = [r for f in plan.families for r in f.peer_routes]
        if peer_routes:
            lines += ["", "Routes to peers:"]
            lines += [f"  {r.prefix} via {r.gateway}  {r.reason}" for r in peer_routes]
    if plan.warnings:
        lines += ["", "Warnings:"] + [f"  {w}" for w in plan.warnings]
    return "\n".join(lines) + "\n"


def _none_line(plan: NodePlan, query: IPNetwork | None, *, matched: bool) -> str:
    """ "(none)", saying why when the asked-for prefix lies outside every configured range."""
    if query is None or matched:
        return "  (none)"
    ranges = [n for f in plan.families for n in f.kernel_reject]
    if any(n.version == query.version and n.overlaps(query) for n in ranges):
        return "  (none)"
    configured = ", ".join(map(str, ranges)) if ranges else "none is configured"
    return f"  (none: {query} is outside every configured service range; ranges: {configured})"


def _query(prefix: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        raise ValueError(f"{prefix!r} is not an IP address or prefix") from None


def _match(route: Route, query: IPNetwork | None) -> bool:
    if query is None:
        return True
    net = route.prefix
    return net.version == query.version and net.overlaps(query)


def _route_lines(routes: list[Route]) -> list[str]:
    width = max((len(r.text) for r in routes), default=0) + 2
    out = []
    for r in routes:
        first, *rest = r.reasons
        out.append(f"  {r.text:<{width}}{first}")
        out += [f"  {'':<{width}}{reason}" for reason in rest]
    return out


def _session_lines(s: Session) -> list[str]:
    port = f" port {s.peer_port}" if s.peer_port else ""
    kind = "iBGP" if s.ibgp else "eBGP"
    head = f"  {s.name}  {s.peer_ip}{port} AS {s.peer_as} ({kind})"
    options = []
    if s.local_as is not None:
        options.append(f"local AS {s.local_as}")
    if s.passive:
        options.append("passive")
    if s.ttl_security is not None:
        options.append(f"TTL security, {s.ttl_security} hops")
    if s.password is not None:
        options.append("password")
    if s.rr_client:
        options.append("route-reflector client")
    if s.next_hop:
        options.append(f"next hop {s.next_hop}")
    if s.graceful_restart_time is not None:
        options.append(f"restart time {s.graceful_restart_time}s")
    if s.keepalive_time is not None:
        options.append(f"keepalive {s.keepalive_time}s")
    if options:
        head += "  [" + ", ".join(options) + "]"
    return [head] + [f"      {reason}" for reason in s.reasons]
