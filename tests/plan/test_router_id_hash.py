"""plan/build: `CALICO_ROUTER_ID=hash` derives the router id from the node name as Calico's
hashToIPv4 does: the first four bytes of SHA-256(name), with 32 taken off a first byte above
223 so that the id is never a multicast or reserved address. The expectations are written by
hand (the names were picked for their first byte: 0, 223, 224 and 255).
"""

from __future__ import annotations

import pytest

from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects


@pytest.mark.parametrize(
    ("name", "router_id"),
    [
        ("node-369", "0.55.1.27"),
        ("node-79", "223.139.3.55"),  # the highest first byte kept as it is
        ("node-108", "192.188.186.147"),  # 224 -> 192
        ("node-93", "223.77.122.67"),  # 255 -> 223
    ],
)
def test_the_hashed_router_id_is_calicos(name: str, router_id: str) -> None:
    node = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {"bgp": {"ipv4Address": "10.0.0.1/24"}},
    }
    rendered = render_objects([node], Environment.from_mapping(name, {"CALICO_ROUTER_ID": "hash"}))
    assert f"router id {router_id};" in rendered.text.splitlines()
