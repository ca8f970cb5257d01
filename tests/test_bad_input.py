"""Issue 9 §1, §3, §4: the reproducers, each through the command line.

An IPv6 zone in any address field is refused with kind, name and field (it once carried free
text into bird.conf); shapes that ended in tracebacks are clean errors; Secret values that are
not strings are refused as the API server refuses them.
"""

from __future__ import annotations

import copy
import ipaddress
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from birdgen.cli import main
from birdgen.model.values import parse_cidr, parse_ip, parse_ip_or_cidr, parse_peer_ip
from tests.cli_outcome import assert_clean_refusal, render, write_documents

NODE = "n1"
INJECTION = (
    " as 65001; } protocol bgp evil { local as 64512; neighbor 6.6.6.6 as 666;"
    " ipv4 { import all; export all; }; } protocol bgp evil2 from bgp6 { neighbor fd00::98 as 65001; #"
)
BASE: list[dict[str, Any]] = [
    {"apiVersion": "projectcalico.org/v3", "kind": "BGPConfiguration",
     "metadata": {"name": "default"},
     "spec": {"asNumber": 64512, "serviceExternalIPs": [{"cidr": "fd00:50::/64"}]}},
    {"apiVersion": "projectcalico.org/v3", "kind": "Node", "metadata": {"name": NODE},
     "spec": {"bgp": {"ipv4Address": "10.0.0.1/24", "ipv6Address": "fd00::1/64"}}},
]  # fmt: skip


def calico(kind: str, name: str, spec: Any) -> dict[str, Any]:
    return {"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": {"name": name},
            "spec": spec}  # fmt: skip


# ---- §1: zones


@pytest.mark.parametrize(
    "parse, text",
    [
        (parse_ip, "fd00::1%eth0"),
        (parse_ip, "fe80::1%1"),
        (parse_cidr, "fd00::%lo/64"),
        (parse_ip_or_cidr, "fd00::1%lo/64"),
        (parse_ip_or_cidr, "fd00::1%lo"),
        (parse_peer_ip, "fd00::1%lo"),
        (parse_peer_ip, "[fd00::1%lo]:179"),
    ],
)
def test_every_address_parser_refuses_a_zone(parse: Any, text: str) -> None:
    with pytest.raises(ValueError, match=r"a zone \(%\.\.\.\) is not allowed here"):
        parse(text)


def test_parsed_addresses_carry_no_text() -> None:
    # Whatever `ipaddress` would keep besides the number is gone: the value prints as the number.
    for value in (parse_ip("fd00::1"), parse_peer_ip("[fd00::1]:179")[0]):
        assert isinstance(value, ipaddress.IPv6Address) and value.scope_id is None
    assert parse_cidr("fd00::/64").network_address.scope_id is None
    assert parse_ip_or_cidr("fd00::1/64").ip.scope_id is None


@pytest.mark.parametrize(
    "doc, expect",
    [
        (calico("BGPPeer", "p", {"peerIP": "fd00::99%lo" + INJECTION, "asNumber": 65001}),
         "BGPPeer/p: spec.peerIP: "),
        (calico("BGPPeer", "p", {"peerIP": "fd00::99", "asNumber": 65001,
                                 "reachableBy": "fd00::fe%lo; } protocol static evil2 { ipv6; #"}),
         "BGPPeer/p: spec.reachableBy: "),
        ({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "default"},
          "spec": {"clusterIP": "10.96.0.1", "externalIPs": ["fd00:50::5%eth0"]}},
         "Service/default/s: spec.externalIPs[0]: "),
        (calico("BGPConfiguration", "default", {"asNumber": 64512,
                "serviceExternalIPs": [{"cidr": "fd00:50::%eth0/64"}]}),
         "BGPConfiguration/default: spec.serviceExternalIPs[0].cidr: "),
        (calico("Node", NODE, {"bgp": {"ipv4Address": "10.0.0.1/24",
                                       "ipv6Address": "fd00::1%eth0/64"}}),
         f"Node/{NODE}: spec.bgp.ipv6Address: "),
        (calico("BGPFilter", "f", {"exportV6": [{"action": "Accept", "matchOperator": "In",
                                                 "cidr": "fd00::%x; accept; }/64"}]}),
         "BGPFilter/f: spec.exportV6[0].cidr: "),
    ],
)  # fmt: skip
def test_a_zone_in_any_address_field_is_refused(
    tmp_path: Path, doc: dict[str, Any], expect: str
) -> None:
    outcome = render(write_documents(tmp_path, [*copy.deepcopy(BASE), doc]), NODE)
    assert_clean_refusal(outcome)
    assert any(line.removeprefix("birdgen: ").startswith(expect) for line in outcome.errors), (
        outcome.errors
    )
    assert any("a zone (%...) is not allowed here" in line for line in outcome.errors)


