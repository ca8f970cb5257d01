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

So a step costs what changed plus a few passes over the records in C (finding what changed,
copying the sorted routes into the plan's tuples). `tests/sidecar/test_memo_property.py`
checks that after any sequence of changes the outcome (text, reasons, notices, problems)
equals a render from scratch.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from itertools import compress
from operator import is_not
from typing import Any

from birdgen.errors import InvalidInput
from birdgen.model.parse import Key, Parsed, assemble, parse_object
from birdgen.model.resources import Cluster, EndpointSlice, Environment, Service
from birdgen.plan.build import Kept, build_plan
from birdgen.plan.services import ServiceKey
from birdgen.plan.types import NodePlan

# The kinds kept record by record; every other kind is assembled again when one changes.
_SERVICE_KINDS = ("Service", "EndpointSlice", "Endpoints")


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
        self._slices: dict[ServiceKey, dict[Key, EndpointSlice]] = {}
        self._legacy: dict[ServiceKey, list[EndpointSlice]] = {}
        self._slices_of: dict[ServiceKey, tuple[EndpointSlice, ...]] = {}  # Cluster.slices
        self._touched: set[ServiceKey] = set()

    def update(
        self, objects: Sequence[Parsed | dict[str, Any]]
    ) -> tuple[Cluster, dict[ServiceKey, Service | None]]:
        """The cluster of `objects` (later ones replacing earlier ones of the same key, as in
        `parse_cluster`), and each Service changed since `planned()` with its record (None
        where it is gone). Raises `InvalidInput` naming every problem, as `assemble` does."""
        for key, record in self._changes(objects):
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

    def _changes(
        self, objects: Sequence[Parsed | dict[str, Any]]
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
            for parsed, slice_ in ((old, None), (new, record)):
                if parsed is not None and parsed.record is not None:
                    where = (namespace, parsed.record.service_name)
                    group = self._slices.setdefault(where, {})
                    if slice_ is None:
                        group.pop(key, None)
                    else:
                        group[key] = slice_
                    if not group:
                        del self._slices[where]
                    self._slices_changed(where)
        else:  # a legacy Endpoints: its pseudo-slices count where the Service has no slice
            where = (namespace, name)
            if record is None:
                self._legacy.pop(where, None)
            else:
                self._legacy[where] = record
            self._slices_changed(where)

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

    def _slices_changed(self, where: ServiceKey) -> None:
        # As `assemble`: a Service's slices sorted by their key; a legacy Endpoints' only where
        # the Service has no EndpointSlice at all.
        group = self._slices.get(where)
        if group:
            self._slices_of[where] = tuple(group[k] for k in sorted(group))
        elif self._legacy.get(where):
            self._slices_of[where] = tuple(self._legacy[where])
        else:
            self._slices_of.pop(where, None)
        self._touched.add(where)


class Incremental:
    """The sidecar's plan state, step to step: the assembled cluster, the Service table and
    the sessions (planned again only when a Node or Calico resource changed)."""

    def __init__(self) -> None:
        self.view = ClusterView()
        self.kept = Kept()

    def plan(
        self, objects: Sequence[Parsed | dict[str, Any]], env: Environment
    ) -> tuple[Cluster, NodePlan]:
        cluster, touched = self.view.update(objects)
        plan = build_plan(cluster, env, self.kept, touched)
        self.view.planned()
        return cluster, plan
