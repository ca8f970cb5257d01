"""The live cluster source, against FakeApiServer through the real `kubernetes` client.

Covers the one-shot listing (`KubeSource.list_all`) and the sidecar's watcher: events, resuming
after a dropped connection, relisting after compaction without losing objects, sync state,
and bounded shutdown.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubeapi_rbac import deploy_rbac
from kubeapi_server import FakeApiServer, new_api_client
from waiting import wait_for

from birdgen.errors import SourceError
from birdgen.sources.kube import KubeSource, KubeWatcher, connect

PEERS = "bgppeers.crd.projectcalico.org"
# Open watches with populate()'s objects: one per type but legacy Endpoints (EndpointSlices are
# served), and one for the Secret the BGPPeer names.
WATCHES = 9
CALICO_V1 = "crd.projectcalico.org/v1"


def obj(api_version: str, kind: str, name: str, namespace: str | None = None, **body: Any) -> Any:
    meta = {"name": name} | ({"namespace": namespace} if namespace else {})
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}


def peer(name: str, ip: str = "192.0.2.1", secret: str = "bgp-secrets") -> Any:
    password = {"secretKeyRef": {"name": secret, "key": "pw"}}
    return obj(
        CALICO_V1, "BGPPeer", name, spec={"peerIP": ip, "asNumber": 64512, "password": password}
    )


def populate(server: FakeApiServer) -> None:
    server.create(obj("v1", "Service", "dns", "kube-system", spec={"clusterIP": "10.96.0.10"}))
    server.create(obj("v1", "Endpoints", "dns", "kube-system", subsets=[]))
    server.create(obj("v1", "Node", "node-1", status={"addresses": []}))
    server.create(obj("v1", "Secret", "bgp-secrets", "kube-system", data={"pw": "cHc="}))
    server.create(obj("v1", "Secret", "bgp-secrets", "default", data={}))
    server.create(obj("v1", "Secret", "unnamed", "kube-system", data={}))
    server.create(
        obj("discovery.k8s.io/v1", "EndpointSlice", "dns-abc", "kube-system", endpoints=[])
    )
    server.create(obj(CALICO_V1, "BGPConfiguration", "default", spec={"asNumber": 64512}))
    server.create(peer("tor-1"))
    server.create(obj(CALICO_V1, "Node", "node-1", spec={"bgp": {"ipv4Address": "10.0.0.1/24"}}))
    server.create(obj(CALICO_V1, "IPPool", "pool-1", spec={"cidr": "10.244.0.0/16"}))
    server.create(obj(CALICO_V1, "BGPFilter", "filter-1", spec={}))


def names(snapshot: list[Any], kind: str) -> set[str]:
    return {o["metadata"]["name"] for o in snapshot if o["kind"] == kind}


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    # Bookmarks are rare here so that resourceVersions only move with real changes.
    with FakeApiServer(bookmark_interval=60) as srv:
        yield srv


@pytest.fixture
def source(server: FakeApiServer, tmp_path: Path) -> Iterator[KubeSource]:
    api_client = new_api_client(server.kubeconfig(tmp_path / "kubeconfig"))
    yield KubeSource(api_client)
    api_client.close()


@pytest.fixture
def start_watcher(source: KubeSource) -> Iterator[Callable[..., KubeWatcher]]:
    started: list[KubeWatcher] = []

    def start(**options: Any) -> KubeWatcher:
        options = {"backoff_initial": 0.05, "backoff_max": 0.4, **options}
        watcher = KubeWatcher(source, **options).start()
        started.append(watcher)
        return watcher

    yield start
    for watcher in started:
        assert watcher.stop(timeout=3)


# ---- list_all -------------------------------------------------------------------------------


def test_list_all_returns_every_kind_with_kind_and_api_version(
    server: FakeApiServer, source: KubeSource
) -> None:
    populate(server)
    objects = source.list_all()
    got = {(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in objects}
    assert got == {
        ("v1", "Service", "dns"),
        ("v1", "Node", "node-1"),
        ("v1", "Secret", "bgp-secrets"),
        ("discovery.k8s.io/v1", "EndpointSlice", "dns-abc"),
        (CALICO_V1, "BGPConfiguration", "default"),
        (CALICO_V1, "BGPPeer", "tor-1"),
        (CALICO_V1, "Node", "node-1"),
        (CALICO_V1, "IPPool", "pool-1"),
        (CALICO_V1, "BGPFilter", "filter-1"),
    }
    # Plain manifest-shaped dicts: camelCase fields as the API sends them, no model classes.
    (calico_node,) = [o for o in objects if o["apiVersion"] == CALICO_V1 and o["kind"] == "Node"]
    assert type(calico_node) is dict
    assert calico_node["spec"] == {"bgp": {"ipv4Address": "10.0.0.1/24"}}
    assert list(calico_node)[:2] == ["apiVersion", "kind"]


def test_secrets_come_only_from_the_configured_namespace(tmp_path: Path) -> None:
    # $NAMESPACE=default, with the Secrets Role applied there as deploy/README says.
    with FakeApiServer(rbac=deploy_rbac("default")) as server:
        populate(server)
        api_client = new_api_client(server.kubeconfig(tmp_path / "kc"))
        secrets = [o for o in KubeSource(api_client, "default").list_all() if o["kind"] == "Secret"]
        assert [s["metadata"]["namespace"] for s in secrets] == ["default"]
        api_client.close()


def test_a_forbidden_optional_crd_is_absent_and_the_watcher_syncs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An RBAC that never heard of BGPFilters: 403 on them, as on a cluster whose Calico
    # predates the CRD. birdgen must still sync (and so become ready), with a warning.
    rbac = deploy_rbac()
    for o in rbac:
        if o["kind"] == "ClusterRole":
            for rule in o["rules"]:
                rule["resources"] = [r for r in rule["resources"] if r != "bgpfilters"]
    with FakeApiServer(rbac=rbac, bookmark_interval=60) as server:
        populate(server)
        api_client = new_api_client(server.kubeconfig(tmp_path / "kc"))
        kinds = {o["kind"] for o in KubeSource(api_client).list_all()}
        assert "BGPFilter" not in kinds and "BGPPeer" in kinds
        watcher = KubeWatcher(KubeSource(api_client), absent_recheck_seconds=60)
        watcher.start()
        try:
            assert watcher.wait_synced(5)
            informer = watcher.informers["bgpfilters.crd.projectcalico.org"]
            assert informer.installed is False and "403" in informer.why_absent
            assert watcher.errors == {}
            assert any("treated as absent" in r.message for r in caplog.records)
            # Re-checked rarely: one list so far, no watch.
            assert [r.status for r in server.requests(resource=informer.rtype.name)] == [403, 403]
        finally:
            assert watcher.stop(timeout=3)
            api_client.close()


def test_missing_crd_lists_as_empty(tmp_path: Path) -> None:
    with FakeApiServer(missing=["bgpfilters.crd.projectcalico.org", PEERS]) as server:
        api_client = new_api_client(server.kubeconfig(tmp_path / "kc"))
        server.create(obj(CALICO_V1, "IPPool", "pool-1", spec={}))
        kinds = {o["kind"] for o in KubeSource(api_client).list_all()}
        assert kinds == {"IPPool"}
        api_client.close()


def test_list_failures_raise_source_error(server: FakeApiServer, source: KubeSource) -> None:
    server.fail_next(1, status=500, resource="services")
    with pytest.raises(SourceError, match=r"listing services: HTTP 500"):
        source.list_all()
    # A core type is never optional: 404 is an error there.
    server.fail_next(1, status=404, resource="nodes")
    with pytest.raises(SourceError, match=r"listing nodes: HTTP 404"):
        source.list_all()


@pytest.mark.parametrize("kind", ["Service", "BGPPeer"])
def test_a_page_nested_beyond_the_stack_is_a_source_error(
    server: FakeApiServer, source: KubeSource, kind: str
) -> None:
    # A real API server prunes such a field; a hostile or broken one may still send it. It
    # must end as an error naming the list, not a RecursionError's traceback: for a kind read
    # into a typed document (Service) and for one read whole (BGPPeer).
    deep: Any = "x"
    for _ in range(2 * sys.getrecursionlimit()):
        deep = [deep]
    body = obj("v1", "Service", "deep", "default") if kind == "Service" else peer("deep")
    body["spec"] = {**body.get("spec", {}), "deep": deep}
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit * 20)  # the double copies and encodes it in Python
    try:
        server.create(body)
    finally:
        sys.setrecursionlimit(limit)
    plural = "services" if kind == "Service" else "bgppeers.crd.projectcalico.org"
    with pytest.raises(SourceError, match=rf"listing {plural}: RecursionError"):
        source.list_all()


def test_unreachable_server_raises_source_error(tmp_path: Path) -> None:
    server = FakeApiServer().start()
    api_client = new_api_client(server.kubeconfig(tmp_path / "kc"))
    server.stop()
    with pytest.raises(SourceError, match="listing services"):
        KubeSource(api_client).list_all()
    api_client.close()


def test_connect_reads_a_kubeconfig(
    server: FakeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # connect() honours proxy variables like any client would; keep the test on loopback.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    server.create(peer("tor-1"))
    api_client = connect(str(server.kubeconfig(tmp_path / "kc")))
    assert [o["metadata"]["name"] for o in KubeSource(api_client).list_all()] == ["tor-1"]
    api_client.close()
    with pytest.raises(SourceError, match="cannot load"):
        connect(str(tmp_path / "no-such-kubeconfig"))


# ---- the watcher ----------------------------------------------------------------------------


def test_watcher_sees_create_modify_delete(
    server: FakeApiServer, start_watcher: Callable[..., KubeWatcher]
) -> None:
    populate(server)
    # What each on_change call saw. Only watch events can produce views holding the changes
    # below: the initial lists ran before any of them was made, and nothing relists here.
    views: list[set[tuple[str, str, str]]] = []
    started: list[KubeWatcher] = []

    def on_change() -> None:
        if started:
            views.append(
                {
                    (o["kind"], o["metadata"]["name"], str(o.get("spec", {}).get("peerIP", "")))
                    for o in started[0].snapshot()
                }
            )

    watcher = start_watcher(on_change=on_change)
    started.append(watcher)
    assert watcher.wait_synced(5)
    assert {(o["kind"], o["metadata"]["name"]) for o in watcher.snapshot()} >= {
        ("BGPPeer", "tor-1"),
        ("Service", "dns"),
    }

    def heard(change: Callable[[set[tuple[str, str, str]]], bool], since: int) -> bool:
        return any(change(view) for view in views[since:])

    mark = len(views)
    server.create(peer("tor-2", "192.0.2.2"))
    wait_for(lambda: heard(lambda v: ("BGPPeer", "tor-2", "192.0.2.2") in v, mark), what="ADDED")
    mark = len(views)
    server.patch("BGPPeer", "tor-2", None, lambda o: o["spec"].update(peerIP="192.0.2.22"))
    wait_for(
        lambda: heard(lambda v: ("BGPPeer", "tor-2", "192.0.2.22") in v, mark), what="MODIFIED"
    )
    mark = len(views)
    server.delete("Service", "dns", "kube-system")
    wait_for(
        lambda: heard(lambda v: not any(k == "Service" and n == "dns" for k, n, _ in v), mark),
        what="DELETED",
    )

    snapshot = watcher.snapshot()
    assert all(o["apiVersion"] and o["kind"] for o in snapshot)
    keys = [
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in snapshot
    ]
    assert keys == sorted(keys)
    assert watcher.relists == 0  # so every view above came from a watch event
    assert watcher.errors == {}


def test_snapshot_is_a_copy(
    server: FakeApiServer, start_watcher: Callable[..., KubeWatcher]
) -> None:
    server.create(peer("tor-1"))
    watcher = start_watcher()
    assert watcher.wait_synced(5)
    watcher.snapshot()[0]["spec"]["peerIP"] = "mutated"
    assert watcher.snapshot()[0]["spec"]["peerIP"] == "192.0.2.1"


def test_dropped_watch_resumes_from_last_version_without_relisting(
    server: FakeApiServer, start_watcher: Callable[..., KubeWatcher]
) -> None:
    populate(server)
    watcher = start_watcher()
    assert watcher.wait_synced(5)
    server.create(peer("before-drop"))
    wait_for(lambda: "before-drop" in names(watcher.snapshot(), "BGPPeer"))
    resume_from = watcher.informers[PEERS].resource_version
    wait_for(lambda: server.open_watches() == WATCHES)
    lists_before = len(server.requests(watch=False))
    mark = time.monotonic()

    assert server.drop_watches() == WATCHES
    server.create(peer("during-drop"))  # happens while nobody watches
    wait_for(lambda: "during-drop" in names(watcher.snapshot(), "BGPPeer"))
    wait_for(lambda: server.open_watches() == WATCHES)

    assert len(server.requests(watch=False)) == lists_before, "a dropped watch must not relist"
    rewatch = server.requests(resource=PEERS, watch=True, since=mark)[0]
    assert rewatch.query["resourceVersion"] == resume_from
    assert watcher.relists == 0
    assert watcher.watch_restarts >= WATCHES
    assert watcher.errors["connection"] >= 1


def test_compaction_relists_without_objects_vanishing(
    server: FakeApiServer, start_watcher: Callable[..., KubeWatcher]
) -> None:
    populate(server)
    keepers = {f"peer-{i}" for i in range(20)}
    for name in sorted(keepers):
        server.create(peer(name))
    watcher = start_watcher()
    assert watcher.wait_synced(5)
    wait_for(lambda: server.open_watches() == WATCHES)

    # Slow the relist down so snapshots are taken while it is in flight.
    server.delay_next(1, 0.5, resource=PEERS, watch=False)
    lists_before = len(server.requests(resource=PEERS, watch=False))
    missing: list[set[str]] = []
    stop_polling = threading.Event()

    polls: list[int] = []

    def poll() -> None:
        # A short pause between looks: a poll that never yields starves the threads it watches.
        while not stop_polling.wait(0.002):
            polls.append(1)
            gone = keepers - names(watcher.snapshot(), "BGPPeer")
            if gone:
                missing.append(gone)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        server.compact()  # open watches get ERROR 410 and must relist
        wait_for(lambda: len(server.requests(resource=PEERS, watch=False)) > lists_before)
        server.create(peer("after-compaction"))
        wait_for(lambda: "after-compaction" in names(watcher.snapshot(), "BGPPeer"))
    finally:
        stop_polling.set()
        poller.join(5)
    assert missing == []
    assert len(polls) > 5, "the poller did not get to look"
    assert watcher.informers[PEERS].expirations == 1
    assert watcher.informers[PEERS].relists == 1
    assert watcher.errors == {}


def test_gap_after_compaction_is_repaired_by_the_relist(tmp_path: Path) -> None:
    # Here the server answers a watch from a compacted version with HTTP 410 (the other path).
    with FakeApiServer(bookmark_interval=60, expired_watch="http") as server:
        api_client = new_api_client(server.kubeconfig(tmp_path / "kc"))
        for name in ("stays", "goes"):
            server.create(peer(name))
        watcher = KubeWatcher(KubeSource(api_client), backoff_initial=0.05, backoff_max=0.2)
        watcher.start()
        try:
            assert watcher.wait_synced(5)
            wait_for(lambda: server.open_watches(PEERS) == 1)
            # Keep the peers informer away while things change and history is compacted.
            server.fail_next(3, status=503, resource=PEERS, watch=True)
            server.drop_watches()
            server.delete("BGPPeer", "goes")
            server.create(peer("new"))
            server.compact()
            wait_for(lambda: names(watcher.snapshot(), "BGPPeer") == {"stays", "new"})
            informer = watcher.informers[PEERS]
            assert informer.expirations == 1 and informer.relists == 1
            assert informer.errors["http_503"] == 3
        finally:
            assert watcher.stop(timeout=3)
            api_client.close()


def test_not_synced_until_every_initial_list_succeeds(
    server: FakeApiServer, start_watcher: Callable[..., KubeWatcher]
) -> None:
    server.create(peer("tor-1"))
    # Fail the peers list until told otherwise, so nothing here depends on the backoff's timing.
    server.fail_next(1_000_000, status=503, resource=PEERS, watch=False)
    watcher = start_watcher(backoff_initial=0.05, backoff_max=0.1)
    peers = watcher.informers[PEERS]
    wait_for(lambda: peers.errors["http_503"] >= 3)
    wait_for(
        lambda: sum(i.synced() for i in watcher.informers.values()) == len(watcher.informers) - 1
    )
    assert not peers.synced()
    assert not watcher.synced()
    assert "tor-1" not in names(watcher.snapshot(), "BGPPeer")
    server.clear_faults()
    assert watcher.wait_synced(5)
    assert "tor-1" in names(watcher.snapshot(), "BGPPeer")


def test_missing_crd_is_synced_empty_and_picked_up_once_installed(tmp_path: Path) -> None:
    with FakeApiServer(missing=[PEERS]) as server:
        api_client = new_api_client(server.kubeconfig(tmp_path / "kc"))
        watcher = KubeWatcher(KubeSource(api_client), absent_recheck_seconds=0.2)
        watcher.start()
        try:
            assert watcher.wait_synced(5)
            assert watcher.informers[PEERS].installed is False
            server.set_installed(PEERS, True)
            server.create(peer("tor-1"))
            wait_for(lambda: "tor-1" in names(watcher.snapshot(), "BGPPeer"))
            assert watcher.errors == {}
        finally:
            assert watcher.stop(timeout=3)
            api_client.close()


def test_no_periodic_relist_only_watches_resumed_from_bookmarks(tmp_path: Path) -> None:
    with FakeApiServer(bookmark_interval=0.1) as server:
        populate(server)
        api_client = new_api_client(server.kubeconfig(tmp_path / "kc"))
        watcher = KubeWatcher(KubeSource(api_client), watch_timeout_seconds=1).start()
        try:
            assert watcher.wait_synced(5)
            wait_for(lambda: watcher.informers[PEERS].watches >= 3, timeout=10)
            server.create(peer("later"))  # moves the version on, so a bookmark says it
            wait_for(lambda: watcher.informers[PEERS].watches >= 5, timeout=10)
            assert watcher.relists == 0
            assert len(server.requests(resource=PEERS, watch=False)) == 1
            watches = server.requests(resource=PEERS, watch=True)
            assert all(r.query["allowWatchBookmarks"] == "true" for r in watches)
            # Resumed from a bookmark's version after the last change, not from the list's.
            assert int(watches[-1].query["resourceVersion"]) >= server.resource_version
        finally:
            assert watcher.stop(timeout=3)
            api_client.close()


def test_lists_are_paginated_and_endpoints_read_only_without_slices(tmp_path: Path) -> None:
    with FakeApiServer(missing=["endpointslices.discovery.k8s.io"]) as server:
        populate(server)
        for i in range(1234):
            server.create(obj("v1", "Service", f"s{i:04}", "default", spec={"clusterIP": "None"}))
        api_client = new_api_client(server.kubeconfig(tmp_path / "kc"))
        objects = KubeSource(api_client).list_all()
        assert len([o for o in objects if o["kind"] == "Service"]) == 1235
        pages = server.requests(resource="services")
        assert [r.query.get("limit") for r in pages] == ["500"] * 3
        assert "continue" in pages[1].query
        assert {o["kind"] for o in objects} >= {"Endpoints"}
        api_client.close()


def test_secrets_are_read_by_name_only_the_named_ones(
    server: FakeApiServer, start_watcher: Callable[..., KubeWatcher]
) -> None:
    populate(server)
    watcher = start_watcher()
    assert watcher.wait_synced(5)
    assert names(watcher.snapshot(), "Secret") == {"bgp-secrets"}
    secrets = server.requests(resource="secrets")
    assert secrets and all(r.query["fieldSelector"] == "metadata.name=bgp-secrets" for r in secrets)
    assert all(r.status == 200 for r in secrets)
    # A peer that names another Secret: birdgen asks for it by name. The Role does not grant
    # it (403): that Secret is as good as absent, said once, and the watcher stays synced, so
    # a node whose BGPPeer names a Secret it may not read still becomes ready (the session is
    # rendered without that password, as Calico's confd does).
    server.create(peer("tor-2", "192.0.2.2", secret="unnamed"))
    wait_for(lambda: "unnamed" in watcher.secret_informers)
    informer = watcher.secret_informers["unnamed"]
    wait_for(lambda: informer.synced())
    assert informer.why_absent.startswith("HTTP 403")
    assert watcher.synced()
    assert names(watcher.snapshot(), "Secret") == {"bgp-secrets"}
    forbidden = [r for r in server.requests(resource="secrets") if r.status == 403]
    assert forbidden and all(r.query["fieldSelector"] == "metadata.name=unnamed" for r in forbidden)
    server.delete("BGPPeer", "tor-2")
    wait_for(lambda: "unnamed" not in watcher.secret_informers)
    assert watcher.synced()


def test_a_forbidden_secret_is_said_once_naming_it(
    server: FakeApiServer, start_watcher: Callable[..., KubeWatcher], caplog: Any
) -> None:
    populate(server)
    server.create(peer("tor-2", "192.0.2.2", secret="unnamed"))
    with caplog.at_level("WARNING", logger="birdgen.sources.kube"):
        watcher = start_watcher()
        assert watcher.wait_synced(5)
    said = [r.getMessage() for r in caplog.records if "unnamed" in r.getMessage()]
    assert len(said) == 1, said
    assert said[0].startswith("secrets kube-system/unnamed: treated as absent (HTTP 403")


def test_on_change_failures_are_counted_not_fatal(
    server: FakeApiServer, start_watcher: Callable[..., KubeWatcher]
) -> None:
    def broken() -> None:
        raise RuntimeError("consumer bug")

    watcher = start_watcher(on_change=broken)
    assert watcher.wait_synced(5)
    server.create(peer("tor-1"))
    wait_for(lambda: "tor-1" in names(watcher.snapshot(), "BGPPeer"))
    assert watcher.errors["on_change"] >= WATCHES + 1  # first lists, Endpoints parking, an event


# Stopping must cut open watches and backoff sleeps short, not sit them out. The bound is set
# far below what sitting them out takes (a 300 s watch, a 600 s backoff) and far above what a
# loaded machine needs to end the informer threads, so it tells the two apart without timing anything.
STOP_BOUND = 30.0


def test_stop_is_bounded(server: FakeApiServer, source: KubeSource) -> None:
    watcher = KubeWatcher(source).start()  # default, production-sized timeouts
    assert watcher.wait_synced(5)
    wait_for(lambda: server.open_watches() == WATCHES - 1)  # no Secret named
    assert watcher.stop(timeout=STOP_BOUND)
    assert not any(t.name.startswith("informer-") for t in threading.enumerate())


def test_stop_is_bounded_while_backing_off(tmp_path: Path) -> None:
    server = FakeApiServer().start()
    api_client = new_api_client(server.kubeconfig(tmp_path / "kc"))
    server.stop()  # every list now fails; informers sit in backoff
    watcher = KubeWatcher(KubeSource(api_client), backoff_initial=600, backoff_max=600).start()
    wait_for(lambda: watcher.errors["connection"] >= WATCHES - 1)  # no Secret named yet
    assert not watcher.synced()
    assert watcher.stop(timeout=STOP_BOUND)
    api_client.close()


def test_a_list_runs_with_the_cyclic_collector_paused(
    server: FakeApiServer, source: KubeSource
) -> None:
    # Each collection during a sync would walk every record built so far again.
    populate(server)
    seen: list[bool] = []

    def transform(item: Any) -> Any:
        seen.append(gc.isenabled())
        return item

    services = next(t for t in source.types if t.kind == "Service")
    assert gc.isenabled()
    assert source.list_type(services, transform).items
    assert seen and not any(seen)
    assert gc.isenabled()