def test_a_zone_in_a_node_annotation_is_ignored_with_a_warning(tmp_path: Path) -> None:
    # Calico ignores an invalid annotation (the node lacks that address); so does birdgen.
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2", "annotations": {
        "projectcalico.org/IPv4Address": "10.0.0.2/24",
        "projectcalico.org/IPv6Address": "fd00::2%eth0; } protocol bgp evil {/64"}}}  # fmt: skip
    outcome = render(write_documents(tmp_path, [*copy.deepcopy(BASE), node]), "n2")
    assert outcome.code == 0
    assert "Node/n2: metadata.annotations.projectcalico.org/IPv6Address: " in outcome.stderr
    assert "evil" not in outcome.config and "%" not in outcome.config


# ---- §3: shapes that once ended in tracebacks


@pytest.mark.parametrize(
    "doc",
    [
        {"apiVersion": ["v1"], "kind": "Service", "metadata": {"name": "x"}},
        {"apiVersion": {"a": 1}, "kind": "Service", "metadata": {"name": "x"}},
        {"apiVersion": "v1", "kind": ["Service"], "metadata": {"name": "x"}},
        {"apiVersion": "v1", "kind": {"Service": 1}, "metadata": {"name": "x"}},
    ],
)
def test_unhashable_api_version_or_kind_is_skipped_with_a_notice(
    tmp_path: Path, doc: dict[str, Any]
) -> None:
    outcome = render(write_documents(tmp_path, [*copy.deepcopy(BASE), doc]), NODE)
    assert outcome.code == 0
    assert "not a kind birdgen reads" in outcome.stderr


@pytest.mark.parametrize(
    "text, expect",
    [
        # keys of mixed types: an int key beside string ones, two kinds of non-string key
        ("apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: n2}\n"
         "spec: {bgp: {ipv4Address: 10.0.0.2/24, 1: x}}\n",
         "Node/n2: spec.bgp: key 1 is not a string"),
        ("apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: p}\n"
         "spec: {peerIP: 10.0.0.9, asNumber: 1, 1: x, ~: y, true: z, 1.5: w}\n",
         "BGPPeer/p: spec: key None is not a string"),
        ("apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: p}\n"
         "spec: {peerIP: 10.0.0.9, asNumber: 1}\n~: x\n",
         "BGPPeer/p: key None is not a string"),
        ("apiVersion: v1\nkind: Node\nmetadata: {name: n2, labels: {1: x, ~: y}}\n",
         "Node/n2: metadata.labels: key 1 is not a string"),
        ("apiVersion: projectcalico.org/v3\nkind: BGPFilter\nmetadata: {name: f}\n"
         "spec: {exportV4: [{action: Accept, communities: {values: 5}}]}\n",
         "BGPFilter/f: spec.exportV4[0].communities.values: expected a list, got 5"),
        ("apiVersion: v1\nkind: Node\nmetadata: {name: n2, labels: {a: .nan}}\n",
         "Node/n2: metadata.labels.a: nan is not a finite number"),
    ],
)  # fmt: skip
def test_shapes_that_once_crashed_are_clean_errors(tmp_path: Path, text: str, expect: str) -> None:
    base = write_documents(tmp_path / "base", copy.deepcopy(BASE))
    (tmp_path / "input.yaml").write_text(text)
    outcome = render(base, NODE, None, "-f", str(tmp_path / "input.yaml"))
    assert_clean_refusal(outcome)
    assert any(expect in line for line in outcome.errors), outcome.errors


def test_a_null_key_at_the_top_of_a_foreign_document_is_skipped(tmp_path: Path) -> None:
    base = write_documents(tmp_path / "base", copy.deepcopy(BASE))
    (tmp_path / "input.yaml").write_text("~: x\n")
    outcome = render(base, NODE, None, "-f", str(tmp_path / "input.yaml"))
    assert outcome.code == 0 and "skipping ?/? (?)" in outcome.stderr


@pytest.mark.parametrize(
    "name, text, expect",
    [
        ("deep.json", '{"apiVersion": "v1", "kind": "Service", "spec": ' + "[" * 100_000
         + "]" * 100_000 + "}", "nested too deeply to read"),
        ("big.json", '{"apiVersion": "v1", "kind": "Service", "spec": {"x": ' + "9" * 5000 + "}}",
         "cannot read: Exceeds the limit (4300 digits)"),
        ("big.yaml", "apiVersion: v1\nkind: Service\nspec: {x: " + "9" * 5000 + "}\n",
         "cannot read: Exceeds the limit (4300 digits)"),
    ],
)  # fmt: skip
def test_unreadable_files_are_source_errors(
    tmp_path: Path, name: str, text: str, expect: str
) -> None:
    (tmp_path / name).write_text(text)
    outcome = render(tmp_path / name, NODE)
    assert outcome.code == 1
    assert outcome.stderr == f"birdgen: {tmp_path / name}: " + outcome.stderr.split(": ", 2)[2]
    assert expect in outcome.stderr


# ---- §4: Secrets


def peer_with_secret(secret: dict[str, Any]) -> list[Any]:
    peer = calico("BGPPeer", "tor", {"peerIP": "10.0.0.9", "asNumber": 65001,
                  "password": {"secretKeyRef": {"name": "bgp", "key": "tor"}}})  # fmt: skip
    meta = {"name": "bgp", "namespace": "kube-system"}
    return [*copy.deepcopy(BASE), peer, {"apiVersion": "v1", "kind": "Secret", "metadata": meta,
                                         **secret}]  # fmt: skip


