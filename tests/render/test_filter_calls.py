"""render: a session calls its BGPFilter functions with its own iBGP-ness as `is_same_as`.

The import side too: an import rule with a peerType makes the import function take the flag,
and an iBGP session must pass `true`, an eBGP one `false`.
"""

from __future__ import annotations

from typing import Any

from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects


def manifest(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    api = "crd.projectcalico.org/v1" if kind == "BGPFilter" else "projectcalico.org/v3"
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name}, "spec": spec}


def test_import_filter_gets_the_sessions_same_as() -> None:
    rule = {"action": "Reject", "peerType": "iBGP", "matchOperator": "In", "cidr": "10.0.0.0/8"}
    objects = [
        manifest(
            "BGPConfiguration", "default", {"nodeToNodeMeshEnabled": False, "asNumber": 64512}
        ),
        manifest("Node", "me", {"bgp": {"ipv4Address": "10.192.0.2/16"}}),
        manifest("BGPFilter", "f", {"importV4": [rule]}),
        manifest("BGPPeer", "ibgp", {"peerIP": "10.225.0.1", "asNumber": 64512, "filters": ["f"]}),
        manifest("BGPPeer", "ebgp", {"peerIP": "10.225.0.2", "asNumber": 65001, "filters": ["f"]}),
    ]
    text = render_objects(objects, Environment("me")).text
    assert "function 'bgp_f_importFilterV4'(bool is_same_as)" in text
    calls = [line.strip() for line in text.splitlines() if "'bgp_f_importFilterV4'(" in line]
    assert calls[1:] == ["'bgp_f_importFilterV4'(true);", "'bgp_f_importFilterV4'(false);"]
