"""`birdgen run` end to end: the real `kubernetes` client over HTTP (FakeApiServer) on one side,
a real BIRD (in a private network namespace) on the other, the Sidecar in between.

What BIRD routes is read back with `show route` over its control socket, so each test checks
the outcome an operator cares about, not birdgen's idea of it.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from conftest import (
    CALICO,
    NODE,
    Bird,
    Running,
    endpoint_slice,
    obj,
    populate,
    service,
)
from kubeapi_server import FakeApiServer
from waiting import wait_for

WEB = "10.49.0.10/32"
RANGE = "10.49.0.0/16"
SLICES = "endpointslices.discovery.k8s.io"


@contextmanager
def routes_never_lose(bird: Bird, required: set[str]) -> Iterator[list[set[str]]]:
    """Poll BIRD's routes every ~10 ms in the background; fail if `required` ever shrinks."""
    seen: list[set[str]] = []
    missing: list[set[str]] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            routes = bird.routes()
            seen.append(routes)
            if not required <= routes:
                missing.append(required - routes)
            time.sleep(0.01)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(10)
    assert not missing, f"routes withdrawn while they were still valid: {missing[:3]}"
    assert len(seen) > 5, "the poller did not get to look"


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """What birdgen logs, captured on its own logger (the CLI's `logs.setup` is not used here)."""
    captured: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(record)

    logger = logging.getLogger("birdgen")
    handler, level = Collect(logging.INFO), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield captured
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def scrape(running: Running, path: str) -> tuple[int, str]:
    assert running.sidecar.ops is not None
    host, port = running.sidecar.ops.address
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_routes_follow_services_and_endpoint_slices(
    api: FakeApiServer, bird: Bird, start_sidecar: Callable[..., Running]
) -> None:
    populate(api)
    running = start_sidecar(metrics_addr="127.0.0.1:0")
    assert scrape(running, "/healthz")[0] == 200
    wait_for(lambda: {RANGE, WEB} <= bird.routes(), what="initial routes in BIRD")
    # BIRD shows the routes as soon as it has applied the config, a moment before its
    # `configure` reply reaches birdgen and marks it ready: wait for that, bounded.
    wait_for(
        lambda: scrape(running, "/readyz") == (200, "ready\n"), what="/readyz after the first apply"
    )

    # A second Service with an endpoint here: its /32 appears.
    api.create(service("api", "10.49.0.11"))
    api.create(endpoint_slice("api", [NODE]))
    wait_for(lambda: "10.49.0.11/32" in bird.routes(), what="new service's route")

    # The endpoint moves to another node: Local policy, so this node withdraws the /32.
    api.patch("EndpointSlice", "api-1", "default", lambda s: endpoint_slice("api", ["node-2"]))
    wait_for(lambda: "10.49.0.11/32" not in bird.routes(), what="withdrawal after the move")
    api.patch("EndpointSlice", "api-1", "default", lambda s: endpoint_slice("api", [NODE]))
    wait_for(lambda: "10.49.0.11/32" in bird.routes(), what="route back")

    api.delete("Service", "api", "default")
    wait_for(lambda: "10.49.0.11/32" not in bird.routes(), what="withdrawal after delete")
    assert {RANGE, WEB} <= bird.routes()

    m = running.metrics
    # BIRD shows the last withdrawal before the sidecar has counted the reload that made it.
    wait_for(
        lambda: (
            m.value("birdgen_reloads_total", result="success") >= 5
            and m.value("birdgen_change_to_reload_seconds_count") >= 4
        ),
        what="five reloads and four change-to-reload latencies counted",
    )
    assert m.value("birdgen_reloads_total", result="failure") == 0
    code, text = scrape(running, "/metrics")
    assert code == 200
    assert 'birdgen_advertised_prefixes{family="ipv4",kind="cluster_ip"} 1' in text
    assert 'birdgen_advertised_prefixes{family="ipv4",kind="range"} 1' in text
    assert "birdgen_change_to_reload_seconds_bucket" in text
    assert "birdgen_seconds_since_last_successful_apply " in text


def test_nothing_is_written_before_every_initial_list(
    api: FakeApiServer, bird: Bird, start_sidecar: Callable[..., Running]
) -> None:
    populate(api)
    # The EndpointSlice list fails for a while: without it web's /32 would be missing, so a
    # render now would withdraw a valid route. birdgen must wait instead.
    api.fail_next(6, 503, resource=SLICES, watch=False)
    before = bird.conf.read_text()
    running = start_sidecar()
    wait_for(lambda: running.sidecar.kube is not None and running.sidecar.kube.informers[SLICES].errors["http_503"] >= 3)  # fmt: skip
    assert bird.conf.read_text() == before and not running.sidecar.reconciler.ready
    wait_for(lambda: {RANGE, WEB} <= bird.routes(), what="routes after the list succeeded")
    assert running.metrics.value("birdgen_renders_total") >= 1


