"""End to end: the walkthrough "Advertising Kubernetes Service IPs with Calico and BGP" on real
BIRD 2 daemons in network namespaces.

One lab serves the whole module (building it and bringing BGP up is most of the cost): a ToR
(BIRD, AS 64512, ECMP into its kernel), node-1..3 each running BIRD with the config birdgen
renders for it from examples/walkthrough, and an external client routed through the ToR. Before
every test the `walk` fixture reloads every node back to the walkthrough's base state and waits
until the ToR's kernel shows it, so each test starts from a known state whatever ran before.

What is asserted is what an operator would check by hand: `ip route` in the ToR's namespace,
`ip route` in each node's namespace, `curl` from outside, and BIRD's own session table.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any

import pytest
from walkthrough_lab import walkthrough_lab

from birdgen.lab.netns import wait_until
from birdgen.lab.topology import Lab
from birdgen.lab.walkthrough import (
    BASE,
    CLUSTER_RANGE,
    CLUSTER_RANGE6,
    EXTERNAL_IP,
    EXTERNAL_RANGE,
    NODES,
    SERVICE_IP,
    SERVICE_IP6,
    WATCHED_PREFIXES,
    Step,
    Walkthrough,
    expected_tor_routes,
)

N1, N2, N3 = "192.168.1.11", "192.168.1.12", "192.168.1.13"
N1_6, N2_6, N3_6 = "fd00:1::11", "fd00:1::12", "fd00:1::13"
ALL4 = {N1, N2, N3}
ALL6 = {N1_6, N2_6, N3_6}
SVC32 = f"{SERVICE_IP}/32"
SVC128 = f"{SERVICE_IP6}/128"
EXT32 = f"{EXTERNAL_IP}/32"

# The walkthrough's state after "externalTrafficPolicy: Local": nginx has ready endpoints on
# node-1 and node-2, so the /32 is only via those two, while the range is via every node.
BASE_ROUTES = {CLUSTER_RANGE: ALL4, SVC32: {N1, N2}, EXTERNAL_RANGE: set(), EXT32: set()}
DUAL = BASE.but("dual stack", ipv6=True)


def only(routes: dict[str, set[str]]) -> dict[str, set[str]]:
    """`routes`, plus every other watched prefix as absent: nothing else may show up."""
    return {p: routes.get(p, set()) for p in WATCHED_PREFIXES}


def ecmp_by_port(lab: Lab) -> None:
    """Spread flows over the ToR's ECMP next hops by port as well as address, so one client
    can reach every node behind a multipath route (the default hashes on addresses only,
    which would always pick the same node)."""
    tor = lab.namespace("tor")
    tor.sysctl("net.ipv4.fib_multipath_hash_policy", 1)
    tor.sysctl("net.ipv6.fib_multipath_hash_policy", 1)


@pytest.fixture(scope="module")
def lab_walk() -> Iterator[Walkthrough]:
    with walkthrough_lab(ecmp_by_port) as walk:
        yield walk


@pytest.fixture
def walk(lab_walk: Walkthrough) -> Iterator[Walkthrough]:
    """The module's lab, reloaded to the walkthrough's base state (Local, endpoints on
    node-1 and node-2, IPv4 only) and converged; HTTP servers a test started are stopped."""
    lab_walk.converge(BASE)
    lab_walk.wait_tor(only(BASE_ROUTES))
    yield lab_walk
    lab_walk.stop_serving()


def established_sessions(walk: Walkthrough, family: int = 4) -> dict[str, tuple[str, str]]:
    """Wait (bounded) until every BGP session of `family` in the lab - the ToR's and the
    node-to-node mesh - is Established; returns them with their since-times."""

    def family_of(key: str) -> int:
        name = key.split("/", 1)[1]
        if name.endswith(("_v4", "_v6")):  # the ToR's protocols
            return int(name[-1])
        return 6 if "__" in name else 4  # birdgen's: Global_fd00_1__1, Mesh_192_168_1_12

    def sessions() -> dict[str, tuple[str, str]]:
        return {k: v for k, v in walk.bgp_sessions().items() if family_of(k) == family}

    return wait_until(
        sessions,
        timeout=15,
        interval=0.2,
        what=f"every IPv{family} BGP session Established",
        ok=lambda s: bool(s) and all(state == "Established" for state, _ in s.values()),
    )


def assert_no_resets(before: dict[str, tuple[str, str]], after: dict[str, tuple[str, str]]) -> None:
    """The same sessions, in the same state, since the same instant.

    BIRD keeps the time of a protocol's last state change on its monotonic clock and converts
    it to wall-clock time each time `show protocols` prints it, so the printed since-time can
    differ by a millisecond between two calls. A reset moves it by far more: the session
    comes back no sooner than BIRD's connect delay (seconds) later.
    """
    assert after.keys() == before.keys()
    assert {k: state for k, (state, _) in after.items()} == {
        k: state for k, (state, _) in before.items()
    }
    moved = {
        k: (before[k][1], since)
        for k, (_, since) in after.items()
        if abs(_seconds(since) - _seconds(before[k][1])) > 0.05
    }
    assert not moved, f"BGP sessions reset (since before, since after): {moved}"


def _seconds(since: str) -> float:
    """BIRD's "HH:MM:SS.mmm" since-time as seconds of the day."""
    h, m, sec = since.split(":")
    return int(h) * 3600 + int(m) * 60 + float(sec)


