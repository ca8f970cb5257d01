"""The loop takes its view of the cluster during a batch's quiet period (`Sidecar._take_ahead`);
when a change comes after that, the step takes a fresh view and `merged` joins what changed over
both takes. What the plan state reads of a `Taken` (`ClusterView._fed`): every key of `before`
changed, and `after` holds each changed key's value now."""

from __future__ import annotations

from typing import Any

from birdgen.model.parse import Parsed, parse_object
from birdgen.sidecar.loop import merged
from birdgen.sources.kube import Taken


def svc(name: str, ip: str) -> Parsed:
    spec = {"type": "ClusterIP", "clusterIP": ip, "ports": [{"port": 80}]}
    return parse_object({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "d"}, "spec": spec})  # fmt: skip


def now(taken: Taken) -> dict[Any, Parsed | None]:
    """Each changed key and its value now (None: gone), read as the plan state reads it."""
    state: dict[Any, Parsed | None] = {p.key: None for p in taken.before}
    state.update((p.key, p) for p in taken.after)
    return state


def test_a_change_again_after_the_first_take_keeps_only_its_latest_value() -> None:
    a1, a2, a3 = svc("a", "10.0.0.1"), svc("a", "10.0.0.2"), svc("a", "10.0.0.3")
    b, c1, c2 = svc("b", "10.0.0.4"), svc("c", "10.0.0.5"), svc("c", "10.0.0.6")
    d = svc("d", "10.0.0.7")
    # First take: a modified, b added, c deleted, d added. Then: a modified again, b deleted,
    # c created anew; d untouched.
    first = Taken([a1, c1], [a2, b, d])
    then = Taken([a2, b], [a3, c2])
    both = merged(first, then)
    assert both is not None
    assert now(both) == {a1.key: a3, b.key: None, c1.key: c2, d.key: d}


def test_an_unknown_take_makes_the_whole_unknown() -> None:
    a = svc("a", "10.0.0.1")
    assert merged(None, Taken([], [a])) is None
    assert merged(Taken([], [a]), None) is None
    # A value without a key (never in the sidecar's stores) cannot be followed by key either.
    assert merged(Taken([], [a]), Taken([], [{"kind": "Service"}])) is None
