"""End to end: `birdgen status`, drift and the transactional reload on the walkthrough lab.

One lab serves the module (the ToR, node-1..3 running the BIRD configs birdgen renders, in
network namespaces this test creates; see birdgen.lab). Every test starts from the
walkthrough's base state on node-1 and puts it back afterwards. `birdgen status` runs inside
node-1's namespace (`ip netns exec`), so the kernel it reads is node-1's.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from walkthrough_lab import walkthrough_lab

from birdgen.lab.netns import wait_until
from birdgen.lab.walkthrough import BASE, Walkthrough, step_manifests
from birdgen.model.resources import Environment
from birdgen.pipeline import render_objects
from birdgen.reload import SocketReloader
from birdgen.reload.control import BirdControl
from birdgen.reload.show import parse_protocols, parse_routes, read_status
from birdgen.sidecar.drift import DriftWatch
from birdgen.sidecar.metrics import SidecarMetrics
from birdgen.sidecar.reconcile import Reconciler
from birdgen.verify.observe import observe
from birdgen.verify.transaction import Transaction, same_instant

NODE = "node-1"
TOR_SESSION = "Global_192_168_1_1"
SESSIONS = [TOR_SESSION, "Mesh_192_168_1_12", "Mesh_192_168_1_13"]
NGINX = "10.49.62.131/32"
TIMEOUT = 5  # --verify-timeout for the transaction tests


class Node:
    """node-1 of the lab, its manifests in a file, and `birdgen status` run in its namespace."""

    def __init__(self, walk: Walkthrough) -> None:
        self.walk = walk
        self.lab = walk.lab
        self.bird = self.lab.birds[NODE]
        self.ns = self.lab.node(NODE).ns
        assert self.lab.workdir is not None
        self.manifests = self.lab.workdir / "manifests.json"
        objects = step_manifests(walk.base, BASE, self.lab)
        self.manifests.write_text(
            json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
        )
        self.objects = objects
        self.base_text = walk.configs[NODE]

    def status(self, *extra: str) -> tuple[int, str]:
        argv = [sys.executable, "-m", "birdgen", "status", "-f", str(self.manifests), "--node", NODE,
                "--control-socket", str(self.bird.sock), *extra]  # fmt: skip
        done = self.ns.run(argv, timeout=60, check=False)
        return done.returncode, done.stdout + done.stderr

    def status_json(self) -> tuple[int, dict[str, Any]]:
        code, out = self.status("--json")
        return code, json.loads(out)

    def reset(self) -> None:
        """Back to the walkthrough's base config, every session Established."""
        self.bird.conf.write_text(self.base_text)
        self.bird.birdc("configure")
        self.bird.wait_established(SESSIONS, timeout=60)

    def reconciler(self, env: dict[str, str] | None = None) -> Reconciler:
        r = Reconciler(
            Path(self.bird.conf),
            Environment.from_mapping(NODE, env or {}),
            SocketReloader(str(self.bird.sock)),
            SidecarMetrics(),
        )
        r.transaction = Transaction(str(self.bird.sock), TIMEOUT)
        return r


@pytest.fixture(scope="module")
def lab_node() -> Iterator[Node]:
    with walkthrough_lab() as walk:
        yield Node(walk)


@pytest.fixture
def node(lab_node: Node) -> Iterator[Node]:
    lab_node.reset()
    yield lab_node
    lab_node.reset()


def wait_status(node: Node, code: int, timeout: float = 15.0) -> tuple[int, str]:
    return wait_until(
        node.status, timeout=timeout, interval=0.3, what=f"birdgen status exits {code}",
        ok=lambda r: r[0] == code,
    )  # fmt: skip


