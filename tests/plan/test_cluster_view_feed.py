"""plan/incremental: when `ClusterView` takes what a `Feed` says changed, and when it compares
every record instead.

Both ways give the same cluster (tests/plan/test_cluster_view_property.py), so only
`fed_updates` and the Services reported changed tell them apart. The view may take a feed only
when it continues the very take the view holds, of the very list handed in, naming each record;
anything else (the first list, a skipped take, another list, a record without a key) is
compared in full.
"""

from __future__ import annotations

from typing import Any

import pytest

from birdgen.errors import InvalidInput
from birdgen.model.parse import Parsed, parse_cluster, parse_object
from birdgen.model.resources import Environment
from birdgen.plan.incremental import ClusterView, Feed, Incremental


def service(name: str, ip: int = 1) -> Parsed:
    return parse_object({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": {"clusterIP": f"10.49.0.{ip}"}})  # fmt: skip


UNNAMED = parse_object({"apiVersion": "v1", "kind": "Service", "metadata": {}, "spec": {}})


def started(*records: Parsed) -> tuple[ClusterView, list[Parsed]]:
    """A view that has compared `records` in full and holds take 0."""
    view = ClusterView()
    objects = list(records)
    view.update(objects, Feed(objects, -1, 0, (), ()))
    view.planned()
    assert view.fed_updates == 0  # the first list: there is nothing to continue
    return view, objects


def changed(view: ClusterView, objects: list[Any], feed: Feed | None) -> set[Any]:
    """The Services the update reports changed; the cluster is checked against a fresh one."""
    cluster, touched = view.update(objects, feed)
    fresh = parse_cluster(objects)
    assert cluster.services == fresh.services and dict(cluster.slices) == dict(fresh.slices)
    view.planned()
    return set(touched)


def test_a_feed_continuing_the_take_held_is_taken_and_names_the_changed_service() -> None:
    a, b = service("a"), service("b")
    view, _ = started(a, b)
    a2 = service("a", 2)
    objects = [a2, b]
    assert changed(view, objects, Feed(objects, 0, 1, (a,), (a2,))) == {("default", "a")}
    assert view.fed_updates == 1
    # and the next one, continuing take 1
    c = service("c")
    objects = [a2, b, c]
    assert changed(view, objects, Feed(objects, 1, 2, (), (c,))) == {("default", "c")}
    assert view.fed_updates == 2


def test_a_feed_naming_a_record_already_held_reports_nothing_changed() -> None:
    a, b = service("a"), service("b")
    view, objects = started(a, b)
    assert changed(view, objects, Feed(objects, 0, 1, (a,), (a,))) == set()
    assert view.fed_updates == 1


def test_a_removal_fed_reports_the_service_gone() -> None:
    a, b = service("a"), service("b")
    view, _ = started(a, b)
    objects = [b]
    cluster, touched = view.update(objects, Feed(objects, 0, 1, (a,), ()))
    assert touched == {("default", "a"): None}
    assert [s.name for s in cluster.services] == ["b"]
    assert view.fed_updates == 1


def test_a_feed_skipping_a_take_is_compared_in_full() -> None:
    a, b = service("a"), service("b")
    view, _ = started(a, b)
    a2 = service("a", 2)
    objects = [a2, b]
    assert changed(view, objects, Feed(objects, 1, 2, (a,), (a2,))) == {("default", "a")}
    assert view.fed_updates == 0
    # Compared in full, the view now holds take 2: the feed after it is taken.
    b2 = service("b", 3)
    objects = [a2, b2]
    assert changed(view, objects, Feed(objects, 2, 3, (b,), (b2,))) == {("default", "b")}
    assert view.fed_updates == 1


def test_a_feed_of_another_list_is_compared_in_full_and_ends_the_take_held() -> None:
    a, b = service("a"), service("b")
    view, _ = started(a, b)
    a2 = service("a", 2)
    objects = [a2, b]
    assert changed(view, objects, Feed([a2, b], 0, 1, (a,), (a2,))) == {("default", "a")}
    assert view.fed_updates == 0
    # The list handed in was not the feed's: its take is not held, so take 1 is not continued.
    b2 = service("b", 3)
    objects = [a2, b2]
    assert changed(view, objects, Feed(objects, 1, 2, (b,), (b2,))) == {("default", "b")}
    assert view.fed_updates == 0


def test_an_update_without_a_feed_ends_the_take_held() -> None:
    a, b = service("a"), service("b")
    view, _ = started(a, b)
    a2 = service("a", 2)
    objects = [a2, b]
    assert changed(view, objects, None) == {("default", "a")}
    objects = [a2, service("b", 3)]
    changed(view, objects, Feed(objects, 0, 1, (b,), (objects[1],)))
    assert view.fed_updates == 0


@pytest.mark.parametrize("odd", ["raw", "unnamed"])
def test_a_feed_naming_a_record_without_a_key_is_compared_in_full(odd: str) -> None:
    a, b = service("a"), service("b")
    view, _ = started(a, b)
    a2 = service("a", 2)
    objects = [a2, b]
    record: Any = {"kind": "Service"} if odd == "raw" else UNNAMED
    assert changed(view, objects, Feed(objects, 0, 1, (a, record), (a2,))) == {("default", "a")}
    assert view.fed_updates == 0


def test_a_view_holding_an_unnamed_object_compares_in_full_until_it_is_gone() -> None:
    a = service("a")
    view = ClusterView()
    objects = [a, UNNAMED]
    with pytest.raises(InvalidInput):
        view.update(objects, Feed(objects, -1, 0, (), ()))
    a2 = service("a", 2)
    objects = [a2, UNNAMED]
    with pytest.raises(InvalidInput):
        view.update(objects, Feed(objects, 0, 1, (a,), (a2,)))
    assert view.fed_updates == 0
    objects = [a2]
    view.update(objects, Feed(objects, 1, 2, (UNNAMED,), ()))
    assert view.fed_updates == 0
    a3 = service("a", 3)
    objects = [a3]
    view.update(objects, Feed(objects, 2, 3, (a2,), (a3,)))
    assert view.fed_updates == 1


def test_after_a_fed_update_an_unchanged_list_reports_nothing_changed() -> None:
    # A fed update does not compare position by position, so the list of the update before it
    # no longer tells what changed: the next update without a feed compares by key.
    a, b = service("a"), service("b")
    view, _ = started(a, b)
    a2 = service("a", 2)
    objects = [a2, b]
    assert changed(view, objects, Feed(objects, 0, 1, (a,), (a2,))) == {("default", "a")}
    assert changed(view, list(objects), None) == set()


def test_the_plan_state_hands_the_feed_expected_to_its_view() -> None:
    me = parse_object({"apiVersion": "projectcalico.org/v3", "kind": "Node", "metadata": {"name": "me"}, "spec": {"bgp": {"ipv4Address": "10.0.0.2/24"}}})  # fmt: skip
    a, b = service("a"), service("b")
    state = Incremental()
    objects = [me, a, b]
    state.expect(Feed(objects, -1, 0, (), ()))
    env = Environment(node_name="me")
    state.plan(objects, env)
    a2 = service("a", 2)
    objects = [me, a2, b]
    state.expect(Feed(objects, 0, 1, (a,), (a2,)))
    state.plan(objects, env)
    assert state.view.fed_updates == 1
    state.expect(None)
    state.plan(list(objects), env)
    assert state.view.fed_updates == 1
