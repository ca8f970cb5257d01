"""verify: the plan against what the live daemon holds and exports (pure: records in, drift out).

What the plan promises, and is checked here:

* `svc4` / `svc6` hold exactly the family's planned routes;
* every BGP session of the plan exists in BIRD, is not disabled, and, while Established, is
  exported exactly the family's planned routes. Routes BIRD learned over BGP inside the
  configured ranges may be passed on as well (other nodes' routes, to eBGP peers and route
  reflector clients), so those are not "unexpected". A session whose BGPPeer lists BGPFilters
  is only counted: its filters decide what it gets, and birdgen does not evaluate them;
* the node's kernel holds no route from BIRD inside a service range or the export ranges.

A session that is merely not Established (the peer is not there) is not drift: BIRD runs the
plan, the network does not. It is shown, and counted in `birdgen_bgp_sessions{state}`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from birdgen.plan import NodePlan
from birdgen.plan.types import FamilyPlan, Route
from birdgen.reload.show import BirdStatus, Protocol, RouteSet
from birdgen.render.symbols import symbol

Kind = Literal["missing", "unexpected"]
KERNEL = "kernel"


@dataclass(frozen=True)
class Observed:
    """One reading of the live node (birdgen.verify.observe makes it)."""

    status: BirdStatus
    protocols: dict[str, Protocol]
    tables: dict[str, RouteSet]  # "svc4" / "svc6" -> what the static protocol holds
    exports: dict[str, RouteSet]  # BGP protocol name -> what BIRD exports to it (Established)
    kernel: tuple[str, ...] | None = None  # BIRD's routes in the node's kernel; None: not read


@dataclass(frozen=True, order=True)
class Finding:
    where: str  # a session's protocol name, "svc4"/"svc6", or "kernel"
    kind: Kind
    prefix: str
    reason: str  # the plan's reason for the prefix, or why it should not be there


@dataclass(frozen=True)
class SessionView:
    name: str
    peer: str
    state: str  # the BGP state ("Established", "Active", ...) or the protocol state ("down")
    since: str
    exported: int
    planned: int | None  # None: BGPFilters decide (not compared), or not in the plan
    problem: str = ""  # drift of the session itself, e.g. "disabled", "not in the plan"


@dataclass(frozen=True)
class Drift:
    planned: tuple[str, ...]  # every prefix the plan originates, both families
    findings: tuple[Finding, ...]
    sessions: tuple[SessionView, ...]
    compared: tuple[str, ...] = ()  # every place compared in full: tables, sessions, "kernel"

    @property
    def missing(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.kind == "missing")

    @property
    def unexpected(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.kind == "unexpected")

    @property
    def session_problems(self) -> tuple[SessionView, ...]:
        return tuple(s for s in self.sessions if s.problem)

    @property
    def clean(self) -> bool:
        return not self.findings and not self.session_problems

    def counts(self) -> dict[tuple[str, str], int]:
        """(where, kind) -> number of prefixes; every place compared appears, at 0 if clean."""
        out: dict[tuple[str, str], int] = {}
        for where in self.compared:
            out[(where, "missing")] = out[(where, "unexpected")] = 0
        for f in self.findings:
            out[(f.where, f.kind)] = out.get((f.where, f.kind), 0) + 1
        return out


@dataclass(frozen=True)
class PlannedSession:
    name: str  # the protocol name in bird.conf
    family: FamilyPlan
    filtered: bool  # BGPFilters on export: not compared
    peer: str


def planned_sessions(plan: NodePlan) -> dict[str, PlannedSession]:
    out: dict[str, PlannedSession] = {}
    for fam in plan.families:
        if not fam.enabled:
            continue
        for s in fam.sessions:
            name = symbol(s.name)
            out[name] = PlannedSession(name, fam, bool(s.export_filters), str(s.peer_ip))
    return out


def table_name(fam: FamilyPlan) -> str:
    return f"svc{fam.family.value}"


def _reason(route: Route) -> str:
    return "; ".join(route.reasons)


def _withheld(plan: NodePlan) -> dict[str, str]:
    return {r.text: "plan: " + _reason(r) for fam in plan.families for r in fam.withheld}


def _inside(prefix: str, ranges: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        net = ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return False
    return any(net.version == r.version and net.subnet_of(r) for r in ranges)  # type: ignore[arg-type]


def compare(plan: NodePlan, observed: Observed) -> Drift:
    # Why an unexpected route is not planned, asked only when there is one: a node of a big
    # cluster withholds tens of thousands of addresses, and the sidecar compares after every
    # apply, so indexing them each time would cost more than the whole step that applied.
    withheld: dict[str, str] = {}

    def why_not(text: str) -> str:
        if not withheld:
            withheld.update(_withheld(plan))
        return withheld.get(text, "not in the plan")

    findings: list[Finding] = []
    compared: list[str] = []

    def diff(where: str, fam: FamilyPlan, got: RouteSet, passed_on: set[str]) -> None:
        compared.append(where)
        planned = {r.text: r for r in fam.routes}
        for text in sorted(planned.keys() - got.sources.keys()):
            findings.append(Finding(where, "missing", text, _reason(planned[text])))
        for text in sorted(got.sources.keys() - planned.keys()):
            if got.sources[text] <= passed_on and _inside(text, fam.export_ranges):
                continue  # another node's route inside the ranges, passed on as planned
            findings.append(Finding(where, "unexpected", text, why_not(text)))

    for fam in plan.families:
        name = table_name(fam)
        if fam.routes or name in observed.tables:
            diff(name, fam, observed.tables.get(name, RouteSet()), set())

    bgp = {n for n, p in observed.protocols.items() if p.is_bgp}
    planned = planned_sessions(plan)
    views: list[SessionView] = []
    for name, ps in planned.items():
        proto = observed.protocols.get(name)
        count = None if ps.filtered else len(ps.family.routes)
        if proto is None:
            views.append(SessionView(name, ps.peer, "absent", "", 0, count, "not in BIRD's config"))
            continue
        problem = "disabled" if proto.state == "down" else ""
        views.append(
            SessionView(
                name, proto.neighbor or ps.peer, _state(proto), proto.since, proto.exported,
                count, problem,
            )
        )  # fmt: skip
        if ps.filtered:
            continue
        if proto.established:
            diff(name, ps.family, observed.exports.get(name, RouteSet()), bgp)
        elif problem:
            diff(name, ps.family, RouteSet(), bgp)
    for name in sorted(bgp - planned.keys()):
        proto = observed.protocols[name]
        views.append(
            SessionView(
                name, proto.neighbor, _state(proto), proto.since, proto.exported, None,
                "not in the plan",
            )
        )  # fmt: skip

    if observed.kernel is not None:
        compared.append(KERNEL)
        ranges = tuple(r for fam in plan.families for r in (*fam.kernel_reject, *fam.export_ranges))
        own = {r.text for fam in plan.families for r in fam.routes}
        for text in sorted(set(observed.kernel)):
            if text in own or _inside(text, ranges):
                findings.append(
                    Finding(KERNEL, "unexpected", text, "service routes never go into the node's kernel")
                )  # fmt: skip

    return Drift(
        planned=tuple(r.text for fam in plan.families for r in fam.routes),
        findings=tuple(findings),
        sessions=tuple(views),
        compared=tuple(compared),
    )


def _state(proto: Protocol) -> str:
    if proto.state == "down":
        return "down"
    return proto.bgp_state or proto.info.split(" ")[0] or proto.state
