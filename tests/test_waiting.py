"""tests/waiting.py: exceptions are "not yet", the wait is bounded, the message says why."""

from __future__ import annotations

import itertools

import pytest
from waiting import wait_for


def test_an_exception_is_not_yet() -> None:
    calls = itertools.count()

    def flaky() -> bool:
        if next(calls) < 3:
            raise ConnectionError("503 Service Unavailable")
        return True

    wait_for(flaky, timeout=5, interval=0)
    assert next(calls) == 4


def test_the_wait_is_bounded_and_names_the_last_error() -> None:
    def never() -> bool:
        raise ConnectionError("503 Service Unavailable")

    with pytest.raises(AssertionError, match=r"ready not met within 0.05 s; last error: .*503"):
        wait_for(never, timeout=0.05, what="ready")


def test_a_false_predicate_times_out_without_an_error_in_the_message() -> None:
    with pytest.raises(AssertionError, match=r"^route not met within 0.05 s$"):
        wait_for(lambda: False, timeout=0.05, what="route")
