"""`pipeline.collector_paused` (the cyclic collector off while rendering) leaves the collector as
it found it, whether the render returns or raises, so a long-running sidecar never runs on
with the collector off."""

from __future__ import annotations

import gc

import pytest

from birdgen.errors import InvalidInput, Problem
from birdgen.pipeline import collector_paused


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
