"""Waiting on conditions, never on time: the one `wait_for` the tests share.

On a loaded machine everything takes longer, so a test waits for what it needs to see, up to a
generous bound that only a real failure reaches. An exception from the predicate (a 503 while the
server comes up, a file not written yet) means "not yet", and the last one is in the message if
the bound is reached.
"""

from __future__ import annotations

import time
from collections.abc import Callable

DEFAULT_TIMEOUT = 30.0


def wait_for(
    predicate: Callable[[], object],
    timeout: float = DEFAULT_TIMEOUT,
    what: str = "condition",
    interval: float = 0.02,
) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            if predicate():
                return
            last_error = None
        except Exception as exc:  # not yet
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f"; last error: {last_error!r}" if last_error is not None else ""
            raise AssertionError(f"{what} not met within {timeout} s{detail}")
        time.sleep(interval)