def test_watch_drops_relists_and_restarts_withdraw_nothing(
    api: FakeApiServer, bird: Bird, start_sidecar: Callable[..., Running]
) -> None:
    populate(api)
    running = start_sidecar()
    wait_for(lambda: {RANGE, WEB} <= bird.routes(), what="initial routes")
    # BIRD shows the routes before the sidecar has counted its reload; ready comes after that.
    wait_for(lambda: running.sidecar.reconciler.ready, what="the first reconcile counted")
    reloads = running.metrics.value("birdgen_reloads_total", result="success")
    with routes_never_lose(bird, {RANGE, WEB}):
        assert api.drop_watches() > 0
        wait_for(lambda: api.open_watches() >= 8, what="watches resumed")
        api.compact()  # every open watch gets 410 and every informer relists
        kube = running.sidecar.kube
        assert kube is not None
        wait_for(lambda: kube.expirations >= 8, what="expirations")
        wait_for(lambda: api.open_watches() >= 8, what="watches after relist")
        # An API outage: every request fails for a while.
        api.fail_next(30, 503)
        api.drop_watches()
        wait_for(lambda: sum(kube.errors.values()) >= 10, what="errors during the outage")
        api.clear_faults()  # the outage ends
        # birdgen restarts: the new process finds the file right, and reloads it once only to
        # be sure BIRD runs it (its predecessor may have died before `configure`).
        running.stop()
        again = start_sidecar()
        wait_for(lambda: again.sidecar.reconciler.ready, what="the restarted sidecar ready")
        wait_for(
            lambda: again.metrics.value("birdgen_unchanged_total") >= 1,
            what="the restart found no change",
        )
    assert running.metrics.value("birdgen_reloads_total", result="success") == reloads
    assert again.metrics.value("birdgen_reloads_total", result="success") == 1
    # And the restarted sidecar still follows changes.
    api.delete("Service", "web", "default")
    wait_for(lambda: WEB not in bird.routes(), what="withdrawal after the restart")


def test_an_invalid_bgppeer_is_held_and_everything_else_reaches_bird(
    api: FakeApiServer,
    bird: Bird,
    start_sidecar: Callable[..., Running],
    records: list[logging.LogRecord],
) -> None:
    populate(api)
    running = start_sidecar(backoff=0.05, metrics_addr="127.0.0.1:0")
    wait_for(lambda: {RANGE, WEB} <= bird.routes(), what="initial routes")
    wait_for(lambda: running.sidecar.reconciler.ready, what="the first reconcile counted")
    assert "192.168.1.1 as 64512" in bird.conf.read_text()

    # The ToR's peer turns invalid, and a peer that never was valid appears.
    tor = api.get("BGPPeer", "tor", api_version=CALICO)
    tor["spec"]["asNumber"] = 4294967296
    api.update(tor)
    api.create(obj(CALICO, "BGPPeer", "bad", spec={"peerIP": "192.168.1.2:0", "asNumber": 64512}))
    # An unrelated Service change must still reach BIRD.
    api.create(service("api", "10.49.0.11"))
    api.create(endpoint_slice("api", [NODE]))
    wait_for(lambda: "10.49.0.11/32" in bird.routes(), what="the Service change despite the peers")
    wait_for(lambda: len(running.sidecar.reconciler.held) == 2, what="both peers reported")
    conf = bird.conf.read_text()
    assert "192.168.1.1 as 64512" in conf, "the ToR's session stays at its last valid version"
    assert "192.168.1.2" not in conf, "the never-valid peer is left out"
    assert {RANGE, WEB} <= bird.routes()

    held = [r for r in records if getattr(r, "event", "") == "held"]
    assert sorted(r.getMessage().split(":")[0] for r in held) == ["BGPPeer/bad", "BGPPeer/tor"]
    assert any("held at its last valid version" in r.getMessage() for r in held)
    assert any("left out" in r.getMessage() for r in held)
    assert not [r for r in records if r.levelno >= logging.ERROR]
    assert running.metrics.value("birdgen_failures_total", cause="invalid_input") == 0
    assert running.metrics.value("birdgen_held_objects", kind="BGPPeer") == 2
    assert 'birdgen_held_objects{kind="BGPPeer"} 2.0' in scrape_text(running)
    status, body = scrape(running, "/readyz")
    assert status == 200 and "BGPPeer/tor: held" in body and "BGPPeer/bad: left out" in body

    # More changes while they are held: one log line per change, not one per render.
    api.create(service("db", "10.49.0.12"))
    api.create(endpoint_slice("db", [NODE]))
    wait_for(lambda: "10.49.0.12/32" in bird.routes(), what="a second change")
    assert len([r for r in records if getattr(r, "event", "") == "held"]) == 2

    # Fixed and deleted: released, and the gauge goes back to 0.
    tor = api.get("BGPPeer", "tor", api_version=CALICO)
    tor["spec"]["asNumber"] = 64513
    api.update(tor)
    api.delete("BGPPeer", "bad", api_version=CALICO)
    wait_for(lambda: "192.168.1.1 as 64513" in bird.conf.read_text(), what="the fixed peer")
    wait_for(lambda: not running.sidecar.reconciler.held, what="nothing held")
    assert running.metrics.value("birdgen_held_objects", kind="BGPPeer") == 0
    assert 'birdgen_held_objects{kind="BGPPeer"} 0.0' in scrape_text(running)
    released = [r for r in records if getattr(r, "event", "") == "released"]
    assert sorted(r.getMessage().split(":")[0] for r in released) == ["BGPPeer/bad", "BGPPeer/tor"]
    assert scrape(running, "/readyz") == (200, "ready\n")


