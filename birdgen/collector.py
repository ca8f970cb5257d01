"""The cyclic garbage collector paused while birdgen builds many objects that form no cycles.

A render builds hundreds of thousands of small objects, and the sidecar's initial sync 40,000
long-lived records at 1,000 nodes; each collection on the way would walk every tracked object
again (measured: a third of the one-shot model time, half of a sidecar step, a third of the
sync's list-to-record time). Reference counting still frees everything that is not a cycle.

The sidecar lists in several informer threads while its reconcile thread renders, so the pause
is shared: the collector is off while any holder is inside, and on again (if it was on when the
first came in) when the last one leaves, however the holders overlap.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
