"""model: every line an operator reads when a BGPFilter rule is refused, whole and complete.

`test_bgpfilter.test_invalid` checks which field each refusal names; this checks the words,
and that nothing else is said: the list of lines is compared whole. Written by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from birdgen.errors import InvalidInput
from birdgen.model.parse import parse_cluster


def refusal(spec: Any, **top: Any) -> list[str]:
    obj = {"apiVersion": "projectcalico.org/v3", "kind": "BGPFilter",
           "metadata": {"name": "f"}, "spec": spec, **top}  # fmt: skip
    with pytest.raises(InvalidInput) as info:
        parse_cluster([obj])
    return [str(p) for p in info.value.problems]


R = "BGPFilter/f: spec.importV4[0]"
IN = {"action": "Accept", "matchOperator": "In", "cidr": "10.0.0.0/16"}

LINES: list[tuple[dict[str, Any], list[str]]] = [
    ({"matchOperator": "In", "cidr": "10.0.0.0/8"},
     [f"{R}.action: is required (Accept or Reject)"]),
    ({"action": "Allow"}, [f'{R}.action: "Allow" is not one of Accept, Reject']),
    ({"action": "Accept", "cidr": "10.0.0.0/8"},
     [f"{R}.matchOperator: is required with cidr (Equal, NotEqual, In or NotIn)"]),
    ({"action": "Accept", "matchOperator": "In"}, [f"{R}.cidr: is required with matchOperator"]),
    ({**IN, "matchOperator": "Like"},
     [f'{R}.matchOperator: "Like" is not one of Equal, NotEqual, In, NotIn']),
    ({**IN, "cidr": "fd00::/8"}, [f'{R}.cidr: "fd00::/8" is not an IPv4 CIDR']),
    ({**IN, "cidr": "10.0.0.1/8"},
     [f'{R}.cidr: "10.0.0.1/8" has host bits set (did you mean "10.0.0.0/8"?)']),
    ({**IN, "prefixLength": {"max": 33}}, [f"{R}.prefixLength.max: 33 is out of range (0-32)"]),
    ({**IN, "prefixLength": {"min": -1}}, [f"{R}.prefixLength.min: -1 is out of range (0-32)"]),
    ({**IN, "prefixLength": {"low": 8}}, [f"{R}.prefixLength.low: unknown field"]),
    # min never goes below the CIDR's own length, so 8-12 within a /16 matches nothing
    ({**IN, "prefixLength": {"min": 8, "max": 12}},
     [f"{R}.prefixLength: matches nothing: min 16 > max 12 for 10.0.0.0/16"]),
    ({**IN, "prefixLength": {"max": 8}},
     [f"{R}.prefixLength: matches nothing: min 16 > max 8 for 10.0.0.0/16"]),
    ({"action": "Accept", "prefixLength": {"max": 24}}, [f"{R}.prefixLength: requires cidr"]),
    ({"action": "Accept", "source": "LocalPeers"},
     [f'{R}.source: "LocalPeers" is not one of RemotePeers']),
    ({"action": "Accept", "interface": "a" * 16},
     [f'{R}.interface: "{"a" * 16}" is not an interface name or glob (up to 15 of [a-zA-Z0-9_.*-])']),
    ({"action": "Accept", "peerType": "both"}, [f'{R}.peerType: "both" is not one of iBGP, eBGP']),
    ({"action": "Accept", "communities": {"values": ["1:2", "3:4"]}},
     [f"{R}.communities.values: must hold exactly one community value"]),
    ({"action": "Accept", "communities": {"values": []}},
     [f"{R}.communities.values: must hold exactly one community value"]),
    ({"action": "Accept", "communities": {}},
     [f"{R}.communities.values: must hold exactly one community value"]),
    ({"action": "Accept", "communities": {"values": "1:2"}},
     [f'{R}.communities.values: expected a list, got "1:2"']),
    ({"action": "Accept", "communities": {"values": ["1:2"], "all": True}},
     [f"{R}.communities.all: unknown field"]),
    ({"action": "Accept", "priority": 2147483647},
     [f"{R}.priority: 2147483647 is out of range (1-2147483646)"]),
    ({"action": "Accept", "asPathPrefix": ["x"]},
     [f'{R}.asPathPrefix[0]: "x" is not an AS number (a uint32 or a.b)']),
    ({"action": "Reject", "operations": [{"setPriority": {"value": 5}}]},
     [f"{R}.operations: are only allowed on rules whose action is Accept"]),
    # each problem of one rule is said, in the order of its fields
    ({**IN, "action": "Reject", "cidr": "fd00::/8", "operations": [{"addCommunity": {"value": "1:1"}}]},
     [f'{R}.cidr: "fd00::/8" is not an IPv4 CIDR',
      f"{R}.operations: are only allowed on rules whose action is Accept"]),
    ({"action": "Accept", "operations": [{"setPriority": {"value": 0}}]},
     [f"{R}.operations[0].setPriority.value: 0 is out of range (1-2147483646)"]),
    ({"action": "Accept", "operations": [{"prependASPath": {"prefix": ["x"]}}]},
     [f'{R}.operations[0].prependASPath.prefix[0]: "x" is not an AS number (a uint32 or a.b)']),
    ({"action": "Accept", "typo": 1}, [f"{R}.typo: unknown field"]),
    ("x", [f'{R}: expected an object, got "x"', f"{R}.action: is required (Accept or Reject)"]),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "lines"), LINES, ids=range(len(LINES)))
def test_a_refused_rule_is_said_in_these_lines(rule: Any, lines: list[str]) -> None:
    assert refusal({"importV4": [rule]}) == lines


def test_the_family_is_the_lists_own() -> None:
    assert refusal({"exportV6": [{**IN, "cidr": "10.0.0.0/8"}]}) == [
        'BGPFilter/f: spec.exportV6[0].cidr: "10.0.0.0/8" is not an IPv6 CIDR'
    ]


def test_the_spec_and_the_object_name_their_unknown_fields() -> None:
    assert refusal({"exportV5": []}) == ["BGPFilter/f: spec.exportV5: unknown field"]
    assert refusal({"exportV4": "x"}) == ['BGPFilter/f: spec.exportV4: expected a list, got "x"']
    assert refusal("x") == ['BGPFilter/f: spec: expected an object, got "x"']
    assert refusal({}, status={}, extra=1) == ["BGPFilter/f: extra: unknown field"]


def test_an_empty_cidr_is_no_cidr_as_calicos_omitempty() -> None:
    obj = {"apiVersion": "projectcalico.org/v3", "kind": "BGPFilter", "metadata": {"name": "f"},
           "spec": {"exportV4": [{"action": "Reject", "cidr": ""}]}}  # fmt: skip
    (rule,) = parse_cluster([obj]).filters["f"].export_v4
    assert (rule.action, rule.cidr, rule.operator) == ("reject", None, "")


def test_a_prefix_length_range_of_one_length_is_accepted() -> None:
    obj = {"apiVersion": "projectcalico.org/v3", "kind": "BGPFilter", "metadata": {"name": "f"},
           "spec": {"exportV4": [{**IN, "prefixLength": {"min": 24, "max": 24}}]}}  # fmt: skip
    (rule,) = parse_cluster([obj]).filters["f"].export_v4
    assert rule.prefix_length == (24, 24)


def test_a_bad_cidr_with_a_prefix_length_is_said_once() -> None:
    """The prefix length does not also 'require cidr': a cidr was written, and refused."""
    assert refusal({"importV4": [{**IN, "cidr": "x", "prefixLength": {"max": 24}}]}) == [
        f'{R}.cidr: "x" is not a CIDR such as "10.96.0.0/12"'
    ]
