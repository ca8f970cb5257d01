"""CPU of one sidecar step after a relevant change: the incremental plan against a full one.

    .venv/bin/python bench/relevant_step.py DIR [--node node-0001] [--changes 21]

DIR is a `bench/gen_cluster.py` output (JSON or YAML). The store's records are built once, as
the sidecar's informers build them (`birdgen.sidecar.store.Lean`); then each change moves a
Local Service's only endpoint onto or off the node (its EndpointSlice re-parsed, as a watch
event is), and one step's `render_objects` (assemble, plan, render) is timed in CPU seconds,
four ways in turn in the same run: from scratch as `birdgen render` does it (every object
assembled, every Service planned) with the cyclic collector on, the same with the collector
paused (`collector.collector_paused`), the sidecar's `Incremental` state kept between steps,
that through `LastValid.resolve` and `accept` as the `Reconciler` calls it, and that again
with the `Feed` the sidecar's informers give (the changed record named, so the step compares
no other: the sidecar's whole render). Prints medians and ratios.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from birdgen.collector import collector_paused
from birdgen.model.parse import Parsed
from birdgen.model.resources import Environment
from birdgen.pipeline import Rendered, render_objects
from birdgen.plan.incremental import Feed, Incremental
from birdgen.sidecar.holding import LastValid
from birdgen.sidecar.store import Lean
from birdgen.sources import files


def local_slice(objects: list[dict[str, Any]]) -> int:
    """The index of the EndpointSlice of some Local LoadBalancer Service."""
    local = {
        (o["metadata"]["namespace"], o["metadata"]["name"])
        for o in objects
        if o.get("kind") == "Service"
        and o["spec"].get("externalTrafficPolicy") == "Local"
        and o["spec"].get("type") == "LoadBalancer"
    }
    for i, o in enumerate(objects):
        if o.get("kind") == "EndpointSlice" and o.get("endpoints"):
            owner = o["metadata"].get("labels", {}).get("kubernetes.io/service-name")
            if (o["metadata"]["namespace"], owner) in local:
                return i
    raise SystemExit("no EndpointSlice of a Local LoadBalancer Service")


class Change:
    """The records of DIR as the sidecar's store keeps them, and the change that flips one
    Local Service's only endpoint onto (even steps) or off (odd steps) the node."""

    def __init__(self, argv: list[str] | None, changes: int, doc: str) -> None:
        ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
        ap.add_argument("data", type=Path)
        ap.add_argument("--node", default="node-0001")
        ap.add_argument("--changes", type=int, default=changes)
        a = ap.parse_args(argv)
        self.node, self.changes = a.node, a.changes
        self.raw = files.load([str(a.data)])
        self.lean = Lean(a.node)
        self.records: list[Parsed] = [self.lean(o) for o in self.raw]
        self.at = local_slice(self.raw)
        self.env = Environment(node_name=a.node)
        onto, off = copy.deepcopy(self.raw[self.at]), copy.deepcopy(self.raw[self.at])
        onto["endpoints"] = [{**onto["endpoints"][0], "nodeName": a.node, "conditions": {"ready": True}}]  # fmt: skip
        off["endpoints"] = [{**off["endpoints"][0], "nodeName": "elsewhere", "conditions": {"ready": True}}]  # fmt: skip
        self.versions = (onto, off)

    def apply(self, i: int) -> tuple[Parsed, Parsed]:
        """Step `i`'s change: the slice re-parsed, as a watch event is, in the store's place;
        the record it replaced and the new one."""
        old = self.records[self.at]
        self.records[self.at] = self.lean(self.versions[i % 2])
        return old, self.records[self.at]


def main(argv: list[str] | None = None) -> int:
    change = Change(argv, 21, __doc__ or "")
    records, env = change.records, change.env
    state, held_state, holder = Incremental(), Incremental(), LastValid()
    fed_state, fed_holder = Incremental(), LastValid()
    # The fed state's take, and the step's change (the old record, the new one).
    taken: list[Any] = [0, None, None]

    def held(objects: list[Parsed]) -> Rendered:
        return render_objects(objects, env, held_state)

    def fed(objects: list[Parsed]) -> Rendered:
        return render_objects(objects, env, fed_state)

    # The sync's first step fills the states (the fed one without a feed: its first take).
    render_objects(records, env, state)
    with collector_paused():
        holder.accept(holder.resolve(records, held))
        fed_state.expect(Feed(records, -1, 0, (), ()))
        fed_holder.accept(fed_holder.resolve(records, fed))

    def through_feed() -> str:
        # As the sidecar's loop: the informers' take says which record changed.
        n, old, new = taken
        fed_state.expect(Feed(records, n, n + 1, (old,), (new,)))
        taken[0] = n + 1
        resolution = fed_holder.resolve(records, fed)
        fed_holder.accept(resolution)
        text: str = resolution.result.text
        return text

    def through_holder() -> str:
        resolution = holder.resolve(records, held)
        holder.accept(resolution)
        text: str = resolution.result.text
        return text

    ways: dict[str, tuple[Callable[[], str], bool]] = {
        "from scratch, collector on (the old path)": (
            lambda: render_objects(records, env).text,
            False,
        ),
        "from scratch, collector paused": (lambda: render_objects(records, env).text, True),
        "incremental (collector paused)": (
            lambda: render_objects(records, env, state).text,
            True,
        ),
        "incremental through LastValid, no feed": (through_holder, True),
        "fed what changed, through LastValid (sidecar)": (through_feed, True),
    }
    base_name = next(iter(ways))
    times: dict[str, list[float]] = {name: [] for name in ways}
    texts: dict[str, set[str]] = {name: set() for name in ways}
    for i in range(change.changes):
        taken[1:] = change.apply(i)
        for name, (way, paused) in ways.items():
            t = time.process_time()
            if paused:
                with collector_paused():
                    text = way()
            else:
                text = way()
            times[name].append(time.process_time() - t)
            texts[name].add(text)
    assert all(t == texts[base_name] for t in texts.values()), "same text"
    assert len(texts[base_name]) == 2, "the change must show in the text"
    print(f"objects: {len(change.raw)}; changes: {change.changes}, each onto or off {change.node}")
    base = statistics.median(times[base_name])
    for name in ways:
        ms = statistics.median(times[name])
        print(f"{name:45} {ms * 1000:8.1f} ms CPU (median), {ms / base:.4f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
