"""One change, one update: a node that originates many /32s tells its peer only what changed.

Issue 14: on the node that advertises 100,000 /32s, one Service address that comes or goes must
reach the ToR as exactly one BGP update (or one withdraw), not as a new announcement of
everything. The node here runs the config birdgen renders for `bench/gen_cluster.py --preset
routes` node-0001 (1,000 /32s, enough to see a re-announcement and quick to start), its peer a
plain BIRD (birdgen.lab.peer), each in a namespace this test creates. A change goes through the
sidecar's own path: `pipeline.install` stages the text and BIRD loads it with
`configure "candidate"` (SocketReloader), or within a transaction (`configure … timeout`, the
counts, `configure confirm`). What was sent is read from BIRD's counters on both ends: the
peer's import updates and withdraws received, and the node's export ones sent.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from birdgen.lab.netns import wait_until
from birdgen.lab.peer import NodeAndPeer
from birdgen.lab.topology import lab_available
from birdgen.model.resources import Environment
from birdgen.pipeline import Load, Rendered, install, render_objects
from birdgen.reload import SocketReloader
from birdgen.reload.show import Protocol, RouteChanges, parse_routes
from birdgen.verify.transaction import Transaction

ROOT = Path(__file__).resolve().parents[2]
ROUTES = 1_000
NODE = "node-0001"
EXTRA = "172.20.250.250"  # in the generated load-balancer range; no generated Service has it
LOADERS = ("configure", "transaction")


def generated(out: Path) -> list[dict[str, Any]]:
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gen_cluster.py"), "--preset", "routes",
         "--routes", str(ROUTES), "--nodes", "3", "--seed", "1", "--format", "json",
         "--out", str(out)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return [item for path in sorted(out.glob("*.json")) for item in json.loads(path.read_text())["items"]]  # fmt: skip


def with_extra_ingress(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same cluster with a second load-balancer IP on its first Service: one /32 more."""
    first = next(i for i, o in enumerate(objects) if o["kind"] == "Service")
    service = copy.deepcopy(objects[first])
    service["status"]["loadBalancer"]["ingress"].append({"ip": EXTRA, "ipMode": "VIP"})
    return [*objects[:first], service, *objects[first + 1 :]]


@dataclass(frozen=True)
class Sent:
    """Route updates and withdraws that crossed the session during one change."""

    updates: int
    withdraws: int


class Node:
    def __init__(self, lab: NodeAndPeer, base: Rendered, added: Rendered) -> None:
        self.lab, self.base, self.added = lab, base, added
        self.live = lab.node.conf
        self.reloader = SocketReloader(str(lab.node.sock))
        self.transaction = Transaction(str(lab.node.sock), 30)

    def loader(self, how: str, rendered: Rendered) -> Load:
        """How the sidecar has BIRD take a staged text (Reconciler._loader)."""
        if how == "configure":
            return lambda candidate, commit: self.reloader.install(candidate, self.live, commit)
        return lambda candidate, commit: self.transaction.install(
            candidate, self.live, commit, rendered.plan, rendered.text
        )

    def reload_live(self, how: str, rendered: Rendered) -> str:
        """BIRD reads the live file again, as the sidecar has it do after a failed reload."""
        if how == "configure":
            return self.reloader.reload(self.live)
        return self.transaction.reload(self.live, rendered.plan, rendered.text)

    def peer_routes(self) -> frozenset[str]:
        return parse_routes(self.lab.peer.birdc("show route protocol node")).prefixes

    def sent(
        self,
        change: Callable[[], object],
        peer_holds: frozenset[str],
        until: Callable[[Sent], bool] = lambda _: True,
    ) -> Sent:
        """What the peer was sent while `change` ran, on a session that stayed up all along
        (the counters restart with it), once the peer has received every update and withdraw
        the node sent, `until` holds, and a second reading of both ends agrees with the first.
        BIRD announces a change (or a re-announcement's first round) before it answers the
        next command, so the first reading already counts it. The peer must then hold
        `peer_holds`: the change did arrive."""
        node0, peer0 = self.lab.node_session(), self.lab.peer_session()
        change()
        readings: list[tuple[Sent, Sent]] = []

        def settled() -> tuple[bool, tuple[Sent, Sent]]:
            node, peer = self.lab.node_session(), self.lab.peer_session()
            received = _delta(peer0, peer, lambda c: (c.import_updates.received,
                                                      c.import_withdraws.received))  # fmt: skip
            sent = _delta(node0, node, lambda c: (c.export_updates.accepted,
                                                  c.export_withdraws.accepted))  # fmt: skip
            readings.append((received, sent))
            steady = len(readings) > 1 and readings[-2] == readings[-1]
            return steady and received == sent and until(received), readings[-1]

        _, (received, _) = wait_until(
            settled, timeout=60, interval=0.1, ok=lambda r: r[0],
            what="the peer to receive every change the node sent (received, sent)",
        )  # fmt: skip
        after = self.lab.peer_session()
        assert after.established and after.since == peer0.since, "the session went down"
        routes = self.peer_routes()
        assert routes == peer_holds, (received, sorted(routes ^ peer_holds)[:5])
        return received