def test_status_json_matches_the_tors_view(node: Node) -> None:
    _, st = wait_until(node.status_json, timeout=15, interval=0.3, what="status in step",
                          ok=lambda r: r[0] == 0)  # fmt: skip
    assert st["in_sync"] and st["drift"] == {"missing": [], "unexpected": [], "sessions": []}
    assert st["bird"]["version"].startswith("2.") and st["bird"]["last_reconfiguration"]
    tor = node.lab.birds["tor"]
    tor_session = parse_protocols(tor.birdc("show protocols all node_1_v4"))["node_1_v4"]
    received = parse_routes(tor.birdc("show route protocol node_1_v4")).prefixes
    [ours] = [s for s in st["sessions"] if s["name"] == TOR_SESSION]
    # Both ends agree: the session is up, and what node-1 says it exports is what the ToR holds.
    assert ours["state"] == tor_session.bgp_state == "Established"
    assert ours["peer"] == "192.168.1.1" and tor_session.neighbor == node.lab.node(NODE).ipv4
    assert ours["exported"] == len(received) == tor_session.channels[0].imported
    assert set(st["plan"]["prefixes"]) == received == {"10.49.0.0/16", NGINX}
    assert {s["name"] for s in st["sessions"]} == set(SESSIONS)
    assert all(s["state"] == "Established" and s["exported"] == 2 for s in st["sessions"])


def test_status_reports_a_session_disabled_by_hand(node: Node) -> None:
    node.bird.birdc(f"disable {TOR_SESSION}")
    code, out = wait_status(node, 3)
    assert f"missing    {TOR_SESSION}" in out and "disabled" in out
    code, st = node.status_json()
    assert code == 3
    assert {(m["where"], m["prefix"]) for m in st["drift"]["missing"]} == {
        (TOR_SESSION, "10.49.0.0/16"), (TOR_SESSION, NGINX)
    }  # fmt: skip
    assert st["drift"]["sessions"] == [{"name": TOR_SESSION, "problem": "disabled"}]
    assert "nginx" in next(m["reason"] for m in st["drift"]["missing"] if m["prefix"] == NGINX)


def test_status_reports_a_hand_edit_and_the_next_apply_heals_it(node: Node) -> None:
    node.bird.conf.write_text(node.base_text.replace(f"  route {NGINX} blackhole;\n", ""))
    node.bird.birdc("configure")
    _, st = wait_until(node.status_json, timeout=15, interval=0.3, what="status drift",
                          ok=lambda r: r[0] == 3)  # fmt: skip
    assert {m["where"] for m in st["drift"]["missing"]} == {"svc4", *SESSIONS}
    assert {m["prefix"] for m in st["drift"]["missing"]} == {NGINX}
    # birdgen owns the file: the next apply rewrites it and BIRD loads it again.
    outcome = node.reconciler().step(lambda: list(node.objects))
    assert outcome.status == "applied", outcome
    assert "confirmed" in outcome.summary
    wait_status(node, 0)


def test_status_reports_service_routes_in_the_nodes_kernel(node: Node) -> None:
    node.ns.ip("route", "add", "blackhole", "10.49.5.0/24", "proto", "bird")
    try:
        code, st = node.status_json()
        assert code == 3
        assert st["drift"]["unexpected"] == [
            {"where": "kernel", "prefix": "10.49.5.0/24",
             "reason": "service routes never go into the node's kernel"}
        ]  # fmt: skip
        assert node.status("--no-kernel")[0] == 0
    finally:
        node.ns.ip("route", "del", "blackhole", "10.49.5.0/24", "proto", "bird")


def test_status_exits_1_when_bird_cannot_be_reached(node: Node, tmp_path: Path) -> None:
    code, out = node.status("--control-socket", str(tmp_path / "nobody.ctl"))
    assert code == 1 and "no BIRD answers" in out


