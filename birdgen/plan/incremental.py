"""plan: the sidecar's plan, kept from one step to the next (store -> **incremental** -> render).

`birdgen render` parses every object, assembles one `Cluster` and plans every Service
(`parse_cluster`, `build_plan`). The sidecar does the same work once, at its first step, and
then only what a change touches:

* `ClusterView` keeps the assembled cluster. Each step it is handed the store's records
  again, finds the ones that are not the very objects of the last step (the store keeps an
  unchanged object's record as it is) and changes the cluster for those only: a Service in or
  out of the sorted Services, a slice in or out of its Service's slices. The other kinds
  (Nodes, Calico resources, Secrets: few, and rarely changed) go through `assemble` again
  when one of them changed.
* `plan_services` is told which Services changed and updates the sidecar's `ServiceTable`
  (the merged, sorted routes and withheld addresses) for those Services alone, through the
  same `service_notes` the one-shot render runs for every Service.

Finding what changed is itself a pass over every record, unless the sidecar hands a `Feed`
with the list: the records its informers replaced, added or removed since the list of the
step before. The view takes it only when it describes exactly the difference from the list
it last updated from (same list object, the next take of the same watcher, every record
named); anything else (the first step, a relist, a held object's list, files merged in) is
compared in full. So a step costs what changed plus copying the sorted routes into the plan's
tuples. `tests/sidecar/test_memo_property.py`
checks that after any sequence of changes the outcome (text, reasons, notices, problems)
equals a render from scratch.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress
from operator import attrgetter, is_not
from typing import Any

from birdgen.errors import InvalidInput
from birdgen.model.documents import Document
from birdgen.model.parse import Key, Parsed, assemble, parse_object
from birdgen.model.resources import Cluster, EndpointSlice, Environment, Service
from birdgen.plan.build import Kept, build_plan
from birdgen.plan.services import ServiceKey
from birdgen.plan.types import NodePlan

# The kinds kept record by record; every other kind is assembled again when one changes.
_SERVICE_KINDS = ("Service", "EndpointSlice", "Endpoints")


@dataclass(frozen=True)
class Feed:
    """What changed in `objects` since the list of take `since` of the same source: `before`
    holds the records replaced or removed since then, `after` the records now in their place
    or added. `taken` names this take; `Feed`s of one source follow each other by it."""

    objects: Sequence[Any]
    since: int
    taken: int
    before: Sequence[Parsed]
    after: Sequence[Parsed]


class ClusterView:
    """The `Cluster` of the records it was last handed, and the Services changed since the
    last `planned()`. Its `Cluster` shares its mappings: valid until the next `update`."""

    def __init__(self) -> None:
        self._records: list[Parsed] = []  # the list of the last update, position by position
        self._by_key: dict[Key, Parsed] = {}
        self._unnamed: list[Parsed] = []
        self._problems: dict[Key, Parsed] = {}  # records with problems or notices
        self._others: dict[Key, Parsed] = {}  # the kinds not kept record by record
        self._assembled: Cluster | None = None  # `assemble` of `_others`
        self._services: dict[ServiceKey, Service] = {}
        self._service_order: list[ServiceKey] = []  # sorted
        self._service_tuple: tuple[Service, ...] | None = ()
        # Cluster.slices: each Service's EndpointSlices sorted by name (as `assemble` sorts
        # them by key), or, where it has none, its legacy Endpoints' pseudo-slices, the very
        # tuple in `_legacy`. The one mapping of slices the view keeps: at 1,000 nodes a
        # mapping per Service beside it cost 5 MiB.
        self._slices_of: dict[ServiceKey, tuple[EndpointSlice, ...]] = {}
        self._legacy: dict[ServiceKey, tuple[EndpointSlice, ...]] = {}
        self._touched: set[ServiceKey] = set()
        self._taken: int | None = None  # the feed take the view holds, if it holds one
        self.fed_updates = 0  # updates that took what changed from a `Feed` (for tests, bench)

    def update(
        self, objects: Sequence[Parsed | dict[str, Any] | Document], feed: Feed | None = None
    ) -> tuple[Cluster, dict[ServiceKey, Service | None]]:
        """The cluster of `objects` (later ones replacing earlier ones of the same key, as in
        `parse_cluster`), and each Service changed since `planned()` with its record (None
        where it is gone). Raises `InvalidInput` naming every problem, as `assemble` does.
        `feed`, if it is of `objects`, may save comparing every record (see `Feed`)."""
        ours = feed is not None and feed.objects is objects
        fed = self._fed(feed) if ours else None
        changes = fed if fed is not None else self._changes(objects)
        self.fed_updates += fed is not None
        self._taken = feed.taken if ours and feed is not None else None
        for key, record in changes:
            self._apply(key, record)
        notices = [n for p in self._unnamed for n in p.notices]
        problems = [x for p in self._unnamed for x in p.problems]
        for key in sorted(self._problems):
            notices += self._problems[key].notices
            problems += self._problems[key].problems
        if problems:
            raise InvalidInput(problems)
        if self._assembled is None:
            self._assembled = assemble(self._others[k] for k in sorted(self._others))
        if self._service_tuple is None:
            self._service_tuple = tuple(map(self._services.__getitem__, self._service_order))
        rest = self._assembled
        cluster = Cluster(
            configs=rest.configs,
            peers=rest.peers,
            nodes=rest.nodes,
            services=self._service_tuple,
            slices=self._slices_of,
            secrets=rest.secrets,
            ip_pools=rest.ip_pools,
            filters=rest.filters,
            warnings=tuple(notices),
        )
        return cluster, {key: self._services.get(key) for key in self._touched}

    def planned(self) -> None:
        """The Services changed so far are planned."""
        self._touched = set()

    def _fed(self, feed: Feed | None) -> list[tuple[Key, Parsed | None]] | None:
        """The changes `feed` names, or None where it cannot be trusted to name them all."""
        if feed is None or self._taken is None or feed.since != self._taken or self._unnamed:
            return None
        records = [*feed.before, *feed.after]
        if not all(isinstance(p, Parsed) and p.key is not None for p in records):
            return None
        now: dict[Key, Parsed | None] = {p.key: None for p in feed.before}  # type: ignore[misc]
        now.update((p.key, p) for p in feed.after)  # type: ignore[misc]
        # The positions of the last list no longer hold: a later update without a feed
        # compares by key.
        self._records = []
        return [(key, p) for key, p in now.items() if self._by_key.get(key) is not p]

    def _changes(
        self, objects: Sequence[Parsed | dict[str, Any] | Document]
    ) -> list[tuple[Key, Parsed | None]]:
        """Each key whose record is not the very object of the last update (None: gone)."""
        old = self._records
        if len(objects) == len(old) and len(self._by_key) + len(self._unnamed) == len(old):
            # The store hands its records in the same order each time, so comparing position
            # by position, in C, finds what changed; the same key at each changed position
            # means the same set of keys, each once. Anything else is compared by key.
            pairs = list(compress(zip(objects, old, strict=True), map(is_not, objects, old)))
            if all(
                isinstance(new, Parsed) and new.key is not None and new.key == was.key
                for new, was in pairs
            ):
                self._records = list(objects)  # type: ignore[arg-type]
                return [(was.key, new) for new, was in pairs]  # type: ignore[misc]
        parsed = [o if isinstance(o, Parsed) else parse_object(o) for o in objects]
        self._records = parsed
        self._unnamed = [p for p in parsed if p.key is None]
        fresh = {p.key: p for p in parsed if p.key is not None}
        out: list[tuple[Key, Parsed | None]] = [
            (key, p) for key, p in fresh.items() if self._by_key.get(key) is not p
        ]
        out += [(key, None) for key in self._by_key.keys() - fresh.keys()]
        return out

    def _apply(self, key: Key, new: Parsed | None) -> None:
        old = self._by_key.pop(key, None)
        self._problems.pop(key, None)
        if new is not None:
            self._by_key[key] = new
            if new.problems or new.notices:
                self._problems[key] = new
        kind, namespace, name = key
        if kind not in _SERVICE_KINDS:
            if new is None:
                self._others.pop(key, None)
            else:
                self._others[key] = new
            self._assembled = None
            return
        record = None if new is None else new.record
        if kind == "Service":
            where = (namespace, name)
            self._set_service(where, record)
            self._touched.add(where)
        elif kind == "EndpointSlice":
            gone = None if old is None else old.record
            if gone is not None:
                self._move_slice((namespace, gone.service_name), gone, None)
            if record is not None:
                self._move_slice((namespace, record.service_name), None, record)
        else:  # a legacy Endpoints: its pseudo-slices count where the Service has no slice
            where = (namespace, name)
            sliced = self._sliced(where)
            if record is None:
                self._legacy.pop(where, None)
            else:
                self._legacy[where] = tuple(record)
            self._set_slices(where, sliced)

    def _set_service(self, where: ServiceKey, svc: Service | None) -> None:
        known = where in self._services
        if svc is None:
            if known:
                del self._services[where]
                del self._service_order[bisect.bisect_left(self._service_order, where)]
        else:
            self._services[where] = svc
            if not known:
                bisect.insort(self._service_order, where)
        self._service_tuple = None

    def _sliced(self, where: ServiceKey) -> tuple[EndpointSlice, ...]:
        """The Service's EndpointSlices, sorted by name; () if it has none."""
        now = self._slices_of.get(where, ())
        return () if now is self._legacy.get(where) else now

    def _move_slice(
        self, where: ServiceKey, gone: EndpointSlice | None, came: EndpointSlice | None
    ) -> None:
        kept = [s for s in self._sliced(where) if s is not gone]
        if came is not None:
            bisect.insort(kept, came, key=attrgetter("name"))
        self._set_slices(where, tuple(kept))

    def _set_slices(self, where: ServiceKey, sliced: tuple[EndpointSlice, ...]) -> None:
        # As `assemble`: a legacy Endpoints' pseudo-slices only where the Service has no
        # EndpointSlice at all.
        legacy = self._legacy.get(where)
        if sliced:
            self._slices_of[where] = sliced
        elif legacy:
            self._slices_of[where] = legacy
        else:
            self._slices_of.pop(where, None)
        self._touched.add(where)


class Incremental:
    """The sidecar's plan state, step to step: the assembled cluster, the Service table and
    the sessions (planned again only when a Node or Calico resource changed)."""

    def __init__(self) -> None:
        self.view = ClusterView()
        self.kept = Kept()
        self.feed: Feed | None = None  # what the next list handed in changed, if known

    def expect(self, feed: Feed | None) -> None:
        """What the list of the next step changed (`Feed`), or None: compare it in full."""
        self.feed = feed

    def plan(
        self, objects: Sequence[Parsed | dict[str, Any] | Document], env: Environment
    ) -> tuple[Cluster, NodePlan]:
        cluster, touched = self.view.update(objects, self.feed)
        plan = build_plan(cluster, env, self.kept, touched)
        self.view.planned()
        return cluster, plan