def assert_no_service_routes_on_nodes(walk: Walkthrough) -> None:
    """No node's kernel holds a blackhole, or a route from BIRD for a Service prefix or anything
    inside one (the default route covers them all, rightly)."""
    service_nets = [ipaddress.ip_network(p) for p in WATCHED_PREFIXES]
    for node in NODES:
        ns = walk.lab.node(node).ns
        for family in (4, 6):
            blackholes = ns.ip(f"-{family}", "route", "show", "table", "all", "type", "blackhole")
            assert blackholes.strip() == "", f"{node} installed blackholes:\n{blackholes}"
            for route in ns.routes(family):
                dst = route.get("dst", "")
                # The kernel's own prefix route for a Service IP on kube-ipvs0 (IPv6 adds one
                # for a /128) is kube-proxy's business, not BIRD's: skip `proto kernel`.
                if not dst or route.get("protocol") == "kernel":
                    continue
                net = ipaddress.ip_network(dst)
                hit = [str(s) for s in service_nets if _within(net, s)]
                assert not hit, f"{node} installed a Service route: {route}"


def _within(net: ipaddress.IPv4Network | ipaddress.IPv6Network, outer: Any) -> bool:
    return net.version == outer.version and net.subnet_of(outer)


def http_answers(walk: Walkthrough, ip: str, want: set[str], *, tries: int = 30) -> set[str]:
    """GET http://IP/ from outside until every node in `want` has answered (bounded).

    The ToR hashes on L4 (see `lab_walk`) so different source ports may take different next
    hops; `tries` requests miss a node of two with probability 2**-(tries-1).
    """
    seen: set[str] = set()
    for _ in range(tries):
        seen.add(walk.get(ip).strip())
        if seen >= want:
            break
    return seen


# --- 1. the ToR's routing table ------------------------------------------------------------------


@pytest.mark.netns
def test_cluster_range_then_local_policy_on_the_tor(walk: Walkthrough) -> None:
    # externalTrafficPolicy: Cluster - only the range, via every node.
    walk.converge(BASE.but("cluster policy", policy="Cluster"))
    walk.wait_tor(only({CLUSTER_RANGE: ALL4}))

    # externalTrafficPolicy: Local - the /32 via the two nodes with ready endpoints.
    walk.converge(BASE)
    walk.wait_tor(only(BASE_ROUTES))

    # What an operator sees with `ip r` on the ToR, in the walkthrough's format.
    text = walk.tor_ip_route(4)
    blocks = _route_blocks(text)
    assert blocks["10.49.0.0/16"][0] == "proto bird metric 32"
    assert blocks["10.49.0.0/16"][1:] == [
        f"nexthop via {ip} dev lan0 weight 1" for ip in (N1, N2, N3)
    ], text
    assert blocks["10.49.62.131"][0] == "proto bird metric 32"
    assert blocks["10.49.62.131"][1:] == [
        f"nexthop via {ip} dev lan0 weight 1" for ip in (N1, N2)
    ], text
    assert {dst for dst in blocks if not dst.startswith("192.168.")} == {
        "10.49.0.0/16",
        "10.49.62.131",
    }, text


@pytest.mark.netns
def test_local_policy_ignores_endpoints_that_are_not_ready(walk: Walkthrough) -> None:
    walk.converge(BASE.but("node-2 not ready", endpoints=("node-1",), not_ready=("node-2",)))
    walk.wait_tor(only({CLUSTER_RANGE: ALL4, SVC32: {N1}}))


# --- 2. traffic from outside ---------------------------------------------------------------------


@pytest.mark.netns
def test_http_from_outside_reaches_the_nodes_with_endpoints(walk: Walkthrough) -> None:
    walk.serve(SERVICE_IP, ["node-1", "node-2"])
    # Both nodes behind the ToR's /32 answer: the ECMP route carries real traffic.
    assert http_answers(walk, SERVICE_IP, {"node-1", "node-2"}) == {"node-1", "node-2"}


