"""The debouncer's timing rules with an injected clock: quiet period, capped delay, batching."""

from __future__ import annotations

import threading
import time

import pytest

from birdgen.sidecar.debounce import Debouncer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_defaults_one_change_is_due_after_100ms(clock: Clock) -> None:
    d = Debouncer(clock=clock)  # the defaults: 0.1 s quiet, 1 s at most
    assert d.take() is None and d.deadline() is None
    d.changed()
    clock.now += 0.099
    assert d.take() is None
    clock.now += 0.001
    batch = d.take()
    assert batch is not None and (batch.first, batch.count) == (1000.0, 1)
    assert d.take() is None and d.deadline() is None


def test_defaults_a_steady_stream_is_applied_after_at_most_1s(clock: Clock) -> None:
    d = Debouncer(clock=clock)
    taken = []
    for _ in range(300):  # a change every 50 ms for 15 s: never 100 ms of quiet
        d.changed()
        clock.now += 0.05
        if (batch := d.take()) is not None:
            taken.append(batch)
    assert len(taken) == 14  # one per second, never later than 1 s after the batch's first
    assert all(b.last - b.first <= 1.0 for b in taken)
    assert all(abs(b.count - 20) <= 1 for b in taken)


def test_quiet_period_restarts_with_each_change(clock: Clock) -> None:
    d = Debouncer(quiet=0.1, max_delay=1.0, clock=clock)
    d.changed()
    clock.now += 0.08
    d.changed()
    assert d.deadline() == pytest.approx(1000.18)
    clock.now += 0.08
    assert d.take() is None
    clock.now += 0.02
    batch = d.take()
    assert batch is not None and batch.count == 2


def test_zero_max_delay_means_just_the_quiet_period(clock: Clock) -> None:
    d = Debouncer(quiet=0.2, max_delay=0, clock=clock)
    d.changed()
    assert d.deadline() == pytest.approx(1000.2)


def test_negative_delays_are_refused() -> None:
    with pytest.raises(ValueError):
        Debouncer(quiet=-1)


def test_wait_returns_the_batch_from_another_thread_and_wake_unblocks() -> None:
    d = Debouncer(quiet=0.02, max_delay=0.1)
    threading.Timer(0.05, d.changed).start()
    began = time.monotonic()
    batch = d.wait(60.0)
    assert batch is not None and batch.count == 1  # a batch, so not the 60 s timeout
    assert time.monotonic() - began >= 0.06  # the change came at 0.05 s, then 0.02 s of quiet
    threading.Timer(0.05, d.wake).start()
    began = time.monotonic()
    # None either way: only the time tells wake from the 60 s timeout, so the bound is far off.
    assert d.wait(60.0) is None and time.monotonic() - began < 30
    assert d.wait(0.05) is None  # timeout with nothing pending


def test_an_eager_wait_takes_a_pending_change_at_once(clock: Clock) -> None:
    # The loop waits eagerly until its first step: the initial lists are no burst to let settle.
    d = Debouncer(quiet=0.1, max_delay=1.0, clock=clock)
    d.changed()
    d.changed()
    batch = d.wait(30.0, eager=True)  # the injected clock never reaches the deadline
    assert batch is not None and (batch.first, batch.count) == (1000.0, 2)
    assert d.take_now() is None and d.wait(0.0, eager=True) is None
    d.changed()
    assert d.take() is None, "a plain take still waits for the quiet period"
    taken = d.take_now()
    assert taken is not None and taken.count == 1 and d.deadline() is None


def test_meanwhile_runs_once_while_a_batch_waits_out_its_quiet_period() -> None:
    d = Debouncer(quiet=0.05, max_delay=1.0)
    calls: list[int] = []
    assert d.wait(0.0, meanwhile=lambda: calls.append(d.changes)) is None
    assert calls == [], "nothing pending: nothing to prepare"
    d.changed()
    batch = d.wait(30.0, meanwhile=lambda: calls.append(d.changes))
    assert batch is not None and batch.count == 1 and calls == [1]
