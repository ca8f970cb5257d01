"""`collector.collector_paused` (the cyclic collector off while rendering) leaves the collector as
it found it, whether the render returns or raises, so a long-running sidecar never runs on
with the collector off."""

from __future__ import annotations

import gc
import threading

import pytest

from birdgen.collector import collector_paused
from birdgen.errors import InvalidInput, Problem


def test_paused_inside_and_enabled_again_after_a_failure() -> None:
    assert gc.isenabled()
    with pytest.raises(InvalidInput), collector_paused():
        assert not gc.isenabled()
        raise InvalidInput([Problem("Service", "default/a", "spec", "bad")])
    assert gc.isenabled()


def test_a_collector_already_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_holders_keep_it_off_until_the_last_leaves() -> None:
    # The sidecar's informer threads list while its reconcile thread renders: the first
    # holder out must not turn the collector back on under the others.
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_paused_across_threads() -> None:
    inside, leave = threading.Barrier(3), threading.Event()
    seen: list[bool] = []

    def hold() -> None:
        with collector_paused():
            inside.wait(timeout=10)
            leave.wait(timeout=10)
            seen.append(gc.isenabled())

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait(timeout=10)
    assert not gc.isenabled()
    leave.set()
    for t in threads:
        t.join(timeout=10)
    assert seen == [False, False]
    assert gc.isenabled()
