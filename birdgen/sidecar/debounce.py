"""sidecar: batch bursts of changes before the pipeline runs (sources -> **debounce** -> reconcile).

Every watch event and file change calls `changed()`. A batch is due once no change has arrived
for `quiet` seconds, but never later than `max_delay` after the batch's first change, so a
steady stream of changes cannot postpone the reload forever. The clock is injected, so the
timing rules are unit-tested without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(frozen=True)
class Batch:
    """The changes taken together: when the first and the last arrived, and how many."""

    first: float
    last: float
    count: int


class Debouncer:
    """Thread-safe: sources call `changed()` from their threads; one consumer calls `wait()`."""

    def __init__(self, quiet: float = 0.1, max_delay: float = 1.0, clock: Clock = time.monotonic):
        if quiet < 0 or max_delay < 0:
            raise ValueError("debounce delays must not be negative")
        self.quiet = quiet
        self.max_delay = max(max_delay, quiet) if max_delay else quiet
        self.clock = clock
        self._cond = threading.Condition()
        self._first: float | None = None
        self._last = 0.0
        self._count = 0
        self._woken = False
        self.changes = 0  # every change so far: equal counts, no change in between

    def changed(self) -> None:
        with self._cond:
            now = self.clock()
            if self._first is None:
                self._first = now
            self._last = now
            self._count += 1
            self.changes += 1
            self._cond.notify_all()

    def deadline(self) -> float | None:
        """When the pending batch becomes due (clock time), or None when nothing is pending."""
        with self._cond:
            return self._deadline()

    def take(self) -> Batch | None:
        """The pending batch if it is due now (and forget it), else None."""
        with self._cond:
            return self._take()

    def take_now(self) -> Batch | None:
        """The pending batch, due or not (and forget it), else None."""
        with self._cond:
            return self._take(eager=True)

    def wait(
        self,
        timeout: float,
        *,
        eager: bool = False,
        meanwhile: Callable[[], None] | None = None,
    ) -> Batch | None:
        """Block until a batch is due (returned), `wake()` is called or `timeout` passes (None).
        `eager`: a pending change is due at once, with no quiet period to wait out.
        `meanwhile`: called once (without the lock) as soon as a batch is pending and not yet
        due, so the consumer can prepare its step during the quiet period.

        `timeout` is measured with the real monotonic clock: waiting is the one thing an
        injected clock cannot do for us. The wait ends at the batch's deadline, not a moment
        after it: a wait that returns early (the clocks round differently) only goes round
        again for what is left.
        """
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                batch = self._take(eager)
                if batch is not None:
                    return batch
                if self._woken:
                    self._woken = False
                    return None
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return None
                due = self._deadline()
                if due is not None and meanwhile is not None:
                    prepare, meanwhile = meanwhile, None
                    self._cond.release()
                    try:
                        prepare()
                    finally:
                        self._cond.acquire()
                    continue
                if due is not None:
                    remaining = min(remaining, max(0.0, due - self.clock()))
                self._cond.wait(remaining)

    def wake(self) -> None:
        """Make a blocked `wait()` return at once (used to stop the loop)."""
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def _deadline(self) -> float | None:
        if self._first is None:
            return None
        return min(self._last + self.quiet, self._first + self.max_delay)

    def _take(self, eager: bool = False) -> Batch | None:
        due = self._first if eager else self._deadline()
        if due is None or self.clock() < due or self._first is None:
            return None
        batch = Batch(self._first, self._last, self._count)
        self._first, self._count = None, 0
        return batch
