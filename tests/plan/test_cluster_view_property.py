"""Property: the sidecar's `ClusterView`, updated change by change, holds the Services and
slices `parse_cluster` assembles from scratch, whatever the changes: EndpointSlices created,
changed, deleted and moved from one Service to another (their owner label changed), and legacy
Endpoints beside them (their pseudo-slices count only where the Service has no EndpointSlice).

The view keeps one mapping of each Service's slices, updated in place; this checks that
mapping against `assemble`'s, step by step, with and without a `Feed` naming the changes.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from birdgen.errors import InvalidInput
from birdgen.model.parse import Parsed, parse_cluster, parse_object
from birdgen.plan.incremental import ClusterView, Feed

SERVICES = ("a", "b")
NAMES = ("s1", "s2", "s3")


def service(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": {"clusterIP": "10.49.0.1"}}  # fmt: skip


def endpoint_slice(name: str, owner: str, node: str) -> dict[str, Any]:
    labels = {"kubernetes.io/service-name": owner}
    eps = [{"addresses": ["10.48.0.1"], "nodeName": node, "conditions": {"ready": True}}]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": name, "namespace": "default", "labels": labels}, "addressType": "IPv4", "endpoints": eps}  # fmt: skip


def endpoints(name: str, node: str) -> dict[str, Any]:
    subsets = [{"addresses": [{"ip": "10.48.0.2", "nodeName": node}], "ports": [{"port": 80}]}]
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": "default"}, "subsets": subsets}  # fmt: skip


NODES = st.sampled_from(["node-1", "node-2"])
CHANGES = st.one_of(
    st.builds(lambda n: ("put", service(n)), st.sampled_from(SERVICES)),
    st.builds(lambda n: ("delete", ("Service", "default", n)), st.sampled_from(SERVICES)),
    st.builds(
        lambda *a: ("put", endpoint_slice(*a)),
        st.sampled_from(NAMES),
        st.sampled_from(SERVICES),
        NODES,
    ),
    st.builds(lambda n: ("delete", ("EndpointSlice", "default", n)), st.sampled_from(NAMES)),
    st.builds(lambda *a: ("put", endpoints(*a)), st.sampled_from(SERVICES), NODES),
    st.builds(lambda n: ("delete", ("Endpoints", "default", n)), st.sampled_from(SERVICES)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(CHANGES, max_size=25), st.booleans())
def test_the_views_slices_equal_a_fresh_assembly(history: list[tuple[str, Any]], fed: bool) -> None:
    view = ClusterView()
    store: dict[Any, Parsed] = {}
    objects: list[Parsed] = []
    taken = 0
    view.update(objects, Feed(objects, -1, taken, [], []) if fed else None)
    for op, what in history:
        old = store.pop(what if op == "delete" else parse_object(what).key, None)
        if op == "put":
            new = parse_object(what)
            store[new.key] = new
        before = [old] if old is not None else []
        after = [new] if op == "put" else []
        objects = list(store.values())
        feed = Feed(objects, taken, taken + 1, before, after) if fed else None
        taken += 1
        cluster, _ = view.update(objects, feed)
        fresh = parse_cluster(objects)
        assert dict(cluster.slices) == dict(fresh.slices)
        assert cluster.services == fresh.services
        view.planned()


def test_an_endpoints_without_addresses_for_a_service_without_slices_gives_it_none() -> None:
    # Its pseudo-slices are none at all: the Service has no slice entry before or after.
    view = ClusterView()
    bare = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "a", "namespace": "default"}}  # fmt: skip
    for objects in ([parse_object(service("a"))], [parse_object(service("a")), parse_object(bare)]):
        cluster, _ = view.update(objects)
        assert dict(cluster.slices) == dict(parse_cluster(objects).slices) == {}
        view.planned()


def test_a_key_given_twice_is_the_later_record_also_when_the_earlier_one_changes() -> None:
    view = ClusterView()
    first, second = parse_object(service("a")), parse_object(service("a") | {"spec": {"clusterIP": "10.49.0.2"}})  # fmt: skip
    for objects in ([first, second], [parse_object(service("a")), second]):
        cluster, _ = view.update(objects)
        assert cluster.services == parse_cluster(objects).services
        assert [s.cluster_ip for s in cluster.services] == ["10.49.0.2"]
        view.planned()


def test_raw_objects_are_read_as_parse_cluster_reads_them() -> None:
    objects = [service("a"), endpoint_slice("s1", "a", "node-1")]
    cluster, touched = ClusterView().update(objects)
    fresh = parse_cluster(objects)
    assert cluster.services == fresh.services and dict(cluster.slices) == dict(fresh.slices)
    assert set(touched) == {("default", "a")}


def test_an_invalid_endpoints_is_refused_by_the_view_with_its_line() -> None:
    bad = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "a", "namespace": "default"}, "subsets": "x"}  # fmt: skip
    with pytest.raises(InvalidInput) as fresh:
        parse_cluster([bad])
    with pytest.raises(InvalidInput) as viewed:
        ClusterView().update([parse_object(bad)])
    assert [str(p) for p in viewed.value.problems] == [str(p) for p in fresh.value.problems]
    assert len(fresh.value.problems) == 1
