"""render: BGPFilter functions and the calls to them, as BIRD 2 text (spec §10).

The statements follow Calico's generator rule by rule, so a config diff against Calico's is
readable: conditions joined with `&&`, then the operations, then `accept;`/`reject;`; rules with
a peerType are wrapped in `if (is_same_as)` / `if (!is_same_as)`, and such a function takes the
boolean. A rule's priority N is Calico's local preference 2147483647 - N, matched and set on
import and export alike, so a route received through a priority rule wins or loses best-path
selection exactly as on a Calico node.
"""

from __future__ import annotations

from birdgen.model.bgpfilter import AddCommunity, FilterRule, Operation, PrependASPath, SetPriority
from birdgen.model.resources import Community
from birdgen.plan.types import FilterFunction
from birdgen.render.symbols import bgp_filter_symbol, bird_string

SAME_AS = "is_same_as"
BIRD_INT_MAX = 2147483647  # Calico's template.BirdIntMaxValue


def function_symbol(fn: FilterFunction) -> str:
    return bgp_filter_symbol(fn.filter_name, fn.direction, fn.family.value)


def function_lines(fn: FilterFunction) -> list[str]:
    """`function 'bgp_x_importFilterV4'() { ... }`, one string per line, unindented."""
    param = f"bool {SAME_AS}" if fn.takes_same_as else ""
    lines = [f"function {function_symbol(fn)}({param})", "{"]
    lines += [f"  {_statement(rule)}" for rule in fn.rules]
    return [*lines, "}"]


def call(fn: FilterFunction, ibgp: bool) -> str:
    """The statement a session's filter uses to run `fn`; sameAS is the session's iBGP-ness."""
    arg = ("true" if ibgp else "false") if fn.takes_same_as else ""
    return f"{function_symbol(fn)}({arg});"


def _statement(rule: FilterRule) -> str:
    conditions = _conditions(rule)
    body = " ".join([*(s for op in rule.operations for s in _operation(op)), f"{rule.action};"])
    text = f"if ({'&&'.join(conditions)}) then {{ {body} }}" if conditions else body
    if rule.peer_type == "iBGP":
        return f"if ({SAME_AS}) then {{ {text} }}"
    if rule.peer_type == "eBGP":
        return f"if (!{SAME_AS}) then {{ {text} }}"
    return text


def _conditions(rule: FilterRule) -> list[str]:
    out = []
    if rule.cidr is not None:
        target = str(rule.cidr)
        if rule.prefix_length is not None:
            low, high = rule.prefix_length
            target = f"[ {rule.cidr}{{{low},{high}}} ]"
        out.append(f"(net {rule.operator} {target})")
    if rule.remote_peers:
        out.append("((defined(source))&&(source ~ [ RTS_BGP ]))")
    if rule.interface:
        out.append(f"((defined(ifname))&&(ifname ~ {bird_string(rule.interface)}))")
    if rule.community is not None:
        attr = "bgp_large_community" if rule.community.large else "bgp_community"
        out.append(f"({_tuple(rule.community)} ~ {attr})")
    if rule.as_path_prefix:
        out.append(f"(bgp_path ~ [= {' '.join(str(a) for a in rule.as_path_prefix)} * =])")
    if rule.priority is not None:
        out.append(f"(defined(bgp_local_pref)&&(bgp_local_pref = {local_pref(rule.priority)}))")
    return out


def _operation(op: Operation) -> list[str]:
    if isinstance(op, AddCommunity):
        attr = "bgp_large_community" if op.community.large else "bgp_community"
        return [f"{attr}.add({_tuple(op.community)});"]
    if isinstance(op, PrependASPath):
        # BIRD prepends one AS at a time: the last prepended ends up first, so go backwards.
        return [f"bgp_path.prepend({asn});" for asn in reversed(op.prefix)]
    assert isinstance(op, SetPriority)
    return [f"bgp_local_pref = {local_pref(op.value)};"]


def local_pref(priority: int) -> int:
    """Calico's conversion between a route priority (lower wins) and BGP local preference."""
    return BIRD_INT_MAX - priority


def _tuple(c: Community) -> str:
    return "(" + ", ".join(str(p) for p in c.parts) + ")"
