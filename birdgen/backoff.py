"""Capped exponential backoff, shared by the informers' reconnects and the sidecar's retries.

The delay doubles from `initial` to `maximum` and stays there however long the failures go on
(it is kept as state, not recomputed as initial * 2**n, which overflows after ~1,024 failures:
a sidecar may well see that many while BIRD is down for a day). `reset()` after a success.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial: float, maximum: float, *, jitter: bool = False) -> None:
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self.failures = 0
        self._next = initial

    def next(self) -> float:
        """The delay before the next attempt. With `jitter`, drawn from [delay/2, delay): spread
        the reconnects of many clients after a server restart, never a tight loop."""
        self.failures += 1
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return delay / 2 + random.random() * delay / 2 if self.jitter else delay

    def reset(self) -> None:
        self.failures = 0
        self._next = self.initial