def test_a_service_address_bird_refuses_is_held_and_the_rest_applied(
    api: FakeApiServer,
    bird: Bird,
    start_sidecar: Callable[..., Running],
    records: list[logging.LogRecord],
) -> None:
    populate(api)
    config = api.get("BGPConfiguration", "default", api_version=CALICO)
    config["spec"]["serviceExternalIPs"] = [{"cidr": "fd00:50::/64"}]
    api.update(config)
    running = start_sidecar(backoff=0.05)
    wait_for(lambda: {RANGE, WEB} <= bird.routes(), what="initial routes")
    # An address with a zone: whichever stage refuses it (birdgen's model, or BIRD's check),
    # that Service is held back and the other changes go on.
    zoned = service("zoned", "10.49.0.20")
    zoned["spec"]["externalIPs"] = ["fd00:50::5%eth0"]
    api.create(zoned)
    api.create(endpoint_slice("zoned", [NODE]))
    api.create(service("api", "10.49.0.11"))
    api.create(endpoint_slice("api", [NODE]))
    wait_for(lambda: "10.49.0.11/32" in bird.routes(), what="the other Service despite it")
    wait_for(lambda: running.sidecar.reconciler.held != (), what="the Service reported")
    assert [(h.kind, h.name, h.state) for h in running.sidecar.reconciler.held] == [
        ("Service", "default/zoned", "left out")
    ]
    assert "%" not in bird.conf.read_text() and "10.49.0.20" not in bird.conf.read_text()
    assert not [r for r in records if r.levelno >= logging.ERROR]


def scrape_text(running: Running) -> str:
    return running.metrics.expose()


def test_bird_down_then_back(
    api: FakeApiServer, bird: Bird, start_sidecar: Callable[..., Running]
) -> None:
    populate(api)
    running = start_sidecar(backoff=0.05)
    wait_for(lambda: {RANGE, WEB} <= bird.routes(), what="initial routes")
    m = running.metrics
    bird.stop()
    api.create(service("api", "10.49.0.11"))
    api.create(endpoint_slice("api", [NODE]))
    wait_for(lambda: m.value("birdgen_failures_total", cause="bird_unreachable") >= 3, what="retries while BIRD is down")  # fmt: skip
    # `bird -p` passed, so the checked file is already live; BIRD just could not be told.
    assert running.sidecar.reconciler.reload_pending
    bird.start()
    wait_for(lambda: not running.sidecar.reconciler.reload_pending, what="the retry succeeding")
    wait_for(lambda: "10.49.0.11/32" in bird.routes(), what="the new route after the retry")
    wait_for(
        lambda: m.value("birdgen_reloads_total", result="success") >= 2,
        what="the retried reload counted",
    )


