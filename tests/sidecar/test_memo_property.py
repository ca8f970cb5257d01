"""Property: the sidecar's memoised plan (`ServiceMemo`, kept from step to step) equals a plan
built from scratch, text and `explain` reasons alike, after any sequence of Service,
EndpointSlice, Node, BGPConfiguration, BGPPeer and Secret changes.

The store is modelled as the sidecar keeps it: each object parsed once by `Lean` and kept as
that record until it changes, so unchanged Services reach the memo as the very same objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_store_property import NODE, NODES, SERVICES, config, endpoint_slice, events, node, service

from birdgen.errors import InvalidInput
from birdgen.model.parse import Parsed
from birdgen.model.resources import Environment
from birdgen.pipeline import Rendered, render_objects
from birdgen.plan.incremental import Feed, Incremental
from birdgen.sidecar.holding import LastValid
from birdgen.sidecar.store import Lean

Key = tuple[str, str, str | None]


def key_of(obj: dict[str, Any]) -> Key:
    return (obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))


def outcome(records: list[Parsed], env: Environment, state: Incremental | None) -> Any:
    try:
        rendered: Rendered = render_objects(records, env, state)
    except InvalidInput as exc:
        return ("invalid", tuple(exc.problems))
    return (rendered.text, rendered.plan, rendered.notices)


# The changes the memo's inputs follow, drawn far more often than in `events` (which adds
# peers, Secrets, an invalid Service and deletions): a Service's policy, type and addresses,
# its slices' endpoints on this node and elsewhere, the ranges' aggregation, this node's
# exclusion label.
changes = st.one_of(
    st.builds(
        lambda *a: ("put", service(*a)),
        st.sampled_from(SERVICES[:2]),
        st.sampled_from(["Local", "Cluster"]),
        st.integers(1, 4),
        st.booleans(),
    ),
    st.builds(
        lambda *a: ("put", endpoint_slice(*a)),
        st.sampled_from(SERVICES[:2]),
        st.just(1),
        st.lists(st.tuples(st.sampled_from(NODES[:2]), st.booleans()), max_size=2),
    ),
    st.builds(lambda a: ("put", config(a)), st.booleans()),
    st.builds(lambda *a: ("put", node(*a)), st.just(NODE), st.integers(0, 3), st.booleans()),
    st.builds(lambda *a: ("put", node(*a)), st.just(NODE), st.integers(0, 3), st.just(False)),
    events,
)


ENV = Environment(node_name=NODE)


class Store:
    """The sidecar's store: each object parsed once by `Lean`, kept until it changes, in the
    order the store keeps them; `older` are the versions changes replaced."""

    def __init__(self) -> None:
        self.lean = Lean(NODE)
        self.records: dict[Key, Parsed] = {
            key_of(obj): self.lean(obj) for obj in (node(NODE, 0, False), config(True))
        }
        self.older: list[Parsed] = []

    def change(self, op: str, what: Any) -> list[Parsed]:
        if op == "put":
            if key_of(what) in self.records:
                self.older.append(self.records[key_of(what)])
            self.records[key_of(what)] = self.lean(what)
        elif op == "delete":
            kind, name, namespace, _ = what
            self.records.pop((kind, name, namespace), None)
        return list(self.records.values())


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(changes, min_size=5, max_size=40))
def test_memoised_plan_equals_a_plan_from_scratch(history: list[tuple[str, Any]]) -> None:
    store, state = Store(), Incremental()
    for op, what in history:
        records = store.change(op, what)
        assert outcome(records, ENV, state) == outcome(records, ENV, None)


def arranged(records: list[Parsed], how: str, older: list[Parsed]) -> list[Parsed]:
    """The records in another order, or with a record again last, or an older version of
    one (a file's object replaces the cluster's so): comparing position by position must
    then give way to comparing by key."""
    if how == "reversed":
        return records[::-1]
    if how == "a record again last" and records:
        return [*records, records[0]]
    if how == "an older version last" and older:
        return [*records, older[-1]]
    return records


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            changes,
            st.sampled_from(
                ["as kept", "as kept", "reversed", "a record again last", "an older version last"]
            ),
        ),
        min_size=5,
        max_size=30,
    )
)
def test_incremental_plan_holds_whatever_the_order(
    history: list[tuple[tuple[str, Any], str]],
) -> None:
    store, state = Store(), Incremental()
    for (op, what), how in history:
        records = arranged(store.change(op, what), how, store.older)
        assert outcome(records, ENV, state) == outcome(records, ENV, None)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(changes, min_size=5, max_size=30))
def test_the_sidecars_render_through_last_valid_equals_one_from_scratch(
    history: list[tuple[str, Any]],
) -> None:
    # As the Reconciler renders: through `LastValid`, which renders the list as given first
    # and, when an object is invalid, again with it held or left out (other lists, other
    # shapes, all handed to the same incremental state).
    store, state = Store(), Incremental()
    kept, fresh = LastValid(), LastValid()
    for op, what in history:
        records = store.change(op, what)
        got = resolved(kept, records, lambda objs: render_objects(objs, ENV, state))
        want = resolved(fresh, records, lambda objs: render_objects(objs, ENV))
        assert got == want


def resolved(holder: LastValid, records: list[Parsed], render: Any) -> Any:
    try:
        resolution = holder.resolve(records, render)
    except InvalidInput as exc:
        return ("invalid", tuple(exc.problems))
    holder.accept(resolution)
    rendered: Rendered = resolution.result
    return (rendered.text, rendered.plan, rendered.notices, resolution.held)


class FedStore(Store):
    """The store as the sidecar's informers keep it, with what each take changed: the
    record each changed key had at the last take (`Informer.take`), and a relist now and
    then, after which the next take cannot say what changed."""

    def __init__(self) -> None:
        super().__init__()
        self.taken = 0
        self.before: dict[Key, Parsed | None] = {}
        self.relisted = False

    def change(self, op: str, what: Any) -> list[Parsed]:
        if op == "compact":  # the watch's version is gone: the informer lists again
            self.relisted = True
        else:
            key = key_of(what) if op == "put" else (what[0], what[1], what[2])
            self.before.setdefault(key, self.records.get(key))
        return super().change(op, what)

    def take(self, known: bool) -> tuple[list[Parsed], Feed | None]:
        records = list(self.records.values())
        self.taken += 1
        before = [r for r in self.before.values() if r is not None]
        after = [self.records[k] for k in self.before if k in self.records]
        self.before, known, self.relisted = {}, known and not self.relisted, False
        return records, Feed(records, self.taken - 1, self.taken, before, after) if known else None


def fed_takes(
    history: list[tuple[list[tuple[str, Any]], bool]], state: Incremental
) -> Iterator[list[Parsed]]:
    """Each step's records, its take's `Feed` handed to `state` first, as the loop does."""
    store = FedStore()
    for step, known in history:
        for op, what in step:
            store.change(op, what)
        records, feed = store.take(known)
        state.expect(feed)
        yield records


# A step's changes (deletions and recreations among them), and whether its take knows them.
fed_steps = st.lists(
    st.tuples(st.lists(changes, min_size=1, max_size=3), st.booleans() | st.just(True)),
    min_size=3,
    max_size=25,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fed_steps)
def test_a_plan_fed_what_changed_equals_a_plan_from_scratch(
    history: list[tuple[list[tuple[str, Any]], bool]],
) -> None:
    state = Incremental()
    for records in fed_takes(history, state):
        assert outcome(records, ENV, state) == outcome(records, ENV, None)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fed_steps)
def test_a_plan_fed_what_changed_through_last_valid_equals_one_from_scratch(
    history: list[tuple[list[tuple[str, Any]], bool]],
) -> None:
    # `LastValid` renders other lists (an invalid object held or left out) to the same state
    # between two takes: the feed of the next take must then not be trusted.
    state = Incremental()
    kept, fresh = LastValid(), LastValid()
    for records in fed_takes(history, state):
        got = resolved(kept, records, lambda objs: render_objects(objs, ENV, state))
        want = resolved(fresh, records, lambda objs: render_objects(objs, ENV))
        assert got == want
