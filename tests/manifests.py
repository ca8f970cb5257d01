"""Calico resources as raw manifests, for tests that build their inputs in code."""

from __future__ import annotations

from typing import Any


def bgp_configuration(**spec: Any) -> dict[str, Any]:
    """BGPConfiguration "default", node-to-node mesh off unless `spec` turns it on."""
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "BGPConfiguration",
        "metadata": {"name": "default"},
        "spec": {"nodeToNodeMeshEnabled": False, **spec},
    }


def bgp_peer(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "BGPPeer",
        "metadata": {"name": name},
        "spec": spec,
    }
