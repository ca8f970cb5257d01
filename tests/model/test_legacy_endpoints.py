"""model/kube: a legacy v1 Endpoints object, where a cluster serves no EndpointSlices.

Its `addresses` are ready endpoints and its `notReadyAddresses` not ready; an address without an
`ip` is passed over and the ones after it still count; a bad address is refused naming the
Endpoints object and the field. The expectations are the prefixes written by hand, read back
from the rendered `protocol static svc4` block.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from birdgen.errors import InvalidInput
from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects

NODE = "node-1"


def objects(subsets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "projectcalico.org/v3", "kind": "BGPConfiguration",
         "metadata": {"name": "default"},
         "spec": {"nodeToNodeMeshEnabled": False, "serviceClusterIPs": [{"cidr": "10.49.0.0/16"}]}},
        {"apiVersion": "projectcalico.org/v3", "kind": "Node", "metadata": {"name": NODE},
         "spec": {"bgp": {"ipv4Address": "192.168.1.11/24"}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
         "spec": {"type": "ClusterIP", "clusterIP": "10.49.0.7", "externalTrafficPolicy": "Local"}},
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"},
         "subsets": subsets},
    ]  # fmt: skip


def static_routes(text: str) -> list[str]:
    block = re.search(r"protocol static svc4 \{(.*?)\n\}", text, re.S)
    assert block is not None, "no svc4 static protocol rendered"
    return re.findall(r"route (\S+) ", block.group(1))


ADVERTISED = ["10.49.0.0/16", "10.49.0.7/32"]  # the range, and the Local Service's own /32
NOT_ADVERTISED = ["10.49.0.0/16"]


@pytest.mark.parametrize(
    ("subsets", "routes"),
    [
        ([{"addresses": [{"ip": "10.48.0.5", "nodeName": NODE}]}], ADVERTISED),
        ([{"notReadyAddresses": [{"ip": "10.48.0.5", "nodeName": NODE}]}], NOT_ADVERTISED),
        ([{"addresses": [{"ip": "10.48.0.5", "nodeName": "node-2"}]}], NOT_ADVERTISED),
        ([{"addresses": [{"ip": "10.48.0.5"}]}], NOT_ADVERTISED),  # no node: on no node
        # An address without an ip is passed over; the next one still counts.
        ([{"addresses": [{"nodeName": NODE}, {"ip": "10.48.0.5", "nodeName": NODE}]}], ADVERTISED),
        (
            [{"addresses": [{"ip": "10.48.0.6", "nodeName": "node-2"}]},
             {"addresses": [{"ip": "10.48.0.5", "nodeName": NODE}]}],
            ADVERTISED,
        ),
    ],
)  # fmt: skip
def test_endpoints_decide_a_local_service_as_slices_do(
    subsets: list[dict[str, Any]], routes: list[str]
) -> None:
    rendered = render_objects(objects(subsets), Environment(NODE))
    assert static_routes(rendered.text) == routes


@pytest.mark.parametrize("key", ["addresses", "notReadyAddresses"])
def test_a_bad_address_is_refused_naming_the_endpoints_and_field(key: str) -> None:
    with pytest.raises(InvalidInput) as info:
        render_objects(
            objects([{key: [{"ip": "10.48.0.999", "nodeName": NODE}]}]), Environment(NODE)
        )
    assert [str(p) for p in info.value.problems] == [
        f'Endpoints/default/web: subsets[0].{key}[0].ip: "10.48.0.999" is not an IP address'
    ]
