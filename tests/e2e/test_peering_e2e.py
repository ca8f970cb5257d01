"""End to end: birdgen-rendered route reflector and client, and a ToR, in network namespaces.

    tor (10.77.0.1, AS 65001)  plain BIRD, hand-written config: password + TTL security
     | eth0
    sw: br0 ---- rr     (10.77.0.11, AS 64512, routeReflectorClusterID 10.77.0.100)
            ---- client (10.77.0.12, AS 64512)

The RR's and the client's configs come from birdgen, rendered from manifests: a BGPPeer with a
peerSelector between the RR and every node (the client dials it; the RR gets the reverse
peering and marks the client `rr client`), and a BGPPeer from the RR to the ToR with a password
from a Secret and `ttlSecurity: 1`. The default BGPConfiguration advertises the service range
with a standard and a large community (prefixAdvertisements); the ToR must see both.

Safety: every address lives in namespaces this test creates (random `bg-<hex>-` names); BIRD is
stopped by PID; every wait is bounded; teardown runs in `finally` and the namespaces must be
gone afterwards.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
from manifests import bgp_peer

from birdgen.lab.bird import BirdDaemon
from birdgen.lab.netns import (
    NamespaceRegistry,
    WaitTimeout,
    add_veth,
    attach_to_bridge,
    list_namespaces,
    wait_until,
)
from birdgen.lab.topology import lab_available
from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects

TOR, RR, CLIENT = "10.77.0.1", "10.77.0.11", "10.77.0.12"
PASSWORD = "tor-s3cret"
SERVICE_RANGE = "10.96.0.0/12"


def manifests() -> list[dict[str, Any]]:
    def node(name: str, ip: str, **bgp: Any) -> dict[str, Any]:
        labels = {"route-reflector": "true"} if "routeReflectorClusterID" in bgp else {}
        return {
            "apiVersion": "projectcalico.org/v3",
            "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "spec": {"bgp": {"ipv4Address": f"{ip}/24", **bgp}},
        }

    peer = bgp_peer

    return [
        node("rr", RR, routeReflectorClusterID="10.77.0.100"),
        node("client", CLIENT),
        {
            "apiVersion": "projectcalico.org/v3",
            "kind": "BGPConfiguration",
            "metadata": {"name": "default"},
            "spec": {
                "nodeToNodeMeshEnabled": False,
                "asNumber": 64512,
                "serviceClusterIPs": [{"cidr": SERVICE_RANGE}],
                "communities": [{"name": "svc-large", "value": "65000:1:2"}],
                "prefixAdvertisements": [
                    {"cidr": SERVICE_RANGE, "communities": ["65000:100", "svc-large"]}
                ],
            },
        },
        peer("rr-clients", nodeSelector="all()", peerSelector="route-reflector == 'true'"),
        peer(
            "tor",
            nodeSelector="route-reflector == 'true'",
            peerIP=TOR,
            asNumber=65001,
            ttlSecurity=1,
            password={"secretKeyRef": {"name": "bgp-passwords", "key": "tor"}},
        ),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "bgp-passwords", "namespace": "kube-system"},
            "stringData": {"tor": PASSWORD},
        },
    ]


def tor_config() -> str:
    return textwrap.dedent(
        f"""\
        log stderr all;
        router id {TOR};
        protocol device {{ scan time 10; }}
        protocol bgp to_rr {{
          local {TOR} as 65001;
          neighbor {RR} as 64512;
          password "{PASSWORD}";
          ttl security on;
          connect delay time 1;
          connect retry time 2;
          error wait time 1, 5;
          ipv4 {{ import all; export none; }};
        }}
        """
    )


def render(node_name: str) -> str:
    rendered = render_objects(manifests(), Environment(node_name=node_name))
    return rendered.text


@pytest.fixture(scope="module")
def lab_ok() -> None:
    ok, reason = lab_available()
    if not ok:
        pytest.skip(f"network-namespace lab unavailable: {reason}")


def test_rendered_configs_carry_the_options() -> None:
    """No root needed: what the e2e test relies on is in the text birdgen renders."""
    rr, client = render("rr"), render("client")
    tor_block = rr[rr.index("protocol bgp Node_10_77_0_1 ") :].split("\n}\n")[0]
    assert f'password "{PASSWORD}";' in tor_block
    assert "ttl security on;\n  multihop 1;" in tor_block
    client_block = rr[rr.index("protocol bgp Node_10_77_0_12 ") :].split("\n}\n")[0]
    assert "rr client;\n  rr cluster id 10.77.0.100;" in client_block
    assert "protocol bgp Node_10_77_0_11 " in client and "rr client" not in client
    assert "bgp_large_community.add((65000, 1, 2));" in rr
    assert "bgp_community.add((65000, 100));" in rr


@pytest.mark.netns
def test_route_reflector_client_and_tor(lab_ok: None) -> None:
    registry = NamespaceRegistry()
    workdir = Path(tempfile.mkdtemp(prefix=f"bg-{registry.run_id}-"))
    birds: list[BirdDaemon] = []
    created: list[str] = []
    try:
        sw = registry.create("sw")
        spaces = {role: registry.create(role) for role in ("tor", "rr", "client")}
        created = sorted(registry.created)
        for ns in (sw, *spaces.values()):
            ns.disable_dad()
        sw.create_bridge("br0")
        for i, (role, ip) in enumerate((("tor", TOR), ("rr", RR), ("client", CLIENT))):
            add_veth(spaces[role], "eth0", sw, f"p{i}")
            attach_to_bridge(sw, f"p{i}", "br0")
            spaces[role].add_address("eth0", f"{ip}/24")

        tor = BirdDaemon(spaces["tor"], tor_config(), workdir / "tor", name="bird")
        birds.append(tor)
        rr = BirdDaemon(spaces["rr"], render("rr"), workdir / "rr", name="bird")
        birds.append(rr)
        client = BirdDaemon(spaces["client"], render("client"), workdir / "client", name="bird")
        birds.append(client)

        try:
            tor.wait_established(["to_rr"], timeout=60)
        except WaitTimeout as exc:
            log = tor.log.read_text(errors="replace")
            if "TCP_MD5SIG" in log or ("MD5" in log and "not supported" in log.lower()):
                pytest.skip(f"kernel lacks TCP MD5 signatures: {exc}")
            raise
        rr.wait_established(["Node_10_77_0_1", "Node_10_77_0_12"], timeout=60)
        client.wait_established(["Node_10_77_0_11"], timeout=60)

        # The ToR learns the service range with both communities prefixAdvertisements asked for.
        def tor_route() -> str:
            return tor.birdc(f"show route {SERVICE_RANGE} all")

        out = wait_until(
            tor_route,
            timeout=30,
            interval=0.5,
            what=f"{SERVICE_RANGE} on the ToR",
            ok=lambda text: "BGP.large_community" in text,
        )
        assert re.search(r"BGP\.community:.*\(65000,\s*100\)", out), out
        assert re.search(r"BGP\.large_community:.*\(65000,\s*1,\s*2\)", out), out
        # The RR also learned the client's path over the session the reverse peering made.
        rr_routes = rr.birdc(f"show route {SERVICE_RANGE} all")
        assert CLIENT in rr_routes, rr_routes
    finally:
        for bird in reversed(birds):
            bird.stop()
        problems = registry.delete_all()
        shutil.rmtree(workdir, ignore_errors=True)
    assert problems == []
    assert created and not set(created) & set(list_namespaces())
