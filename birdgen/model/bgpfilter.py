"""model: BGPFilter resources (spec §10) as frozen records, validated as Calico's API does.

A BGPFilter holds four ordered rule lists (importV4, exportV4, importV6, exportV6). Each rule is
kept as data here; `birdgen.plan.filters` decides which functions a node gets and which peer
calls them, and `birdgen.render.bgpfilter` writes them as BIRD functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from birdgen.errors import Problem
from birdgen.model.calico import parse_community
from birdgen.model.fields import Fields
from birdgen.model.resources import Community, Ref
from birdgen.model.values import Family, IPNetwork, parse_asn, parse_cidr, parse_int, show

Direction = Literal["import", "export"]
DIRECTIONS: tuple[Direction, ...] = ("import", "export")
# matchOperator -> BIRD operator (Calico's operatorLUT).
OPERATORS = {"Equal": "=", "NotEqual": "!=", "In": "~", "NotIn": "!~"}
MAX_PRIORITY = 2147483646
_TOP_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
_SPEC_FIELDS = frozenset({"importV4", "exportV4", "importV6", "exportV6"})
_RULE_FIELDS = frozenset(
    {
        "action", "matchOperator", "cidr", "prefixLength", "source", "interface",
        "communities", "asPathPrefix", "priority", "peerType", "operations",
    }
)  # fmt: skip
# Calico's interface-glob pattern; the value ends up inside a BIRD string, so it must be quotable.
_INTERFACE = re.compile(r"[a-zA-Z0-9_.*-]{1,15}")


@dataclass(frozen=True)
class AddCommunity:
    community: Community


@dataclass(frozen=True)
class PrependASPath:
    prefix: tuple[int, ...]  # in the order written: the first AS ends up first in the path


@dataclass(frozen=True)
class SetPriority:
    value: int


Operation = AddCommunity | PrependASPath | SetPriority


@dataclass(frozen=True)
class FilterRule:
    """One rule: every condition that is set must hold; then the operations, then the action."""

    action: Literal["accept", "reject"]
    cidr: IPNetwork | None = None
    operator: str = ""  # BIRD operator: "=", "!=", "~", "!~" (set whenever cidr is)
    prefix_length: tuple[int, int] | None = None  # (min, max), defaults already applied
    remote_peers: bool = False  # source: RemotePeers
    interface: str = ""
    community: Community | None = None
    as_path_prefix: tuple[int, ...] = ()
    priority: int | None = None
    peer_type: Literal["iBGP", "eBGP"] | None = None
    operations: tuple[Operation, ...] = ()


@dataclass(frozen=True)
class BGPFilter:
    name: str
    import_v4: tuple[FilterRule, ...] = ()
    export_v4: tuple[FilterRule, ...] = ()
    import_v6: tuple[FilterRule, ...] = ()
    export_v6: tuple[FilterRule, ...] = ()

    @property
    def ref(self) -> Ref:
        return Ref("BGPFilter", self.name)

    def rules(self, direction: Direction, family: Family) -> tuple[FilterRule, ...]:
        if family is Family.V4:
            return self.import_v4 if direction == "import" else self.export_v4
        return self.import_v6 if direction == "import" else self.export_v6


def parse_bgp_filter(obj: dict[str, Any], name: str, problems: list[Problem]) -> BGPFilter:
    top = Fields("BGPFilter", name, obj, "", problems)
    top.only(_TOP_FIELDS)
    spec = top.sub("spec")
    spec.only(_SPEC_FIELDS)
    return BGPFilter(
        name=name,
        import_v4=tuple(_rule(item, Family.V4) for item in spec.items("importV4")),
        export_v4=tuple(_rule(item, Family.V4) for item in spec.items("exportV4")),
        import_v6=tuple(_rule(item, Family.V6) for item in spec.items("importV6")),
        export_v6=tuple(_rule(item, Family.V6) for item in spec.items("exportV6")),
    )


def _rule(rule: Fields, family: Family) -> FilterRule:
    rule.only(_RULE_FIELDS)
    action = rule.one_of("action", ("Accept", "Reject"), "Accept")
    if not rule.has("action"):
        rule.fail("action", "is required (Accept or Reject)")
    cidr = rule.get("cidr", _family_cidr(family), None) if rule.raw("cidr") else None
    operator = ""
    if rule.raw("matchOperator"):
        operator = OPERATORS[rule.one_of("matchOperator", tuple(OPERATORS), "In")]
    if rule.raw("cidr") and not rule.raw("matchOperator"):
        rule.fail("matchOperator", "is required with cidr (Equal, NotEqual, In or NotIn)")
    if rule.raw("matchOperator") and not rule.raw("cidr"):
        rule.fail("cidr", "is required with matchOperator")
    prefix_length = _prefix_length(rule, family, cidr)
    if rule.has("source"):
        rule.one_of("source", ("RemotePeers",), "RemotePeers")
    interface = rule.get("interface", _interface, "")
    peer_type: Literal["iBGP", "eBGP"] | None = None
    if rule.has("peerType"):
        peer_type = (
            "iBGP" if rule.one_of("peerType", ("iBGP", "eBGP"), "iBGP") == "iBGP" else "eBGP"
        )
    community = None
    if rule.has("communities"):
        match = rule.sub("communities")
        match.only({"values"})
        values = match.values("values", parse_community)
        raw = match.raw("values")
        # (a value that is no list at all was reported by `values`)
        if raw is None or (isinstance(raw, list) and len(raw) != 1):
            match.fail("values", "must hold exactly one community value")
        community = values[0] if values else None
    operations = tuple(_operation(op) for op in rule.items("operations"))
    if operations and action != "Accept":
        rule.fail("operations", "are only allowed on rules whose action is Accept")
    return FilterRule(
        action="accept" if action == "Accept" else "reject",
        cidr=cidr,
        operator=operator if cidr is not None else "",
        prefix_length=prefix_length,
        remote_peers=rule.has("source"),
        interface=interface,
        community=community,
        as_path_prefix=tuple(rule.values("asPathPrefix", parse_asn)),
        priority=rule.get("priority", _priority, None),
        peer_type=peer_type,
        operations=tuple(op for op in operations if op is not None),
    )


def _family_cidr(family: Family) -> Any:
    def parse(value: Any) -> IPNetwork:
        net = parse_cidr(value)
        if net.version != family.value:
            raise ValueError(f"{show(value)} is not an IPv{family.value} CIDR")
        return net

    return parse


def _prefix_length(rule: Fields, family: Family, cidr: IPNetwork | None) -> tuple[int, int] | None:
    if not rule.has("prefixLength"):
        return None
    sub = rule.sub("prefixLength")
    sub.only({"min", "max"})
    full = family.full_length
    low = sub.get("min", lambda v: parse_int(v, 0, full), None)
    high = sub.get("max", lambda v: parse_int(v, 0, full), None)
    if cidr is None:
        if not rule.raw("cidr"):
            rule.fail("prefixLength", "requires cidr")
        return None
    # Calico: min defaults to the CIDR's length and never goes below it; max defaults to 32/128.
    low = max(cidr.prefixlen, low) if low is not None else cidr.prefixlen
    high = min(full, high) if high is not None else full
    if low > high:
        rule.fail("prefixLength", f"matches nothing: min {low} > max {high} for {cidr}")
    return (low, high)


def _interface(value: Any) -> str:
    if not isinstance(value, str) or not _INTERFACE.fullmatch(value):
        raise ValueError(
            f"{show(value)} is not an interface name or glob (up to 15 of [a-zA-Z0-9_.*-])"
        )
    return value


def _priority(value: Any) -> int:
    return parse_int(value, 1, MAX_PRIORITY)


def _operation(op: Fields) -> Operation | None:
    op.only({"addCommunity", "prependASPath", "setPriority"})
    present = [k for k in ("addCommunity", "prependASPath", "setPriority") if op.has(k)]
    if len(present) != 1:
        op.fail("", "must set exactly one of addCommunity, prependASPath, setPriority")
        return None
    sub = op.sub(present[0])
    if present[0] == "addCommunity":
        sub.only({"value"})
        community = sub.get("value", parse_community, None)
        if not sub.has("value"):
            sub.fail("value", "is required")
        return AddCommunity(community) if community is not None else None
    if present[0] == "prependASPath":
        sub.only({"prefix"})
        prefix = tuple(sub.values("prefix", parse_asn))
        if not sub.raw("prefix"):
            sub.fail("prefix", "must list at least one AS number")
        return PrependASPath(prefix) if prefix else None
    sub.only({"value"})
    value = sub.get("value", _priority, None)
    if not sub.has("value"):
        sub.fail("value", "is required")
    return SetPriority(value) if value is not None else None