@pytest.mark.parametrize(
    "value, what",
    [(["a", "b"], "a list"), (True, "a boolean"), (123456, "a number"), (1.5, "a number"),
     ({"a": "b"}, "a map")],
)  # fmt: skip
def test_string_data_values_that_are_not_strings_are_refused(
    tmp_path: Path, value: Any, what: str
) -> None:
    outcome = render(write_documents(tmp_path, peer_with_secret({"stringData": {"tor": value}})),
                     NODE)  # fmt: skip
    assert_clean_refusal(outcome)
    assert outcome.errors == [
        f"birdgen: Secret/kube-system/bgp: stringData.tor: expected a string, got {what}"
    ]
    assert "'a'" not in outcome.stderr and "True" not in outcome.stderr  # the value never shows


@pytest.mark.parametrize(
    "secret, expect",
    [
        ({"stringData": {"bad key!": "x"}}, "stringData.bad key!: is not a valid Secret key"),
        ({"data": {"bad key!": "eA=="}}, "data.bad key!: is not a valid Secret key"),
        ({"data": {"tor": 5}}, "data.tor: expected a base64 string, got a number"),
        ({"data": {"tor": "not base64!"}}, "data.tor: is not base64-encoded UTF-8 text"),
        ({"stringData": "s3cret"}, "stringData: expected a map, got a string"),
        ({"data": ["s3cret"]}, "data: expected a map, got a list"),
    ],
)
def test_secret_problems_name_the_field_the_operator_wrote(
    tmp_path: Path, secret: dict[str, Any], expect: str
) -> None:
    outcome = render(write_documents(tmp_path, peer_with_secret(secret)), NODE)
    assert_clean_refusal(outcome)
    assert any(f"Secret/kube-system/bgp: {expect}" in line for line in outcome.errors), (
        outcome.errors
    )
    assert "s3cret" not in outcome.stderr


def test_string_data_wins_over_data_and_its_password_problem_names_string_data(
    tmp_path: Path,
) -> None:
    secret = {"data": {"tor": "Z29vZA=="}, "stringData": {"tor": "bad\\pass"}}
    outcome = render(write_documents(tmp_path, peer_with_secret(secret)), NODE)
    assert_clean_refusal(outcome)
    assert any("Secret/kube-system/bgp: stringData.tor: the BGP password" in line
               for line in outcome.errors)  # fmt: skip
    secret = {"data": {"tor": "YmFkXHBhc3M="}, "stringData": {"tor": "good"}}
    outcome = render(write_documents(tmp_path, peer_with_secret(secret)), NODE)
    assert outcome.code == 0 and 'password "good";' in outcome.config


# ---- labels and the environment: names compared with resource names are names


@pytest.mark.parametrize(
    "labels, expect",
    [
        ({"rack": "r1\n"}, 'metadata.labels.rack: "r1\\n" is not a valid label value'),
        ({"rack": "x" * 64}, "metadata.labels.rack: "),
        ({"ra ck": "r1"}, 'metadata.labels: "ra ck" is not a valid key'),
        ({"Bad_Prefix/rack": "r1"}, "metadata.labels.Bad_Prefix/rack: "),
    ],
)
def test_node_labels_the_api_server_would_refuse_are_refused(
    tmp_path: Path, labels: dict[str, str], expect: str
) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2", "labels": labels}}
    outcome = render(write_documents(tmp_path, [*copy.deepcopy(BASE), node]), NODE)
    assert_clean_refusal(outcome)
    assert any(f"Node/n2: {expect}" in line for line in outcome.errors), outcome.errors


@pytest.mark.parametrize(
    "env, expect",
    [
        ({"NODENAME": "n1 }"}, "environment/NODENAME: "),
        ({"NODENAME": NODE, "CALICO_K8S_NODE_REF": "n1\n"}, "environment/CALICO_K8S_NODE_REF: "),
        ({"NODENAME": NODE, "NAMESPACE": "kube.system"}, "environment/NAMESPACE: "),
    ],
)
def test_names_from_the_environment_must_be_names(
    tmp_path: Path, env: dict[str, str], expect: str
) -> None:
    path = write_documents(tmp_path, copy.deepcopy(BASE))
    result = CliRunner().invoke(main, ["render", "-f", str(path)], env=env)
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1
    assert result.stderr.startswith(f"birdgen: {expect}"), result.stderr


def test_yaml_in_flow_style_is_read_as_yaml_not_as_broken_json(tmp_path: Path) -> None:
    # Starts like JSON but is YAML: a flow mapping without quotes, then more documents.
    text = "[]\n---\n{apiVersion: v1, kind: Service, metadata: {name: s, namespace: default}}\n"
    base = write_documents(tmp_path / "base", copy.deepcopy(BASE))
    (tmp_path / "input.yaml").write_text(text)
    outcome = render(base, NODE, None, "-f", str(tmp_path / "input.yaml"))
    assert outcome.code == 0, outcome.stderr
