"""BGPFilter (spec §10): parsing and validation, the BIRD text of each rule, symbol names."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from birdgen.errors import InvalidInput
from birdgen.model.bgpfilter import BGPFilter
from birdgen.model.parse import parse_cluster
from birdgen.model.values import Family
from birdgen.plan.types import FilterFunction
from birdgen.render.bgpfilter import call, function_lines
from birdgen.render.symbols import bgp_filter_symbol


def bgp_filter(
    spec: dict[str, Any], name: str = "f", api: str = "projectcalico.org/v3"
) -> dict[str, Any]:
    return {"apiVersion": api, "kind": "BGPFilter", "metadata": {"name": name}, "spec": spec}


def parse(spec: dict[str, Any]) -> BGPFilter:
    return parse_cluster([bgp_filter(spec)]).filters["f"]


@pytest.mark.parametrize("api", ["projectcalico.org/v3", "crd.projectcalico.org/v1"])
def test_both_api_versions(api: str) -> None:
    cluster = parse_cluster([bgp_filter({"importV4": [{"action": "Accept"}]}, api=api)])
    assert cluster.filters["f"].import_v4[0].action == "accept"


RULES = [
    # (family, rule, the BIRD statement Calico's generator writes for it)
    (
        4,
        {"action": "Accept", "matchOperator": "In", "cidr": "77.7.0.0/16"},
        "if ((net ~ 77.7.0.0/16)) then { accept; }",
    ),
    (
        4,
        {"action": "Reject", "matchOperator": "Equal", "cidr": "44.4.0.0/16"},
        "if ((net = 44.4.0.0/16)) then { reject; }",
    ),
    (
        4,
        {
            "action": "Reject",
            "matchOperator": "NotIn",
            "cidr": "55.4.0.0/16",
            "prefixLength": {"min": 16, "max": 24},
            "source": "RemotePeers",
        },
        "if ((net !~ [ 55.4.0.0/16{16,24} ])&&((defined(source))&&(source ~ [ RTS_BGP ]))) then { reject; }",
    ),
    (
        4,
        {
            "action": "Reject",
            "matchOperator": "NotIn",
            "cidr": "88.7.0.0/16",
            "prefixLength": {"max": 24},
        },
        "if ((net !~ [ 88.7.0.0/16{16,24} ])) then { reject; }",
    ),
    (
        6,
        {
            "action": "Accept",
            "matchOperator": "NotEqual",
            "cidr": "7000:1::/64",
            "prefixLength": {"max": 96},
        },
        "if ((net != [ 7000:1::/64{64,96} ])) then { accept; }",
    ),
    (
        6,
        {
            "action": "Accept",
            "matchOperator": "NotIn",
            "cidr": "6000:1::/64",
            "prefixLength": {"min": 96},
        },
        "if ((net !~ [ 6000:1::/64{96,128} ])) then { accept; }",
    ),
    (
        4,
        {"action": "Accept", "interface": "eth*", "source": "RemotePeers"},
        'if (((defined(source))&&(source ~ [ RTS_BGP ]))&&((defined(ifname))&&(ifname ~ "eth*"))) then { accept; }',
    ),
    (4, {"action": "Reject"}, "reject;"),
    (
        4,
        {
            "action": "Accept",
            "communities": {"values": ["65000:100"]},
            "operations": [{"setPriority": {"value": 100}}],
        },
        "if (((65000, 100) ~ bgp_community)) then { bgp_local_pref = 2147483547; accept; }",
    ),
    (
        4,
        {"action": "Reject", "communities": {"values": ["65000:10:20"]}},
        "if (((65000, 10, 20) ~ bgp_large_community)) then { reject; }",
    ),
    (
        4,
        {"action": "Accept", "asPathPrefix": [65000, "1.1"]},
        "if ((bgp_path ~ [= 65000 65537 * =])) then { accept; }",
    ),
    (
        4,
        {
            "action": "Accept",
            "priority": 512,
            "operations": [
                {"addCommunity": {"value": "65001:200"}},
                {"addCommunity": {"value": "65001:10:20"}},
                {"prependASPath": {"prefix": [65000, 65001]}},
            ],
        },
        "if ((defined(bgp_local_pref)&&(bgp_local_pref = 2147483135))) then "
        "{ bgp_community.add((65001, 200)); "
        "bgp_large_community.add((65001, 10, 20)); bgp_path.prepend(65001); bgp_path.prepend(65000); accept; }",
    ),
    (
        4,
        {"action": "Accept", "peerType": "eBGP", "matchOperator": "In", "cidr": "10.0.0.0/8"},
        "if (!is_same_as) then { if ((net ~ 10.0.0.0/8)) then { accept; } }",
    ),
    (4, {"action": "Reject", "peerType": "iBGP"}, "if (is_same_as) then { reject; }"),
]


@pytest.mark.parametrize(("fam", "rule", "text"), RULES, ids=range(len(RULES)))
def test_rule_text(fam: int, rule: dict[str, Any], text: str) -> None:
    family = Family(fam)
    flt = parse({f"exportV{fam}": [rule]})
    fn = FilterFunction("f", "export", family, flt.rules("export", family))
    lines = function_lines(fn)
    assert lines[2] == f"  {text}"
    param = "bool is_same_as" if "peerType" in rule else ""
    assert lines[0] == f"function 'bgp_f_exportFilterV{fam}'({param})"
    assert call(fn, ibgp=True) == (
        f"'bgp_f_exportFilterV{fam}'(true);" if param else f"'bgp_f_exportFilterV{fam}'();"
    )


INVALID = [
    ({"importV4": [{"matchOperator": "In", "cidr": "10.0.0.0/8"}]}, "spec.importV4[0].action"),
    ({"importV4": [{"action": "Allow"}]}, "spec.importV4[0].action"),
    ({"importV4": [{"action": "Accept", "cidr": "10.0.0.0/8"}]}, "spec.importV4[0].matchOperator"),
    ({"importV4": [{"action": "Accept", "matchOperator": "In"}]}, "spec.importV4[0].cidr"),
    (
        {"importV4": [{"action": "Accept", "matchOperator": "Like", "cidr": "10.0.0.0/8"}]},
        "spec.importV4[0].matchOperator",
    ),
    (
        {"importV4": [{"action": "Accept", "matchOperator": "In", "cidr": "fd00::/8"}]},
        "spec.importV4[0].cidr",
    ),
    (
        {"exportV6": [{"action": "Accept", "matchOperator": "In", "cidr": "10.0.0.0/8"}]},
        "spec.exportV6[0].cidr",
    ),
    (
        {"importV4": [{"action": "Accept", "matchOperator": "In", "cidr": "10.0.0.1/8"}]},
        "spec.importV4[0].cidr",
    ),
    (
        {
            "importV4": [
                {
                    "action": "Accept",
                    "matchOperator": "In",
                    "cidr": "10.0.0.0/8",
                    "prefixLength": {"max": 33},
                }
            ]
        },
        "spec.importV4[0].prefixLength.max",
    ),
    (
        {
            "importV4": [
                {
                    "action": "Accept",
                    "matchOperator": "In",
                    "cidr": "10.0.0.0/16",
                    "prefixLength": {"max": 8},
                }
            ]
        },
        "spec.importV4[0].prefixLength",
    ),
    (
        {"importV4": [{"action": "Accept", "prefixLength": {"max": 24}}]},
        "spec.importV4[0].prefixLength",
    ),
    ({"importV4": [{"action": "Accept", "source": "LocalPeers"}]}, "spec.importV4[0].source"),
    ({"importV4": [{"action": "Accept", "interface": 'eth"0'}]}, "spec.importV4[0].interface"),
    ({"importV4": [{"action": "Accept", "peerType": "both"}]}, "spec.importV4[0].peerType"),
    (
        {"importV4": [{"action": "Accept", "communities": {"values": ["1:2", "3:4"]}}]},
        "spec.importV4[0].communities.values",
    ),
    (
        {"importV4": [{"action": "Accept", "communities": {"values": ["1:65536"]}}]},
        "spec.importV4[0].communities.values[0]",
    ),
    (
        {"importV4": [{"action": "Accept", "asPathPrefix": ["x"]}]},
        "spec.importV4[0].asPathPrefix[0]",
    ),
    ({"importV4": [{"action": "Accept", "priority": 0}]}, "spec.importV4[0].priority"),
    (
        {"importV4": [{"action": "Reject", "operations": [{"setPriority": {"value": 5}}]}]},
        "spec.importV4[0].operations",
    ),
    ({"importV4": [{"action": "Accept", "operations": [{}]}]}, "spec.importV4[0].operations[0]"),
    (
        {"importV4": [{"action": "Accept", "operations": [{"addCommunity": {"value": "x"}}]}]},
        "spec.importV4[0].operations[0].addCommunity.value",
    ),
    (
        {"importV4": [{"action": "Accept", "operations": [{"prependASPath": {"prefix": []}}]}]},
        "spec.importV4[0].operations[0].prependASPath.prefix",
    ),
    ({"importV4": [{"action": "Accept", "typo": 1}]}, "spec.importV4[0].typo"),
    ({"exportV5": []}, "spec.exportV5"),
]


@pytest.mark.parametrize(
    ("spec", "field"), INVALID, ids=[f"{i}-{f}" for i, (_, f) in enumerate(INVALID)]
)
def test_invalid(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse(spec)
    problems = [p for p in info.value.problems if p.kind == "BGPFilter" and p.name == "f"]
    assert any(p.field == field for p in problems), str(info.value)


def test_symbol_lengths() -> None:
    kept = "a" * 45
    cut = "a" * 46
    assert bgp_filter_symbol(kept, "import", 4) == f"'bgp_{kept}_importFilterV4'"
    digest = hashlib.sha256(cut.encode()).hexdigest()[:16].upper()
    symbol = bgp_filter_symbol(cut, "export", 6)
    assert symbol == f"'bgp_{'a' * 28}_{digest}_exportFilterV6'"
    assert len(symbol) == 64 + 2  # BIRD's 64-character limit, plus the apostrophes
