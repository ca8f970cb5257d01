"""One reconcile step with a fake Reloader: ordering of load/rename/reload, skipping unchanged
text, keeping the last good config on every failure, retries, backoff, metrics and logs."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from birdgen.backoff import Backoff
from birdgen.errors import ConfigRejected, ReloadFailed, SourceError
from birdgen.model.resources import Environment
from birdgen.reload.control import DaemonUnreachable
from birdgen.sidecar import logs
from birdgen.sidecar.reconcile import Reconciler
from birdgen.sources import files

WALKTHROUGH = Path(__file__).parents[2] / "examples" / "walkthrough"
SECRET = "s3cr3t-value"


class FakeReloader:
    """BIRD as the sidecar sees it: `refusal` is raised before the commit (BIRD refused the
    text, or staging it failed), `reload_error` after it (the reload failed once the file was
    in place, as when no daemon answers) and by `reload`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.refusal: Exception | None = None
        self.reload_error: Exception | None = None
        self.live: Path | None = None
        self.live_at_install: list[str] = []

    def install(self, candidate: Path, live: Path, commit: Callable[[], None]) -> str:
        # The candidate sits beside the live file, and the live file is not yet replaced.
        assert candidate.parent == live.parent and live == (self.live or live)
        self.calls.append(("install", candidate.read_text()))
        self.live_at_install.append(live.read_text() if live.exists() else "")
        if self.refusal:
            raise self.refusal
        commit()
        if self.reload_error:
            raise self.reload_error
        return "0003 Reconfigured"

    def reload(self, live: Path) -> str:
        self.calls.append(("reload", live.read_text()))
        if self.reload_error:
            raise self.reload_error
        return "0003 Reconfigured"


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def cluster(extra: str = "") -> list[dict[str, Any]]:
    objects = files.load([str(WALKTHROUGH)])
    if extra:
        objects += files.parse_text(extra, "<extra>")
    return objects


PASSWORD = f"""
apiVersion: v1
kind: Secret
metadata: {{name: bgp, namespace: kube-system}}
stringData: {{pw: {SECRET}}}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {{name: tor}}
spec:
  peerIP: 192.168.1.1
  asNumber: 64512
  password: {{secretKeyRef: {{name: bgp, key: pw}}}}
"""
NEW_SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: extra, namespace: default}
spec: {type: ClusterIP, clusterIP: 10.49.9.9, externalIPs: [10.50.0.1]}
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec:
  asNumber: 64512
  serviceClusterIPs: [{cidr: 10.49.0.0/16}]
  serviceExternalIPs: [{cidr: 10.50.0.0/24}]
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Reconciler, FakeReloader, Clock, Path]:
    live = tmp_path / "bird.conf"
    live.write_text("# booted\n")
    reloader = FakeReloader()
    reloader.live = live
    clock = Clock()
    env = Environment.from_mapping("node-1", {}, "node-1")
    return Reconciler(live, env, reloader, clock=clock), reloader, clock, live


def test_bird_loads_the_candidate_then_it_is_renamed_into_place(setup: Any) -> None:
    rec, bird, _clock, live = setup
    out = rec.step(cluster)
    assert out.status == "applied" and out.summary == "0003 Reconfigured"
    assert [c[0] for c in bird.calls] == ["install"], "one load of the text, no check before"
    assert bird.calls[0][1] == live.read_text() and bird.live_at_install == ["# booted\n"]
    assert rec.ready and not list(live.parent.glob(".bird.conf.*")), "no staged file left"
    assert rec.metrics.value("birdgen_reloads_total", result="success") == 1


def test_unchanged_text_does_not_call_bird(setup: Any) -> None:
    rec, bird, _clock, _live = setup
    rec.step(cluster)
    bird.calls.clear()
    assert rec.step(cluster).status == "unchanged"
    assert bird.calls == []
    assert (
        rec.metrics.value("birdgen_unchanged_total") == 1
        and rec.metrics.value("birdgen_renders_total") == 2
    )


def test_a_fresh_start_reloads_a_file_that_is_already_right_once(setup: Any) -> None:
    # The process before was killed between its rename and `configure`: the file holds what
    # this one renders, and BIRD may still run the one before. Reload once, then skip.
    rec, bird, _clock, live = setup
    rec.step(cluster)  # the predecessor: renamed the file into place (its reload is moot)
    env = Environment.from_mapping("node-1", {}, "node-1")
    restarted = Reconciler(live, env, bird, clock=Clock())
    bird.calls.clear()
    out = restarted.step(cluster)
    assert out.status == "applied" and bird.calls == [("reload", live.read_text())]
    assert restarted.metrics.value("birdgen_reloads_total", result="success") == 1
    assert restarted.ready
    bird.calls.clear()
    assert restarted.step(cluster).status == "unchanged" and bird.calls == []


