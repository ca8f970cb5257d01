"""The API server test double, checked with the real `kubernetes` client over real HTTP.

The live-source tests trust FakeApiServer to behave like kube-apiserver where birdgen depends
on it; these tests pin that behaviour down using the client's own typed APIs and its Watch.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubeapi_rbac import deploy_rbac
from kubeapi_server import FakeApiServer, new_api_client
from kubernetes import client, watch
from waiting import wait_for

CALICO = ("crd.projectcalico.org", "v1")


def service(name: str, namespace: str = "default", ip: str = "10.96.0.10") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"clusterIP": ip, "ports": [{"port": 53}]},
    }


def bgppeer(name: str, peer_ip: str = "192.0.2.1") -> dict[str, Any]:
    return {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "BGPPeer",
        "metadata": {"name": name},
        "spec": {"peerIP": peer_ip, "asNumber": 64512},
    }


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer(bookmark_interval=0.2) as srv:
        yield srv


@pytest.fixture
def api(server: FakeApiServer, tmp_path: Path) -> Iterator[Any]:
    api_client = new_api_client(server.kubeconfig(tmp_path / "kubeconfig"))
    yield api_client
    api_client.close()


def test_binds_loopback_and_writes_a_loadable_kubeconfig(
    server: FakeApiServer, tmp_path: Path
) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    path = server.kubeconfig(tmp_path / "kc")
    assert json.loads(path.read_text())["clusters"][0]["cluster"]["server"] == server.url
    api_client = new_api_client(path)
    assert api_client.configuration.host == server.url
    assert api_client.configuration.proxy is None


def test_list_with_typed_client_and_raw(server: FakeApiServer, api: Any) -> None:
    server.create(service("dns", "kube-system"))
    server.create(service("web", "prod"))
    core = client.CoreV1Api(api)

    typed = core.list_service_for_all_namespaces()
    assert [s.metadata.name for s in typed.items] == ["dns", "web"]
    assert typed.metadata.resource_version == str(server.resource_version)

    raw = json.loads(core.list_service_for_all_namespaces(_preload_content=False).data)
    assert raw["kind"] == "ServiceList" and raw["apiVersion"] == "v1"
    item = raw["items"][0]
    # As on a real server, list items carry no kind/apiVersion but full server metadata.
    assert "kind" not in item and "apiVersion" not in item
    assert {"uid", "resourceVersion", "creationTimestamp"} <= item["metadata"].keys()

    namespaced = core.list_namespaced_service("prod")
    assert [s.metadata.name for s in namespaced.items] == ["web"]


def test_resource_versions_are_global_and_increasing(server: FakeApiServer) -> None:
    a = server.create(service("a"))
    p = server.create(bgppeer("p"))
    a2 = server.patch("Service", "a", "default", lambda o: o["spec"].update(clusterIP="10.0.0.9"))
    rvs = [int(o["metadata"]["resourceVersion"]) for o in (a, p, a2)]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3
    assert a2["metadata"]["uid"] == a["metadata"]["uid"]
    with pytest.raises(ValueError):
        server.create(service("a"))


def test_get_single_objects_and_404(server: FakeApiServer, api: Any) -> None:
    server.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "bgp-secrets", "namespace": "kube-system"},
            "data": {"pw": "c2VjcmV0"},
        }
    )
    server.create(bgppeer("tor-1"))
    core = client.CoreV1Api(api)
    assert core.read_namespaced_secret("bgp-secrets", "kube-system").data == {"pw": "c2VjcmV0"}
    server.delete("Secret", "bgp-secrets", "kube-system")
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_secret("bgp-secrets", "kube-system")
    assert err.value.status == 404

    custom = client.CustomObjectsApi(api)
    peer = custom.get_cluster_custom_object(*CALICO, "bgppeers", "tor-1")
    assert peer["spec"]["peerIP"] == "192.0.2.1"
    assert peer["kind"] == "BGPPeer"  # single objects do carry kind


def test_calico_node_and_core_node_are_separate(server: FakeApiServer, api: Any) -> None:
    server.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    server.create(
        {
            "apiVersion": "crd.projectcalico.org/v1",
            "kind": "Node",
            "metadata": {"name": "n1"},
            "spec": {"bgp": {"ipv4Address": "10.0.0.1/24"}},
        }
    )
    assert [n.metadata.name for n in client.CoreV1Api(api).list_node().items] == ["n1"]
    calico = client.CustomObjectsApi(api).list_cluster_custom_object(*CALICO, "nodes")
    assert calico["items"][0]["spec"]["bgp"]["ipv4Address"] == "10.0.0.1/24"
    with pytest.raises(ValueError):
        server.delete("Node", "n1")  # ambiguous without apiVersion
    server.delete("Node", "n1", api_version="v1")
    assert server.get("Node", "n1", api_version="crd.projectcalico.org/v1") is not None


def test_missing_crd_is_404_until_installed(tmp_path: Path) -> None:
    with FakeApiServer(missing=["bgpfilters.crd.projectcalico.org"]) as server:
        api_client = new_api_client(server.kubeconfig(tmp_path / "kc"))
        custom = client.CustomObjectsApi(api_client)
        with pytest.raises(client.ApiException) as err:
            custom.list_cluster_custom_object(*CALICO, "bgpfilters")
        assert err.value.status == 404
        server.set_installed("bgpfilters.crd.projectcalico.org", True)
        assert custom.list_cluster_custom_object(*CALICO, "bgpfilters")["items"] == []
        api_client.close()


def test_watch_streams_changes_from_a_resource_version(server: FakeApiServer, api: Any) -> None:
    server.create(service("a"))
    core = client.CoreV1Api(api)
    start = core.list_service_for_all_namespaces().metadata.resource_version

    def mutate() -> None:
        time.sleep(0.1)
        server.create(service("b"))
        server.patch("Service", "b", "default", lambda o: o["spec"].update(clusterIP="10.1.1.1"))
        server.delete("Service", "a", "default")

    threading.Thread(target=mutate).start()
    seen = []
    w = watch.Watch()
    for event in w.stream(
        core.list_service_for_all_namespaces, resource_version=start, timeout_seconds=2
    ):
        seen.append((event["type"], event["raw_object"]["metadata"]["name"]))
        assert event["raw_object"]["kind"] == "Service"  # watch objects carry kind
        if len(seen) == 3:
            w.stop()
    assert seen == [("ADDED", "b"), ("MODIFIED", "b"), ("DELETED", "a")]


def test_watch_replays_history_and_uses_chunked_encoding(server: FakeApiServer, api: Any) -> None:
    start = server.resource_version
    server.create(bgppeer("p1"))
    server.create(bgppeer("p2"))
    custom = client.CustomObjectsApi(api)
    resp = custom.list_cluster_custom_object(
        *CALICO,
        "bgppeers",
        watch=True,
        resource_version=str(start),
        timeout_seconds=1,
        _preload_content=False,
    )
    assert resp.headers["Transfer-Encoding"] == "chunked"
    lines = [json.loads(line) for line in resp.data.decode().splitlines()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines] == [
        ("ADDED", "p1"),
        ("ADDED", "p2"),
    ]


def test_watch_timeout_ends_the_stream_cleanly(server: FakeApiServer, api: Any) -> None:
    core = client.CoreV1Api(api)
    began = time.monotonic()
    events = list(
        watch.Watch().stream(
            core.list_node, resource_version=str(server.resource_version), timeout_seconds=1
        )
    )
    assert events == []
    # Not before the timeout; the upper bound only catches a stream that never ends (a loaded
    # machine may take a while to get there, so it is far above the timeout).
    assert 0.9 <= time.monotonic() - began < 30


def test_bookmarks_only_when_allowed(server: FakeApiServer, api: Any) -> None:
    core = client.CoreV1Api(api)
    rv = str(server.resource_version)
    kinds = [
        e["type"]
        for e in watch.Watch().stream(
            core.list_node, resource_version=rv, timeout_seconds=1, allow_watch_bookmarks=True
        )
    ]
    assert kinds and set(kinds) == {"BOOKMARK"}
    assert list(watch.Watch().stream(core.list_node, resource_version=rv, timeout_seconds=1)) == []


def test_compaction_expires_old_versions(server: FakeApiServer, api: Any) -> None:
    server.create(service("a"))
    core = client.CoreV1Api(api)
    old = core.list_service_for_all_namespaces().metadata.resource_version
    server.compact()

    # A watch from a compacted version: HTTP 200, then an ERROR event with a 410 Status.
    raw = core.list_service_for_all_namespaces(
        watch=True, resource_version=old, _preload_content=False
    )
    (event,) = [json.loads(line) for line in raw.data.decode().splitlines()]
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
    # The client's Watch turns that into ApiException(410).
    with pytest.raises(client.ApiException) as err:
        list(
            watch.Watch().stream(
                core.list_service_for_all_namespaces, resource_version=old, timeout_seconds=1
            )
        )
    assert err.value.status == 410
    # A list pinned to a compacted version is HTTP 410; a fresh one works.
    with pytest.raises(client.ApiException) as err:
        core.list_service_for_all_namespaces(resource_version=old, resource_version_match="Exact")
    assert err.value.status == 410
    fresh = core.list_service_for_all_namespaces().metadata.resource_version
    assert (
        list(
            watch.Watch().stream(
                core.list_service_for_all_namespaces, resource_version=fresh, timeout_seconds=1
            )
        )
        == []
    )

    server.expired_watch = "http"
    with pytest.raises(client.ApiException) as err:
        core.list_service_for_all_namespaces(watch=True, resource_version=old)
    assert err.value.status == 410


def test_compaction_expires_open_watches(server: FakeApiServer, api: Any) -> None:
    core = client.CoreV1Api(api)
    resp = core.list_node(
        watch=True, resource_version=str(server.resource_version), _preload_content=False
    )
    wait_for(lambda: server.open_watches("nodes") > 0, what="the watch open")
    server.compact()
    (event,) = [json.loads(line) for line in resp.data.decode().splitlines()]
    assert event["type"] == "ERROR" and event["object"]["code"] == 410


def test_drop_watches_breaks_the_stream(server: FakeApiServer, api: Any) -> None:
    core = client.CoreV1Api(api)
    resp = core.list_node(
        watch=True, resource_version=str(server.resource_version), _preload_content=False
    )
    wait_for(lambda: server.open_watches() > 0, what="the watch open")
    assert server.drop_watches() == 1
    # No terminating chunk: the client sees a protocol error, not a clean end of stream.
    with pytest.raises(urllib3.exceptions.ProtocolError):
        for _ in resp.stream(None):
            pass
    assert server.open_watches() == 0


def test_fail_next_and_delay_next(server: FakeApiServer, api: Any) -> None:
    core = client.CoreV1Api(api)
    server.fail_next(2, status=503, resource="services")
    for _ in range(2):
        with pytest.raises(client.ApiException) as err:
            core.list_service_for_all_namespaces()
        assert err.value.status == 503
    core.list_node()  # other resources were never affected
    core.list_service_for_all_namespaces()

    server.delay_next(1, 0.3, resource="nodes")
    began = time.monotonic()
    core.list_node()
    assert time.monotonic() - began >= 0.3


def test_request_log(server: FakeApiServer, api: Any) -> None:
    core = client.CoreV1Api(api)
    core.list_node()
    core.list_namespaced_secret("kube-system", field_selector="metadata.name=bgp-secrets")
    list(watch.Watch().stream(core.list_node, resource_version="1", timeout_seconds=1))
    nodes = server.requests(resource="nodes")
    assert [(r.watch, r.status) for r in nodes] == [(False, 200), (True, 200)]
    assert nodes[1].query["resourceVersion"] == "1"
    (secrets,) = server.requests(resource="secrets")
    assert secrets.path == "/api/v1/namespaces/kube-system/secrets"


def test_unsupported_requests_are_refused(server: FakeApiServer, api: Any) -> None:
    core = client.CoreV1Api(api)
    with pytest.raises(client.ApiException) as err:
        core.list_node(label_selector="a=b")
    assert err.value.status == 400
    with pytest.raises(client.ApiException) as err:
        core.delete_node("n1")
    assert err.value.status == 405


def test_stop_is_bounded_with_open_connections(tmp_path: Path) -> None:
    server = FakeApiServer().start()
    api_client = new_api_client(server.kubeconfig(tmp_path / "kc"))
    core = client.CoreV1Api(api_client)
    core.list_node()  # leaves an idle keep-alive connection in the pool
    resp = core.list_node(watch=True, resource_version="1", _preload_content=False)
    # stop() gives up waiting for its threads after `timeout`; cutting the connections is what
    # makes it return long before that, even on a loaded machine.
    began = time.monotonic()
    server.stop(timeout=60)
    assert time.monotonic() - began < 30
    with pytest.raises(urllib3.exceptions.ProtocolError):
        for _ in resp.stream(None):
            pass
    api_client.close()


# ---- authentication and RBAC from deploy/ ------------------------------------------------------


def secret(name: str, namespace: str = "kube-system") -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": {"pw": "cHc="}}


def test_no_token_or_an_unknown_token_is_401(server: FakeApiServer, tmp_path: Path) -> None:
    for token in (None, "not-a-token"):
        api_client = new_api_client(server.kubeconfig(tmp_path / "kc", token=token))
        with pytest.raises(client.ApiException) as err:
            client.CoreV1Api(api_client).list_node()
        assert err.value.status == 401
        api_client.close()


def test_rbac_grants_only_what_the_manifests_say(server: FakeApiServer, api: Any) -> None:
    server.create(secret("bgp-secrets"))
    server.create(secret("bgp-secrets", "default"))
    core = client.CoreV1Api(api)
    core.list_node()
    core.list_service_for_all_namespaces()
    core.read_namespaced_secret("bgp-secrets", "kube-system")
    # The Secrets Role is namespaced: nothing in another namespace, nor cluster-wide.
    for call in (
        lambda: core.read_namespaced_secret("bgp-secrets", "default"),
        lambda: core.list_namespaced_secret("default"),
        lambda: core.list_secret_for_all_namespaces(),
    ):
        with pytest.raises(client.ApiException) as err:
            call()
        assert err.value.status == 403
        assert (
            'is forbidden: User "system:serviceaccount:kube-system:birdgen"'
            in json.loads(err.value.body)["message"]
        )
    (forbidden, *_) = server.requests(resource="secrets")[1:]
    assert forbidden.status == 403


def test_an_unbound_service_account_may_read_nothing(server: FakeApiServer, tmp_path: Path) -> None:
    token = server.token("default", "intruder")
    api_client = new_api_client(server.kubeconfig(tmp_path / "kc", token=token))
    with pytest.raises(client.ApiException) as err:
        client.CoreV1Api(api_client).list_node()
    assert err.value.status == 403
    # Authorization comes before the resource lookup: an absent CRD is 403 to it, not 404.
    server.set_installed("bgpfilters.crd.projectcalico.org", False)
    with pytest.raises(client.ApiException) as err:
        client.CustomObjectsApi(api_client).list_cluster_custom_object(*CALICO, "bgpfilters")
    assert err.value.status == 403
    api_client.close()


def test_resource_names_allow_get_and_name_pinned_list_and_watch_only(tmp_path: Path) -> None:
    rbac = deploy_rbac(secret_names=["bgp-secrets"])
    with FakeApiServer(rbac=rbac, bookmark_interval=60) as server:
        server.create(secret("bgp-secrets"))
        server.create(secret("other"))
        api_client = new_api_client(server.kubeconfig(tmp_path / "kc"))
        core = client.CoreV1Api(api_client)
        assert core.read_namespaced_secret("bgp-secrets", "kube-system").metadata.name
        pinned = "metadata.name=bgp-secrets"
        listed = core.list_namespaced_secret("kube-system", field_selector=pinned)
        assert [s.metadata.name for s in listed.items] == ["bgp-secrets"]
        events = list(
            watch.Watch().stream(
                core.list_namespaced_secret,
                "kube-system",
                field_selector=pinned,
                resource_version="1",
                timeout_seconds=1,
            )
        )
        assert [e["object"].metadata.name for e in events] == ["bgp-secrets"]
        for call in (
            lambda: core.read_namespaced_secret("other", "kube-system"),
            lambda: core.list_namespaced_secret("kube-system"),
            lambda: core.list_namespaced_secret(
                "kube-system", field_selector="metadata.name=other"
            ),
            lambda: core.list_namespaced_secret(
                "kube-system", field_selector="metadata.name!=other"
            ),
        ):
            with pytest.raises(client.ApiException) as err:
                call()
            assert err.value.status == 403
        api_client.close()


def test_the_secrets_role_applies_in_the_namespace_it_is_applied_to(tmp_path: Path) -> None:
    # deploy/README: `kubectl apply -n <NAMESPACE> -f deploy/bgp-secrets-rbac.yaml`.
    with FakeApiServer(rbac=deploy_rbac("calico-system")) as server:
        server.create(secret("bgp-secrets", "calico-system"))
        server.create(secret("bgp-secrets", "kube-system"))
        api_client = new_api_client(server.kubeconfig(tmp_path / "kc"))
        core = client.CoreV1Api(api_client)
        assert core.read_namespaced_secret("bgp-secrets", "calico-system").metadata.name
        with pytest.raises(client.ApiException) as err:
            core.read_namespaced_secret("bgp-secrets", "kube-system")
        assert err.value.status == 403
        api_client.close()


# ---- pagination, resourceVersion semantics, field selectors --------------------------------


def test_pages_are_one_consistent_snapshot(server: FakeApiServer, api: Any) -> None:
    for i in range(7):
        server.create(service(f"s{i}"))
    core = client.CoreV1Api(api)
    first = core.list_service_for_all_namespaces(limit=3)
    assert [s.metadata.name for s in first.items] == ["s0", "s1", "s2"]
    assert first.metadata.remaining_item_count == 4
    # Writes between pages do not show: every page comes from the first page's version.
    server.create(service("s00"))
    server.delete("Service", "s5", "default")
    second = core.list_service_for_all_namespaces(limit=3, _continue=first.metadata._continue)
    third = core.list_service_for_all_namespaces(limit=3, _continue=second.metadata._continue)
    assert [s.metadata.name for s in second.items + third.items] == ["s3", "s4", "s5", "s6"]
    assert third.metadata._continue is None
    assert {p.metadata.resource_version for p in (first, second, third)} == {
        first.metadata.resource_version
    }
    # A fresh list sees the writes.
    assert "s00" in {s.metadata.name for s in core.list_service_for_all_namespaces(limit=50).items}


def test_a_continue_token_from_before_a_compaction_is_410(server: FakeApiServer, api: Any) -> None:
    for i in range(3):
        server.create(service(f"s{i}"))
    core = client.CoreV1Api(api)
    first = core.list_service_for_all_namespaces(limit=1)
    server.compact()
    with pytest.raises(client.ApiException) as err:
        core.list_service_for_all_namespaces(limit=1, _continue=first.metadata._continue)
    assert err.value.status == 410
    body = json.loads(err.value.body)
    assert body["reason"] == "Expired" and "too old to display a consistent list" in body["message"]


def test_resource_version_semantics_of_lists(tmp_path: Path) -> None:
    with FakeApiServer(too_large_wait=0.2) as server:
        api_client = new_api_client(server.kubeconfig(tmp_path / "kc"))
        core = client.CoreV1Api(api_client)
        server.create(service("a"))
        then = server.resource_version
        server.create(service("b"))
        names = lambda listing: [s.metadata.name for s in listing.items]  # noqa: E731
        # Exact: the list as it was at that version.
        exact = core.list_service_for_all_namespaces(
            resource_version=str(then), resource_version_match="Exact"
        )
        assert names(exact) == ["a"] and exact.metadata.resource_version == str(then)
        # NotOlderThan (also the meaning of a bare version without limit): the latest.
        assert names(core.list_service_for_all_namespaces(resource_version=str(then))) == ["a", "b"]
        # A version with limit and no match means Exact, as in the real server's legacy rule.
        assert names(core.list_service_for_all_namespaces(resource_version=str(then), limit=5)) == [
            "a"
        ]
        # "0" is served from the watch cache, whole: limit is ignored.
        whole = core.list_service_for_all_namespaces(resource_version="0", limit=1)
        assert names(whole) == ["a", "b"] and whole.metadata._continue is None
        future = str(server.resource_version + 10)
        for kwargs in (
            {"resource_version": future},
            {"resource_version": future, "resource_version_match": "Exact"},
        ):
            with pytest.raises(client.ApiException) as err:
                core.list_service_for_all_namespaces(**kwargs)
            assert err.value.status == 504
            assert json.loads(err.value.body)["message"].startswith("Too large resource version")
        for kwargs in (
            {"resource_version_match": "NotOlderThan"},
            {"resource_version": "0", "resource_version_match": "Exact"},
            {"resource_version": "1", "_continue": "e30="},
        ):
            with pytest.raises(client.ApiException) as err:
                core.list_service_for_all_namespaces(**kwargs)
            assert err.value.status == 400, kwargs
        api_client.close()


def test_a_watch_from_a_future_version_is_too_large(tmp_path: Path) -> None:
    with FakeApiServer(too_large_wait=0.2) as server:
        api_client = new_api_client(server.kubeconfig(tmp_path / "kc"))
        core = client.CoreV1Api(api_client)
        with pytest.raises(client.ApiException) as err:
            core.list_node(watch=True, resource_version=str(server.resource_version + 5))
        assert err.value.status == 504
        assert "Too large resource version" in json.loads(err.value.body)["message"]
        api_client.close()


def test_a_watch_from_a_version_that_arrives_meanwhile_waits_for_it(
    server: FakeApiServer, api: Any
) -> None:
    core = client.CoreV1Api(api)
    ahead = server.resource_version + 1
    threading.Timer(0.2, lambda: server.create(service("late"))).start()
    resp = core.list_service_for_all_namespaces(
        watch=True, resource_version=str(ahead), timeout_seconds=1, _preload_content=False
    )
    assert resp.status == 200
    assert resp.data.decode().strip() == ""  # the version's own event is not "since" it


def test_field_selectors_on_metadata_name(server: FakeApiServer, api: Any) -> None:
    server.create(service("a"))
    server.create(service("b"))
    core = client.CoreV1Api(api)
    by_name = core.list_service_for_all_namespaces(field_selector="metadata.name==b")
    assert [s.metadata.name for s in by_name.items] == ["b"]
    others = core.list_service_for_all_namespaces(field_selector="metadata.name!=b")
    assert [s.metadata.name for s in others.items] == ["a"]
    start = str(server.resource_version)
    threading.Timer(0.1, lambda: (server.create(service("c")), server.create(service("d")))).start()
    events = []
    w = watch.Watch()
    for event in w.stream(
        core.list_service_for_all_namespaces,
        field_selector="metadata.name=d",
        resource_version=start,
        timeout_seconds=2,
    ):
        events.append(event["object"].metadata.name)
        w.stop()
    assert events == ["d"]
    with pytest.raises(client.ApiException) as err:
        core.list_node(field_selector="spec.unschedulable=true")
    assert err.value.status == 400
    assert "field label not supported" in json.loads(err.value.body)["message"]


def test_request_log_counts_bytes(server: FakeApiServer, api: Any) -> None:
    server.create(service("a"))
    core = client.CoreV1Api(api)
    raw = core.list_service_for_all_namespaces(_preload_content=False).data
    (entry,) = server.requests(resource="services")
    assert entry.sent == len(raw)