# --- 3. nodes keep Service routes out of their own kernel ----------------------------------------


@pytest.mark.netns
def test_nodes_install_no_service_routes(walk: Walkthrough) -> None:
    # BIRD does hold them: node-1's own blackholes, and node-3 learns node-1's and node-2's
    # /32 over the node-to-node mesh. So an empty kernel table is the kernel filter's doing.
    established_sessions(walk, 4)
    svc4 = walk.lab.birds["node-1"].show_route("protocol svc4")
    assert "10.49.0.0/16" in svc4 and "10.49.62.131/32" in svc4 and "blackhole" in svc4, svc4
    wait_until(
        lambda: walk.lab.birds["node-3"].show_route(f"{SVC32} all"),
        timeout=10,
        what="node-3 learning nginx's /32 from node-1 and node-2 over the mesh",
        ok=lambda out: "Mesh_192_168_1_11" in out and "Mesh_192_168_1_12" in out,
    )
    assert_no_service_routes_on_nodes(walk)


# --- 4. switching to external IPs, reloading in place --------------------------------------------


@pytest.mark.netns
def test_switch_to_external_ips_without_session_resets(walk: Walkthrough) -> None:
    walk.serve(SERVICE_IP, ["node-1", "node-2"])
    assert walk.get(SERVICE_IP).strip() in {"node-1", "node-2"}
    before = established_sessions(walk, 4)
    pids = {key: bird.pid for key, bird in walk.lab.birds.items()}

    answers = walk.apply(BASE.but("external IPs", external=True))
    assert set(answers) == set(NODES)
    assert all("Reconfigured" in a for a in answers.values()), answers

    walk.wait_tor(only({EXTERNAL_RANGE: ALL4, EXT32: {N1, N2}}))
    # The cluster route is gone, so the cluster IP no longer answers (its servers still run).
    assert walk.get_fails(SERVICE_IP), "the cluster IP still answers after its withdrawal"
    walk.serve(EXTERNAL_IP, ["node-1", "node-2"])
    assert walk.get(EXTERNAL_IP).strip() in {"node-1", "node-2"}
    assert_no_service_routes_on_nodes(walk)

    # No BGP session went down: same daemons, every session still Established since the
    # same instant, on the ToR and on every node (mesh included).
    assert_no_resets(before, established_sessions(walk, 4))
    assert {key: bird.pid for key, bird in walk.lab.birds.items()} == pids


# --- 5. endpoints moving -------------------------------------------------------------------------


@pytest.mark.netns
def test_endpoint_moves_and_last_endpoint_leaves(walk: Walkthrough) -> None:
    # node-2's pod is rescheduled on node-3.
    walk.converge(BASE.but("moved", endpoints=("node-1", "node-3")))
    walk.wait_tor(only({CLUSTER_RANGE: ALL4, SVC32: {N1, N3}}))
    walk.converge(BASE.but("one left", endpoints=("node-3",)))
    walk.wait_tor(only({CLUSTER_RANGE: ALL4, SVC32: {N3}}))
    # The last endpoint goes away: the /32 is withdrawn, the range stays.
    walk.converge(BASE.but("none left", endpoints=()))
    walk.wait_tor(only({CLUSTER_RANGE: ALL4}))


# --- 6. IPv6 --------------------------------------------------------------------------------------


@pytest.mark.netns
def test_dual_stack_over_ipv6_sessions(walk: Walkthrough) -> None:
    before4 = established_sessions(walk, 4)
    walk.apply(DUAL)
    walk.wait_sessions(DUAL)
    dual = {**BASE_ROUTES, CLUSTER_RANGE6: ALL6, SVC128: {N1_6, N2_6}}
    walk.wait_tor(only(dual))
    # Adding the IPv6 sessions left the IPv4 ones alone.
    assert_no_resets(before4, established_sessions(walk, 4))
    # The v6 routes arrive over the v6 sessions, with the nodes' v6 addresses as next hops.
    tor_route = walk.lab.namespace("tor").route_for(CLUSTER_RANGE6)
    assert tor_route is not None and len(tor_route["nexthops"]) == 3, tor_route

    walk.serve(SERVICE_IP6, ["node-1", "node-2"])
    assert http_answers(walk, SERVICE_IP6, {"node-1", "node-2"}) == {"node-1", "node-2"}
    established_sessions(walk, 6)
    assert_no_service_routes_on_nodes(walk)

    walk.converge(DUAL.but("moved", endpoints=("node-3",)))
    walk.wait_tor(only({CLUSTER_RANGE: ALL4, SVC32: {N3}, CLUSTER_RANGE6: ALL6, SVC128: {N3_6}}))
    walk.converge(DUAL.but("none left", endpoints=()))
    walk.wait_tor(only({CLUSTER_RANGE: ALL4, CLUSTER_RANGE6: ALL6}))


