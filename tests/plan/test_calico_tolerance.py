"""What Calico tolerates, birdgen renders too, with a warning naming object and field.

Each case comes from Calico's confd test corpus or confd's code (routes.go, client.go): input that
Calico's API validation accepts and confd renders. birdgen used to exit 1 on each. The rendered
config must still load in the real BIRD (`bird -p`), and what BIRD refuses stays an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from manifests import bgp_configuration, bgp_peer

from birdgen.errors import InvalidInput
from birdgen.model.resources import Environment
from birdgen.pipeline import Rendered, render_objects
from birdgen.write.check import check_text


def node(name: str, v4: str, v6: str | None = None, **bgp: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"ipv4Address": f"{v4}/24", **bgp}
    if v6:
        spec["ipv6Address"] = f"{v6}/64"
    return {
        "apiVersion": "projectcalico.org/v3",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {"bgp": spec},
    }


config, peer = bgp_configuration, bgp_peer


NODES = [node("n1", "10.0.0.1", "fd00::1"), node("n2", "10.0.0.2", "fd00::2")]


def render(objects: list[dict[str, Any]], node_name: str, tmp_path: Path) -> Rendered:
    rendered = render_objects(objects, Environment.from_mapping(node_name, {}))
    check_text(rendered.text, directory=tmp_path)  # the real BIRD loads it
    return rendered


def protocol(text: str, name: str) -> str:
    start = text.index(f"protocol bgp {name} ")
    return text[start : text.index("\n}\n", start)]


def test_lb_ingress_ip_that_is_not_an_ip_is_skipped_with_a_warning(tmp_path: Path) -> None:
    # The corpus's mesh/static-routes: `ip: 80.15.0.1/32`; confd's net.ParseIP fails, it logs
    # and skips the entry. The other entry is still advertised.
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "lb", "namespace": "default"},
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": "10.101.0.5",
            "externalTrafficPolicy": "Local",
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "80.15.0.1/32"}, {"ip": "80.15.0.2"}]}},
    }
    slice_ = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "lb-1",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "lb"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["192.168.0.1"], "nodeName": "n1"}],
    }
    objects = [*NODES, config(serviceLoadBalancerIPs=[{"cidr": "80.15.0.0/24"}]), service, slice_]
    rendered = render(objects, "n1", tmp_path)
    assert "route 80.15.0.2/32 blackhole;" in rendered.text
    assert "80.15.0.1" not in rendered.text
    assert rendered.notices == (
        'Service/default/lb: status.loadBalancer.ingress[0].ip: "80.15.0.1/32" is not an IP '
        "address; skipped, as Calico skips it",
    )


def test_an_ingress_ip_of_the_wrong_type_is_still_an_error() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "lb", "namespace": "default"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.101.0.5"},
        "status": {"loadBalancer": {"ingress": [{"ip": 7}]}},
    }
    with pytest.raises(InvalidInput, match=r"status\.loadBalancer\.ingress\[0\]\.ip"):
        render_objects([*NODES, config(), service], Environment.from_mapping("n1", {}))


@pytest.mark.parametrize(
    ("spec", "field", "line"),
    [
        ({"peerIP": "ffee::10", "asNumber": 65001}, "peerIP", "neighbor ffee::10 as 65001;"),
        (
            {"peerIP": "fd00::99", "asNumber": 65001, "reachableBy": "ffee::1"},
            "reachableBy",
            "route fd00::99/128 via ffee::1;",
        ),
        ({"peerIP": "224.0.0.9", "asNumber": 65001}, "peerIP", "neighbor 224.0.0.9 as 65001;"),
    ],
)
def test_multicast_peer_ip_and_reachable_by_render_with_a_warning(
    spec: dict[str, Any], field: str, line: str, tmp_path: Path
) -> None:
    rendered = render([*NODES, config(), peer("mc", **spec)], "n1", tmp_path)
    assert line in rendered.text
    assert any(w.startswith(f"BGPPeer/mc: spec.{field}: ") for w in rendered.notices), (
        rendered.notices
    )
    assert all("multicast" in w for w in rendered.notices)


@pytest.mark.parametrize(("ip", "field"), [("::", "peerIP"), ("0.0.0.0", "peerIP")])
def test_the_unspecified_address_stays_an_error(ip: str, field: str) -> None:
    with pytest.raises(InvalidInput, match=rf"BGPPeer/bad: spec\.{field}: .*unspecified"):
        render_objects(
            [*NODES, config(), peer("bad", peerIP=ip, asNumber=1)],
            Environment.from_mapping("n1", {}),
        )


def test_reachable_by_the_unspecified_address_stays_an_error() -> None:
    with pytest.raises(InvalidInput, match=r"BGPPeer/bad: spec\.reachableBy: .*unspecified"):
        render_objects(
            [*NODES, config(), peer("bad", peerIP="10.9.9.9", asNumber=1, reachableBy="0.0.0.0")],
            Environment.from_mapping("n1", {}),
        )


@pytest.mark.parametrize("as_number", [None, 0])
def test_peer_ip_without_as_number_matches_calico_nodes_by_the_global_as(
    as_number: int | None, tmp_path: Path
) -> None:
    # BGPPeer "to-n2" from n1 to n2's address, asNumber left out (optional in the v3 API).
    # confd's nodesWithIPPortAndAS takes AS 0 as the global AS: n2 (global AS, listening on
    # 1790) is the peer, so n2 gets the reverse session; n1's forward session would be `as 0`,
    # which BIRD refuses: left out, with a warning.
    spec: dict[str, Any] = {"node": "n1", "peerIP": "10.0.0.2"}
    if as_number is not None:
        spec["asNumber"] = as_number
    objects = [*NODES, config(asNumber=64600, listenPort=1790), peer("to-n2", **spec)]

    n1 = render(objects, "n1", tmp_path)
    assert "protocol bgp Node_10_0_0_2" not in n1.text
    assert n1.notices == (
        "BGPPeer/to-n2: spec.asNumber: not set (or 0); no session with 10.0.0.2: "
        "BIRD cannot peer with AS 0",
    )

    n2 = render(objects, "n2", tmp_path)
    reverse = protocol(n2.text, "Node_10_0_0_1_port_1790")
    assert "neighbor 10.0.0.1 port 1790 as 64600;" in reverse
    assert n2.notices == ()


def test_as_zero_does_not_match_a_calico_node_with_its_own_as(tmp_path: Path) -> None:
    # AS 0 stands for the global AS when confd matches Calico nodes; n3 has an AS of its own,
    # so it is not the peer of this BGPPeer and gets no reverse session.
    objects = [
        *NODES,
        node("n3", "10.0.0.3", asNumber=65003),
        config(listenPort=1790),
        peer("to-n3", node="n1", peerIP="10.0.0.3"),
    ]
    n3 = render(objects, "n3", tmp_path)
    assert "protocol bgp Node_" not in n3.text


def test_source_address_none_under_bind_mode_node_ip_is_kept_with_a_warning(
    tmp_path: Path,
) -> None:
    objects = [
        *NODES,
        config(bindMode="NodeIP"),
        peer("tor", peerIP="10.0.0.254", asNumber=65000, sourceAddress="None"),
    ]
    rendered = render(objects, "n1", tmp_path)
    session = protocol(rendered.text, "Global_10_0_0_254")
    assert "source address" not in session
    assert "strict bind on;" in rendered.text and "local 10.0.0.1 as 64512;" in rendered.text
    assert rendered.notices == (
        "BGPPeer/tor: spec.sourceAddress: None has no effect under bindMode: NodeIP: "
        "the session's source is this node's 10.0.0.1 (strict bind)",
    )