def test_a_fresh_start_whose_reload_fails_is_not_ready_and_retries(setup: Any) -> None:
    rec, bird, clock, live = setup
    rec.step(cluster)
    restarted = Reconciler(
        live, Environment.from_mapping("node-1", {}, "node-1"), bird, clock=clock
    )
    bird.reload_error = DaemonUnreachable("no BIRD at /run/bird/bird.ctl")
    assert restarted.step(cluster).status == "failed" and not restarted.ready
    bird.reload_error = None
    clock.now += 60
    assert restarted.retry_due() and restarted.step(cluster).status == "applied"


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (ConfigRejected("/x:5:20 Invalid prefix length 33"), "rejected"),
        (OSError(28, "No space left on device"), "write"),
    ],
)
def test_a_refused_text_leaves_the_live_file_alone(
    setup: Any, error: Exception, cause: str
) -> None:
    rec, bird, _clock, live = setup
    bird.refusal = error
    out = rec.step(cluster)
    assert (out.status, out.cause) == ("failed", cause)
    assert live.read_text() == "# booted\n" and [c[0] for c in bird.calls] == ["install"]
    assert not list(live.parent.glob(".bird.conf.*"))
    assert rec.metrics.value("birdgen_failures_total", cause=cause) == 1 and not rec.ready


def test_a_failed_reload_is_retried_without_a_new_change(setup: Any) -> None:
    rec, bird, clock, _live = setup
    bird.reload_error = DaemonUnreachable("no BIRD answers on control socket /x: No such file")
    out = rec.step(cluster)
    assert out.cause == "bird_unreachable" and rec.reload_pending
    assert rec.next_retry == 1.0 and not rec.retry_due()
    clock.now = 1.0
    assert rec.retry_due()
    bird.reload_error = None
    bird.calls.clear()
    out = rec.step(cluster)
    # The file already holds the text, yet BIRD has not loaded it: reload it as it is.
    assert out.status == "applied" and [c[0] for c in bird.calls] == ["reload"]
    assert not rec.reload_pending and rec.next_retry is None
    assert rec.metrics.value("birdgen_reloads_total", result="failure") == 1


def test_source_and_input_errors_are_counted_by_cause(setup: Any) -> None:
    rec, bird, _clock, live = setup

    def broken() -> list[dict[str, Any]]:
        raise SourceError("cluster.yaml: line 3: mapping values are not allowed here")

    assert rec.step(broken).cause == "source"
    bad = "apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: bad}\nspec: {peerIP: 1.2.3, asNumber: 1}\n"  # fmt: skip
    # The peer alone would be left out; without the node being rendered nothing can be made.
    assert rec.step(lambda: files.parse_text(bad, "<bad>")).cause == "invalid_input"
    assert bird.calls == [] and live.read_text() == "# booted\n"


