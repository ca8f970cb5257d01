"""The informers' feed of changes between two takes stays bounded when no one takes.

Each informer keeps, between two `take`s, the value every changed key had at the last take,
so the sidecar's step can be told what changed instead of comparing every record. A consumer
that takes rarely (a step that keeps failing, a long debounce) while objects are created and
deleted under new names (EndpointSlices get generated names) would have that log grow without
end: past half the store (plus a little) the informer gives it up, and the next take says it
cannot tell what changed, which makes the step compare everything once. Real watcher, real
client, the API double over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubeapi_server import FakeApiServer, new_api_client
from waiting import wait_for

from birdgen.sources.kube import KubeSource, KubeWatcher


def service(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": {"clusterIP": "10.96.0.1"}}  # fmt: skip


@pytest.fixture
def watcher(tmp_path: Path) -> Iterator[tuple[FakeApiServer, KubeWatcher]]:
    with FakeApiServer(bookmark_interval=60) as server:
        for i in range(10):
            server.create(service(f"kept-{i}"))
        api_client = new_api_client(server.kubeconfig(tmp_path / "kubeconfig"))
        w = KubeWatcher(KubeSource(api_client), backoff_initial=0.05, backoff_max=0.4).start()
        try:
            assert w.wait_synced(20)
            yield server, w
        finally:
            assert w.stop(timeout=3)
            api_client.close()


def names(values: list[Any]) -> set[str]:
    return {v["metadata"]["name"] for v in values if v.get("kind") == "Service"}


def test_churn_without_a_take_gives_the_log_up_and_the_next_take_says_so(
    watcher: tuple[FakeApiServer, KubeWatcher],
) -> None:
    server, w = watcher
    services = w.informers["services"]
    w.take()  # the first take: from here on each informer logs what changes
    bound = len(services.values()) // 2 + 64
    churn = bound + 20
    for i in range(churn):  # objects created and deleted under new names: the store stays small
        server.create(service(f"passing-{i}"))
        server.delete("Service", f"passing-{i}", "default")
    wait_for(lambda: services.events >= 2 * churn, what="every event applied")
    logged = services._before
    assert logged is None, f"the log of old values grew to {len(logged)} keys"
    values, taken = w.take()
    assert taken is None, "a take after the log was given up cannot tell what changed"
    assert names(values) == {f"kept-{i}" for i in range(10)}
    # The take after it knows again, and names only what changed since.
    server.update({**service("kept-0"), "spec": {"clusterIP": "10.96.0.2"}})
    wait_for(lambda: services.events >= 2 * churn + 1, what="the update applied")
    values, taken = w.take()
    assert taken is not None
    assert [v["metadata"]["name"] for v in taken.after] == ["kept-0"]
    assert [v["spec"]["clusterIP"] for v in taken.before] == ["10.96.0.1"]


def test_a_few_changes_between_takes_are_named(
    watcher: tuple[FakeApiServer, KubeWatcher],
) -> None:
    """Below the bound the log is kept: the guard does not give up a consumer's feed early."""
    server, w = watcher
    services = w.informers["services"]
    w.take()
    for i in range(40):
        server.create(service(f"passing-{i}"))
        server.delete("Service", f"passing-{i}", "default")
    wait_for(lambda: services.events >= 80, what="every event applied")
    _, taken = w.take()
    assert taken is not None
    assert taken.before == [] and taken.after == []  # each came and went between the takes