def _delta(before: Protocol, after: Protocol, pick: Callable[[RouteChanges], Any]) -> Sent:
    [was], [now] = before.channels, after.channels
    assert was.changes is not None and now.changes is not None, (was, now)
    (u0, w0), (u1, w1) = pick(was.changes), pick(now.changes)
    return Sent(u1 - u0, w1 - w0)


@dataclass(frozen=True)
class Cluster:
    base: Rendered
    added: Rendered  # the same with one /32 more


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    objects = generated(tmp_path_factory.mktemp("cluster"))
    env = Environment.from_mapping(NODE, {})
    return Cluster(render_objects(objects, env), render_objects(with_extra_ingress(objects), env))


@pytest.fixture(scope="module")
def lab(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    ok, reason = lab_available()
    if not ok:
        pytest.skip(f"network-namespace lab unavailable: {reason}")
    base = cluster.base
    with NodeAndPeer(base.text, base.plan, tmp_path_factory.mktemp("one-update")) as pair:
        node = Node(pair, base, cluster.added)
        session = pair.session.name
        pair.node.wait_established([session], timeout=60)

        def both() -> tuple[frozenset[str], frozenset[str]]:
            return parse_routes(
                pair.node.show_route(f"export {session}")
            ).prefixes, node.peer_routes()

        wait_until(both, timeout=120, what=f"the peer holding every route {NODE} exports",
                   ok=lambda r: len(r[0]) >= ROUTES and r[0] == r[1])  # fmt: skip
        yield node


@pytest.fixture
def node(lab: Node) -> Iterator[Node]:
    yield lab
    # Back to the base config for the next test, whatever this one left behind.
    install(lab.base.text, lab.live, lab.loader("configure", lab.base))
    wait_until(lab.peer_routes, timeout=60, what="the base routes back",
               ok=lambda r: f"{EXTRA}/32" not in r)  # fmt: skip


def test_the_change_is_one_route_line(cluster: Cluster) -> None:
    """What the BIRD tests below rest on, in the text: the change adds one route, nothing else."""
    base, added = cluster.base.text.splitlines(), cluster.added.text.splitlines()
    assert len(base) > ROUTES and [line for line in added if line not in base] == [
        f"  route {EXTRA}/32 blackhole;"
    ]
    assert len(added) == len(base) + 1
    [session] = cluster.base.plan.v4.sessions
    assert not session.ibgp  # an eBGP session to the ToR, as in the benchmark


@pytest.mark.parametrize("how", LOADERS)
def test_a_route_added_then_removed_sends_one_update_then_one_withdraw(
    node: Node, how: str
) -> None:
    before = node.peer_routes()
    assert f"{EXTRA}/32" not in before
    after = before | {f"{EXTRA}/32"}
    add = node.sent(lambda: install(node.added.text, node.live, node.loader(how, node.added)),
                    after)  # fmt: skip
    assert add == Sent(updates=1, withdraws=0)
    remove = node.sent(lambda: install(node.base.text, node.live, node.loader(how, node.base)),
                       before)  # fmt: skip
    assert remove == Sent(updates=0, withdraws=1)


@pytest.mark.parametrize("how", LOADERS)
def test_the_same_config_again_sends_nothing(node: Node, how: str) -> None:
    routes = node.peer_routes()
    applied = []
    again = node.sent(lambda: applied.append(
        install(node.base.text, node.live, node.loader(how, node.base))), routes)  # fmt: skip
    assert not applied[0].changed and again == Sent(0, 0)
    # BIRD itself reading the same text again (the sidecar's reload of its live file).
    assert node.sent(lambda: node.reload_live(how, node.base), routes) == Sent(0, 0)


def test_a_re_announcement_would_be_seen(node: Node) -> None:
    """The counters see what a change must not cause: every route sent again (`reload out`
    re-sends the node's exports without taking the session down)."""
    routes = node.peer_routes()
    everything = Sent(updates=len(routes), withdraws=0)
    again = node.sent(lambda: node.lab.node.birdc(f"reload out {node.lab.session.name}"), routes,
                      until=lambda s: s.updates >= everything.updates)  # fmt: skip
    assert again == everything