def test_backoff_doubles_caps_and_resets() -> None:
    b = Backoff(1.0, 60.0)
    assert [b.next() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    b.reset()
    assert b.next() == 1
    for _ in range(5000):  # a day and more of failures: still capped, never an overflow
        assert b.next() <= 60.0


def test_backoff_with_jitter_stays_within_half_and_whole_delay() -> None:
    b = Backoff(0.2, 30.0, jitter=True)
    for ceiling in (0.2, 0.4, 0.8, 1.6):
        assert ceiling / 2 <= b.next() < ceiling


def test_backoff_resets_after_success(setup: Any) -> None:
    rec, bird, clock, _live = setup
    bird.reload_error = ReloadFailed("configure: unexpected reply 9999 x")
    for expected in (1, 2, 4):
        rec.step(cluster)
        assert rec.next_retry == clock.now + expected
    bird.reload_error = None
    rec.step(cluster)
    assert rec.backoff.failures == 0 and rec.next_retry is None


def test_latency_is_observed_from_the_first_change_to_acceptance(setup: Any) -> None:
    rec, _bird, clock, _live = setup
    rec.note_change(0.0)
    rec.step(cluster)
    assert rec.metrics.value("birdgen_change_to_reload_seconds_count") == 0, (
        "the initial sync is not a change"
    )
    clock.now = 10.0
    rec.note_change(10.0)
    rec.note_change(10.5)  # a later batch does not move the start
    clock.now = 10.25
    rec.step(lambda: cluster(NEW_SERVICE))
    assert rec.metrics.value("birdgen_change_to_reload_seconds_count") == 1
    text = rec.metrics.expose()
    assert 'birdgen_change_to_reload_seconds_bucket{le="0.2"} 0' in text
    assert 'birdgen_change_to_reload_seconds_bucket{le="0.3"} 1' in text
    assert 'birdgen_advertised_prefixes{family="ipv4",kind="range"} 2' in text
    assert 'birdgen_advertised_prefixes{family="ipv4",kind="cluster_ip"} 1' in text


def test_a_failure_is_logged_once_and_no_secret_reaches_the_log(setup: Any) -> None:
    rec, bird, _clock, live = setup
    stream = io.StringIO()
    logs.setup("json", logging.DEBUG, stream)
    try:
        rec.step(lambda: cluster(PASSWORD))
        assert SECRET in live.read_text()  # the password is in the config, as it must be
        bird.refusal = ConfigRejected("/x:4:3 syntax error")
        bad = "apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: d}\nspec: {clusterIP: 10.49.1.1, externalIPs: [10.50.0.9]}\n"  # fmt: skip
        for _ in range(3):
            rec.step(lambda: cluster(PASSWORD + "---\n" + bad + NEW_SERVICE))
        for _ in range(2):  # no node to render: nothing can be held back to work around it
            rec.step(lambda: files.parse_text(PASSWORD, "<no nodes>"))
        bird.refusal = None
        bad_peer = PASSWORD.replace("asNumber: 64512", "asNumber: -1")
        for _ in range(2):  # held at its last valid version, with its password
            assert rec.step(lambda: cluster(bad_peer)).ok
    finally:
        logging.getLogger("birdgen").handlers.clear()
    output = stream.getvalue()
    assert SECRET not in output
    errors = [line for line in output.splitlines() if '"level": "error"' in line]
    assert len(errors) == 2, errors  # one per distinct failure, not one per retry
    assert '"cause": "rejected"' in errors[0] and '"cause": "invalid_input"' in errors[1]
    assert rec.metrics.value("birdgen_failures_total", cause="rejected") == 3
    held = [line for line in output.splitlines() if '"event": "held"' in line]
    assert len(held) == 1 and "BGPPeer/tor" in held[0], held  # logged once per change
    assert SECRET in live.read_text()


class RefusingBird(FakeReloader):
    """Refuses any candidate with a line containing `refused`, naming the line as BIRD does."""

    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused

    def install(self, candidate: Path, live: Path, commit: Callable[[], None]) -> str:
        for n, line in enumerate(candidate.read_text().splitlines(), 1):
            if self.refused in line:
                self.calls.append(("refused", candidate.read_text()))
                raise ConfigRejected(f"{candidate}:{n}:9 syntax error, unexpected '%'")
        return super().install(candidate, live, commit)


def test_a_service_whose_route_bird_refuses_is_held_and_the_rest_applied(tmp_path: Path) -> None:
    live = tmp_path / "bird.conf"
    bird = RefusingBird("route 10.49.62.131/32 ")  # the walkthrough's nginx, Local, on node-1
    rec = Reconciler(live, Environment.from_mapping("node-1", {}, "node-1"), bird, clock=Clock())
    assert rec.step(lambda: cluster(NEW_SERVICE)).status == "applied"
    assert [(h.kind, h.name, h.state) for h in rec.held] == [("Service", "default/nginx", "left out")]  # fmt: skip
    assert "line" in rec.held[0].reason and "syntax error" in rec.held[0].reason
    text = live.read_text()
    assert "10.49.62.131/32" not in text and "route 10.50.0.0/24 blackhole;" in text
    assert rec.ready and rec.metrics.value("birdgen_held_objects", kind="Service") == 1
    assert rec.held_text() == f"{rec.held[0]}\n"


def test_a_refusal_no_object_explains_keeps_the_last_config(tmp_path: Path) -> None:
    live = tmp_path / "bird.conf"
    live.write_text("# booted\n")
    bird = RefusingBird("router id")
    rec = Reconciler(live, Environment.from_mapping("node-1", {}, "node-1"), bird, clock=Clock())
    out = rec.step(lambda: cluster(NEW_SERVICE))
    assert out.cause == "rejected" and live.read_text() == "# booted\n" and not rec.ready


def test_a_version_bird_never_ran_is_not_held_on_to(setup: Any) -> None:
    # The ToR's peer changes, and BIRD does not take the config (a transaction undone, or no
    # answer). When the peer then turns invalid, the version to hold is the one BIRD ran.
    rec, bird, _clock, live = setup
    peer = "apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: tor}\nspec: {peerIP: 192.168.1.1, asNumber: %s}\n"  # fmt: skip
    assert rec.step(lambda: cluster(peer % 64512)).status == "applied"
    bird.reload_error = ReloadFailed("8002 undone: session Global_192_168_1_1 went down")
    assert rec.step(lambda: cluster(peer % 64600)).status == "failed"
    assert "64600" in live.read_text()  # renamed into place, but BIRD never ran it
    bird.reload_error = None
    out = rec.step(lambda: cluster(peer % 4294967296))
    assert out.status == "applied"
    assert [(h.kind, h.name, h.state) for h in rec.held] == [("BGPPeer", "tor", "held")]
    assert "192.168.1.1 as 64512" in live.read_text()
