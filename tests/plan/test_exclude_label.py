"""plan/services: the node label node.kubernetes.io/exclude-from-external-load-balancers.

Only the exact value "true" withdraws the node's service routes (spec §6.2): Calico compares the
string, so "false", "True", "yes", "1" and "" are all "not excluded". The expectations are the
prefixes written by hand, read back from the rendered `protocol static svc4` block.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects

LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


def objects(labels: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "projectcalico.org/v3",
            "kind": "BGPConfiguration",
            "metadata": {"name": "default"},
            "spec": {
                "nodeToNodeMeshEnabled": False,
                "serviceClusterIPs": [{"cidr": "10.49.0.0/16"}],
            },
        },
        {
            "apiVersion": "projectcalico.org/v3",
            "kind": "Node",
            "metadata": {"name": "node-1", "labels": labels},
            "spec": {"bgp": {"ipv4Address": "192.168.1.11/24"}},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "10.49.0.7",
                "externalTrafficPolicy": "Local",
            },
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "web-1",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "web"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.48.0.5"], "nodeName": "node-1"}],
        },
    ]


def static_routes(text: str) -> list[str]:
    block = re.search(r"protocol static svc4 \{(.*?)\n\}", text, re.S)
    assert block is not None, "no svc4 static protocol rendered"
    return re.findall(r"route (\S+) ", block.group(1))


@pytest.mark.parametrize("value", ["false", "False", "True", "TRUE", "yes", "1", ""])
def test_any_value_but_true_leaves_the_node_advertising(value: str) -> None:
    rendered = render_objects(objects({LABEL: value}), Environment("node-1"))
    assert static_routes(rendered.text) == ["10.49.0.0/16", "10.49.0.7/32"]


@pytest.mark.parametrize("labels", [{}, {"other": "true"}])
def test_no_label_leaves_the_node_advertising(labels: dict[str, str]) -> None:
    rendered = render_objects(objects(labels), Environment("node-1"))
    assert static_routes(rendered.text) == ["10.49.0.0/16", "10.49.0.7/32"]


def test_true_withdraws_every_service_route() -> None:
    rendered = render_objects(objects({LABEL: "true"}), Environment("node-1"))
    assert static_routes(rendered.text) == []
