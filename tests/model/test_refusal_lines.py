"""model: the exact line an operator reads for each refusal of a BGPFilter operation, a
community, a BGPPeer password reference and a prefix advertisement: `Kind/name: field: what`.

Other tests check that these inputs are refused; these check what the refusal says, field path
and words, since the line is all the operator gets. Written by hand.
"""

from __future__ import annotations

from typing import Any

import pytest
from manifests import bgp_configuration, bgp_peer

from birdgen.errors import InvalidInput
from birdgen.model.parse import parse_cluster


def problems(obj: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        parse_cluster([obj])
    return [str(p) for p in info.value.problems]


def bgp_filter(operations: list[Any]) -> dict[str, Any]:
    rule = {"action": "Accept", "cidr": "10.0.0.0/8", "matchOperator": "In",
            "operations": operations}  # fmt: skip
    return {"apiVersion": "projectcalico.org/v3", "kind": "BGPFilter",
            "metadata": {"name": "f"}, "spec": {"exportV4": [rule]}}  # fmt: skip


OP = "BGPFilter/f: spec.exportV4[0].operations[0]"


@pytest.mark.parametrize(
    ("operation", "lines"),
    [
        ({}, [f"{OP}: must set exactly one of addCommunity, prependASPath, setPriority"]),
        (
            {"addCommunity": {"value": "1:1"}, "setPriority": {"value": 10}},
            [f"{OP}: must set exactly one of addCommunity, prependASPath, setPriority"],
        ),
        ({"addCommunity": {}}, [f"{OP}.addCommunity.value: is required"]),
        ({"setPriority": {}}, [f"{OP}.setPriority.value: is required"]),
        ({"prependASPath": {}}, [f"{OP}.prependASPath.prefix: must list at least one AS number"]),
        ({"prependASPath": {"prefix": []}},
         [f"{OP}.prependASPath.prefix: must list at least one AS number"]),
        ({"addCommunity": {"value": "65536:1"}},
         [f'{OP}.addCommunity.value: "65536:1": each part of this community must fit in 16 bits']),
        ({"addCommunity": {"value": "1:2:4294967296"}},
         [f'{OP}.addCommunity.value: "1:2:4294967296": each part of this community must fit in 32 bits']),
        ({"addCommunity": {"value": "1-1"}},
         [f'{OP}.addCommunity.value: "1-1" is not a community (aa:nn or aa:nn:mm)']),
        ({"addCommunity": {"value": 11}},
         [f"{OP}.addCommunity.value: 11 is not a community (aa:nn or aa:nn:mm)"]),
    ],
)  # fmt: skip
def test_a_bad_filter_operation_is_refused_with_its_line(
    operation: dict[str, Any], lines: list[str]
) -> None:
    assert problems(bgp_filter([operation])) == lines


@pytest.mark.parametrize("value", ["65535:65535", "4294967295:4294967295:4294967295", "0:0"])
def test_communities_at_the_limits_are_accepted(value: str) -> None:
    cluster = parse_cluster([bgp_filter([{"addCommunity": {"value": value}}])])
    assert cluster.filters["f"] is not None


PEER = "BGPPeer/p: spec.password"


@pytest.mark.parametrize(
    ("password", "lines"),
    [
        ({"secretKeyRef": None}, [f"{PEER}.secretKeyRef: is required"]),
        ({"other": 1}, [f"{PEER}.other: unknown field", f"{PEER}.secretKeyRef: is required"]),
        ({"secretKeyRef": {"name": "s", "key": "k", "typo": 1}},
         [f"{PEER}.secretKeyRef.typo: unknown field"]),
        ({"secretKeyRef": {"key": "k"}}, [f"{PEER}.secretKeyRef.name: is required"]),
        ({"secretKeyRef": {"name": "s"}}, [f"{PEER}.secretKeyRef.key: is required"]),
    ],
)  # fmt: skip
def test_a_bad_password_reference_is_refused_with_its_line(
    password: dict[str, Any], lines: list[str]
) -> None:
    peer = bgp_peer("p", peerIP="10.0.0.254", asNumber=65001, password=password)
    assert problems(peer) == lines


def test_an_optional_password_reference_is_accepted() -> None:
    ref = {"name": "s", "key": "k", "optional": True}
    peer = bgp_peer("p", peerIP="10.0.0.254", asNumber=65001, password={"secretKeyRef": ref})
    assert len(parse_cluster([peer]).peers) == 1


ADV = "BGPConfiguration/default: spec.prefixAdvertisements[0]"


@pytest.mark.parametrize(
    ("advertisement", "lines"),
    [
        ({"communities": ["1:1"]}, [f"{ADV}.cidr: is required"]),
        ({"cidr": "10.0.0.0/8", "communities": ["65536:1"]},
         [f'{ADV}.communities[0]: "65536:1": each part of this community must fit in 16 bits']),
        ({"cidr": "10.0.0.0/8", "communities": ["1:1", "nope"]},
         [f'{ADV}.communities[1]: "nope" is neither a community value nor a name defined in spec.communities']),
        ({"cidr": "10.0.0.0/8", "communities": ["1:1"] * 51},
         [f"{ADV}.communities: has 51 entries; at most 50 are allowed"]),
    ],
)  # fmt: skip
def test_a_bad_prefix_advertisement_is_refused_with_its_line(
    advertisement: dict[str, Any], lines: list[str]
) -> None:
    assert problems(bgp_configuration(prefixAdvertisements=[advertisement])) == lines


def test_priorities_start_at_one() -> None:
    cluster = parse_cluster([bgp_filter([{"setPriority": {"value": 1}}])])
    assert cluster.filters["f"] is not None
    assert problems(bgp_filter([{"setPriority": {"value": 0}}])) == [
        f"{OP}.setPriority.value: 0 is out of range (1-2147483646)"
    ]


def test_fifty_communities_on_one_prefix_are_allowed() -> None:
    advertisement = {"cidr": "10.0.0.0/8", "communities": [f"1:{i}" for i in range(50)]}
    cluster = parse_cluster([bgp_configuration(prefixAdvertisements=[advertisement])])
    assert len(cluster.configs["default"].prefix_advertisements[0].communities) == 50
