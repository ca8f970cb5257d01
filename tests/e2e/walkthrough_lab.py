"""The walkthrough's lab as the end-to-end modules share it: skipped where a lab cannot be
built, started in the walkthrough's base state, and checked to leave no namespace behind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from birdgen.lab.netns import list_namespaces
from birdgen.lab.topology import Lab, lab_available
from birdgen.lab.walkthrough import BASE, NODES, Walkthrough


@contextmanager
def walkthrough_lab(prepare: Callable[[Lab], None] | None = None) -> Iterator[Walkthrough]:
    ok, reason = lab_available()
    if not ok:
        pytest.skip(f"network-namespace lab unavailable: {reason}")
    with Lab(NODES) as lab:
        names = lab.namespace_names()
        walk = Walkthrough(lab)
        if prepare is not None:
            prepare(lab)
        walk.start(BASE)
        yield walk
    assert not set(names) & set(list_namespaces()), "lab namespaces left behind"