def test_a_change_that_resets_unchanged_sessions_is_undone(node: Node) -> None:
    """A new router id changes no session's options, yet BIRD restarts every session."""
    with BirdControl(str(node.bird.sock)) as b:
        before = read_status(b)
    reconciler = node.reconciler({"CALICO_ROUTER_ID": "hash"})
    started = time.monotonic()
    outcome = reconciler.step(lambda: list(node.objects))
    elapsed = time.monotonic() - started
    assert outcome.status == "failed" and outcome.cause == "not_confirmed"
    assert elapsed < TIMEOUT
    for name in SESSIONS:  # each session, by name, and why
        assert f"session {name} (peer " in outcome.message
    assert "went down though its options did not change" in outcome.message
    with BirdControl(str(node.bird.sock)) as b:
        after = read_status(b)
    assert after.router_id == before.router_id == "192.168.1.11"  # BIRD runs the old config
    assert node.bird.conf.read_text() == node.base_text  # and the file says so again
    assert reconciler.metrics.value("birdgen_failures_total", cause="not_confirmed") == 1
    node.bird.wait_established(SESSIONS, timeout=60)
    # The same text again is refused without touching BIRD.
    again = reconciler.step(lambda: list(node.objects))
    assert again.cause == "not_confirmed"
    with BirdControl(str(node.bird.sock)) as b:
        last = read_status(b).last_reconfiguration
    # (printed anew from BIRD's monotonic clock each time: equal within a millisecond or so)
    assert same_instant(last.split()[-1], after.last_reconfiguration.split()[-1])


def test_a_change_that_verifies_is_confirmed(node: Node) -> None:
    objects = [
        o for o in node.objects if o.get("kind") != "EndpointSlice"
    ]  # nginx: no endpoint here
    reconciler = node.reconciler()
    outcome = reconciler.step(lambda: objects)
    assert outcome.status == "applied" and outcome.summary.endswith("verified and confirmed")
    with BirdControl(str(node.bird.sock)) as b:
        assert b.command("configure confirm").code == 19  # nothing left pending
    # BIRD now runs the config without the /32, so the old manifests' plan misses it.
    code, st = node.status_json()
    assert code == 3 and NGINX in st["plan"]["prefixes"]
    assert {m["prefix"] for m in st["drift"]["missing"]} == {NGINX}


def test_drift_watch_reports_within_one_interval_and_heals(node: Node) -> None:
    interval = 1.0
    reconciler = node.reconciler()
    watch = DriftWatch(str(node.bird.sock), reconciler.metrics, interval, kernel=False)
    reconciler.on_success = watch.set_plan
    assert reconciler.step(lambda: list(node.objects)).ok  # hands the plan to the watch
    watch.start()
    try:
        value = reconciler.metrics.value
        wait_until(lambda: watch.last, timeout=10, interval=0.05, what="a first drift check")
        assert watch.last is not None and watch.last.clean
        assert value("birdgen_bgp_sessions", state="Established") == 3
        assert value("birdgen_exported_prefixes", peer=TOR_SESSION) == 2
        assert value("birdgen_drift_prefixes", peer=TOR_SESSION, kind="missing") == 0
        assert "drift: none" in watch.readiness()

        node.bird.birdc(f"disable {TOR_SESSION}")
        disabled = time.monotonic()
        wait_until(lambda: value("birdgen_drift_prefixes", peer=TOR_SESSION, kind="missing"),
                   timeout=interval + 5, interval=0.05, what="the drift gauge", ok=lambda v: v == 2)  # fmt: skip
        assert time.monotonic() - disabled < interval + 5
        assert value("birdgen_bgp_sessions", state="down") == 1
        assert f"missing 10.49.0.0/16 at {TOR_SESSION}" in watch.readiness()
        assert watch.take_heal() and not watch.take_heal()  # once per drift

        # What the loop does with a heal: have BIRD load birdgen's config again.
        reconciler.reload_pending = True
        assert reconciler.step(lambda: list(node.objects)).status == "applied"
        node.bird.wait_established(SESSIONS, timeout=60)
        wait_until(lambda: value("birdgen_drift_prefixes", peer=TOR_SESSION, kind="missing"),
                   timeout=interval + 10, interval=0.05, what="the drift healed", ok=lambda v: v == 0)  # fmt: skip
    finally:
        watch.stop()


def test_observe_reads_every_session_and_table(node: Node) -> None:
    plan = render_objects(node.objects, Environment.from_mapping(NODE, {})).plan
    observed = observe(str(node.bird.sock), plan, kernel=False)
    assert set(observed.exports) == set(SESSIONS)
    assert observed.tables["svc4"].prefixes == {"10.49.0.0/16", NGINX}
    assert observed.kernel is None