# --- 7. a Service IP held on an interface ---------------------------------------------------------


def hold_on_lo(walk: Walkthrough, nodes: tuple[str, ...], ip: str) -> None:
    """Put `ip` on `lo` of each node, as an LB agent or a DSR setup does, and wait (bounded)
    until each node's BIRD knows the address: from then on its `protocol direct` has seen it."""
    for node in nodes:
        walk.lab.hold_address(node, ip, "lo")
    for node in nodes:
        wait_until(
            lambda node=node: walk.lab.birds[node].birdc("show interfaces"),
            timeout=10,
            what=f"{node}'s BIRD seeing {ip} on lo",
            ok=lambda out: f"{ip}/32" in out,
        )


def release_from_lo(walk: Walkthrough, nodes: tuple[str, ...], ip: str) -> None:
    for node in nodes:
        walk.lab.release_address(node, ip, "lo")


@pytest.mark.netns
def test_nodes_holding_the_service_ip_on_lo_still_advertise_it(walk: Walkthrough) -> None:
    # nginx's endpoint nodes hold 10.49.62.131/32 on lo and serve it there; so does node-3,
    # which has no endpoint. BIRD's direct protocol sees all three addresses.
    holders = ("node-1", "node-2", "node-3")
    try:
        hold_on_lo(walk, holders, SERVICE_IP)
        for node in holders:
            walk.serve_on(SERVICE_IP, node, iface="lo")
        # The ToR routes the /32 over exactly the two nodes with endpoints...
        walk.wait_tor(only(BASE_ROUTES))
        for node in ("node-1", "node-2"):
            best = walk.lab.birds[node].show_route(f"{SVC32} primary")
            assert "[svc4" in best and "direct" not in best, best
        # ...and every request through it is answered, by one of them only.
        answers = [walk.get(SERVICE_IP).strip() for _ in range(20)]
        assert set(answers) == {"node-1", "node-2"}, answers
    finally:
        walk.stop_serving()
        release_from_lo(walk, holders, SERVICE_IP)


@pytest.mark.netns
def test_a_held_service_ip_without_a_ready_local_endpoint_is_not_advertised(
    walk: Walkthrough,
) -> None:
    # No ready endpoint anywhere: only the range is advertised, though node-1 and node-3
    # hold the Service IP on lo.
    holders = ("node-1", "node-3")
    try:
        walk.converge(BASE.but("none ready", endpoints=(), not_ready=("node-1",)))
        hold_on_lo(walk, holders, SERVICE_IP)
        walk.wait_tor(only({CLUSTER_RANGE: ALL4}))
        # Still so once a ready endpoint shows up on node-2: the /32 is via node-2 alone.
        walk.converge(BASE.but("node-2 ready", endpoints=("node-2",), not_ready=("node-1",)))
        walk.wait_tor(only({CLUSTER_RANGE: ALL4, SVC32: {N2}}))
    finally:
        release_from_lo(walk, holders, SERVICE_IP)


def test_expected_routes_match_the_walkthrough() -> None:
    """The lab command's convergence targets say what the tests above spell out."""

    class FakeLab:
        node_names = NODES
        node_addresses: dict[str, tuple[str, str]] = {  # noqa: RUF012 - read-only stand-in
            "node-1": (N1, N1_6),
            "node-2": (N2, N2_6),
            "node-3": (N3, N3_6),
        }

    lab: Any = FakeLab()
    assert expected_tor_routes(BASE, lab) == only(BASE_ROUTES)
    assert expected_tor_routes(Step(policy="Cluster"), lab) == only({CLUSTER_RANGE: ALL4})
    assert expected_tor_routes(BASE.but("x", external=True), lab) == only(
        {EXTERNAL_RANGE: ALL4, EXT32: {N1, N2}}
    )
    assert expected_tor_routes(DUAL, lab) == only(
        {**BASE_ROUTES, CLUSTER_RANGE6: ALL6, SVC128: {N1_6, N2_6}}
    )


def _route_blocks(text: str) -> dict[str, list[str]]:
    """`ip route` text -> destination -> [attributes, nexthop lines...], whitespace-normalized."""
    blocks: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        norm = re.sub(r"\s+", " ", line.strip())
        if line[0].isspace():
            current.append(norm)
        else:
            dst, _, rest = norm.partition(" ")
            current = blocks.setdefault(dst, [rest])
    return blocks