def test_a_burst_of_1000_endpoint_changes_causes_few_reloads(
    api: FakeApiServer, bird: Bird, start_sidecar: Callable[..., Running]
) -> None:
    populate(api)
    running = start_sidecar(debounce=0.1, max_delay=1.0)  # the defaults
    wait_for(lambda: {RANGE, WEB} <= bird.routes(), what="initial routes")
    wait_for(lambda: running.sidecar.reconciler.ready, what="the first reconcile counted")
    m = running.metrics
    before = m.value("birdgen_reloads_total", result="success")
    began = time.monotonic()
    for i in range(1000):
        # Each change alters the config: the endpoint of a Local Service flips between nodes.
        # Spread over ~2.5 s, longer than max-delay, so intermediate states are applied too.
        api.update(endpoint_slice("web", [NODE] if i % 2 else ["node-2"]))
        time.sleep(0.0025)
    burst = time.monotonic() - began
    # The final state, told apart from every intermediate one by its two endpoints: not here.
    last = int(
        api.update(endpoint_slice("web", ["node-2", "node-2"]))["metadata"]["resourceVersion"]
    )
    kube = running.sidecar.kube
    assert kube is not None
    wait_for(lambda: int(kube.informers[SLICES].resource_version or 0) >= last, what="the last event seen")  # fmt: skip
    wait_for(lambda: running.sidecar.reconciler.pending_since is None and running.sidecar.debouncer.deadline() is None, what="the burst applied")  # fmt: skip
    wait_for(lambda: WEB not in bird.routes(), what="the final state in BIRD")
    assert RANGE in bird.routes()
    reloads = m.value("birdgen_reloads_total", result="success") - before
    # At most one reload per max-delay window, plus the one after the burst.
    assert 1 <= reloads <= burst / 1.0 + 2, (reloads, burst)


def test_a_change_after_the_sync_is_planned_from_what_the_informers_changed(
    api: FakeApiServer, bird: Bird, start_sidecar: Callable[..., Running]
) -> None:
    # The loop hands the plan state what its informers changed since the last step (a
    # `Feed`), so a step compares no other record; the view counts the steps fed so.
    populate(api)
    running = start_sidecar()
    wait_for(lambda: {RANGE, WEB} <= bird.routes(), what="initial routes in BIRD")
    view = running.sidecar.reconciler.state.view
    fed = view.fed_updates
    api.patch("EndpointSlice", "web-1", "default", lambda s: endpoint_slice("web", ["node-2"]))
    wait_for(lambda: WEB not in bird.routes(), what="withdrawal after the move")
    api.patch("EndpointSlice", "web-1", "default", lambda s: endpoint_slice("web", [NODE]))
    wait_for(lambda: WEB in bird.routes(), what="route back")
    assert view.fed_updates > fed


def test_the_first_step_takes_the_initial_lists_without_waiting_out_the_debounce(
    api: FakeApiServer, bird: Bird, start_sidecar: Callable[..., Running]
) -> None:
    # The initial lists are a complete view, not a burst of changes: the first step takes them
    # as the last list completes, rather than after the quiet period (an hour here), which
    # would leave them pending for a second step; later changes are debounced as ever.
    populate(api)
    running = start_sidecar(debounce=3600.0, max_delay=3600.0)
    wait_for(lambda: running.sidecar.reconciler.ready, what="the first step")
    assert {RANGE, WEB} <= bird.routes()
    assert running.sidecar.debouncer.deadline() is None, "the lists' changes are taken"
    api.create(service("api", "10.49.0.11"))
    api.create(endpoint_slice("api", [NODE]))
    wait_for(lambda: running.sidecar.debouncer.deadline() is not None, what="a debounced change")
    assert "10.49.0.11/32" not in bird.routes() and running.sidecar.reconciler.successes == 1


def test_the_view_taken_during_the_quiet_period_misses_no_later_change(
    api: FakeApiServer, bird: Bird, start_sidecar: Callable[..., Running]
) -> None:
    # The loop takes its view of the cluster as a batch's first change arrives, while it would
    # only wait out the quiet period; a change after that makes the step take a fresh view and
    # join what changed over both, so the step is still fed and nothing is missed.
    populate(api)
    running = start_sidecar(debounce=1.0, max_delay=5.0)
    wait_for(lambda: running.sidecar.reconciler.ready, what="the first step")
    sidecar, view = running.sidecar, running.sidecar.reconciler.state.view
    # One change alone: the step uses the view taken ahead as it is.
    api.patch("EndpointSlice", "web-1", "default", lambda s: endpoint_slice("web", ["node-2"]))
    wait_for(lambda: WEB not in bird.routes(), what="the withdrawal")
    wait_for(lambda: sidecar.taken_ahead == 1, what="the step done with the view taken ahead")
    wait_for(lambda: sidecar.reconciler.successes == 2, what="the step counted")
    fed, takes = view.fed_updates, sidecar.takes_ahead
    api.create(service("api", "10.49.0.11"))
    wait_for(lambda: sidecar.takes_ahead == takes + 1, what="the view taken ahead")
    api.create(endpoint_slice("api", [NODE]))  # within the quiet period, after that view
    wait_for(lambda: "10.49.0.11/32" in bird.routes(), what="the Service and its slice in BIRD")
    assert sidecar.taken_ahead == 1, "a fresh view, the one taken ahead being out of date"
    assert view.fed_updates == fed + 1, "fed what changed over both views"
