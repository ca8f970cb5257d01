"""model: what the field-by-field readers make of shapes the fast readers hand over to them,
and the lines they say: an EndpointSlice whose Service label is a number (YAML `5`), label
keys at the length where a field path stops naming them, values of a type no JSON has (a
YAML date)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from birdgen.errors import InvalidInput
from birdgen.model.parse import parse_cluster
from birdgen.model.resources import Endpoint


def refusal(obj: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        parse_cluster([obj])
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("address_type", ["IPv4", "IPv6", "FQDN"])
def test_a_slice_read_field_by_field_keeps_its_address_type(address_type: str) -> None:
    # A Service name label written as a number sends the slice to the field-by-field reader,
    # which reads it as kubectl does ("5").
    obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": "s-1", "namespace": "ns", "labels": {"kubernetes.io/service-name": 5}},
           "addressType": address_type,
           "endpoints": [{"nodeName": "n1", "conditions": {"ready": None}},
                         {"nodeName": "n2", "conditions": {"ready": False}}, {}]}  # fmt: skip
    (eps,) = parse_cluster([obj]).slices[("ns", "5")]
    assert (eps.service_name, eps.address_type) == ("5", address_type)
    assert eps.endpoints == (Endpoint("n1", True), Endpoint("n2", False), Endpoint("", True))


def node_with_label(key: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {key: "v"}}}


def test_a_bad_label_key_of_up_to_100_characters_is_named_in_the_field_path() -> None:
    key = "x.io/" + "a" * 94 + "-"  # 100 characters; ends with "-", so it is invalid
    (line,) = refusal(node_with_label(key))
    assert line.startswith(f'Node/n1: metadata.labels.{key}: "x.io/')


def test_a_longer_bad_label_key_is_left_out_of_the_field_path() -> None:
    key = "x.io/" + "a" * 95 + "-"  # 101 characters
    (line,) = refusal(node_with_label(key))
    assert line.startswith('Node/n1: metadata.labels: "x.io/')


def test_a_secret_value_of_no_json_type_is_named_by_its_type_not_shown() -> None:
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"},
           "stringData": {"k": datetime.date(2020, 1, 1)},
           "data": {"j": datetime.datetime(2020, 1, 1, 12, 0)}}  # fmt: skip
    assert refusal(obj) == [
        "Secret/ns/s: data.j: expected a base64 string, got datetime",
        "Secret/ns/s: stringData.k: expected a string, got date",
    ]
