"""Reactor timers: deadline order, FIFO ties, never early, cancellation.

Every test runs on each backend (the ``reactor`` fixture in conftest).
"""
import random
import time

import pytest

from reactor_helpers import run_until


def test_timers_fire_in_deadline_order(reactor):
    # One base time for every deadline: call_later's are taken at each call,
    # and a stall between two calls on a loaded machine would reorder them.
    fired = []
    delays = [0.05, 0.01, 0.04, 0.0, 0.03, 0.02]
    base = reactor.time()
    for delay in delays:
        reactor.call_at(base + delay, fired.append, delay)
    run_until(reactor, lambda: len(fired) == len(delays))
    assert fired == sorted(delays)


def test_call_later_timers_fire_in_deadline_order(reactor):
    # Deadlines 0.2 s apart: far more than a stall between two call_later calls.
    fired = []
    delays = [0.4, 0.0, 0.2]
    for delay in delays:
        reactor.call_later(delay, fired.append, delay)
    run_until(reactor, lambda: len(fired) == len(delays))
    assert fired == sorted(delays)


# 2000 timers due in one iteration: more fired records than the C core's
# initial record array holds (1024), so the array must grow under the caller.
@pytest.mark.parametrize("count", [100, 2000])
def test_equal_deadlines_fire_in_insertion_order(reactor, count):
    fired = []
    when = reactor.time() + 0.02
    for i in range(count):
        reactor.call_at(when, fired.append, i)
    run_until(reactor, lambda: len(fired) == count)
    assert fired == list(range(count))


def test_ten_thousand_timers_with_duplicate_deadlines_fire_by_deadline_then_fifo(reactor):
    rng = random.Random(4)
    start = reactor.time() + 0.05
    whens = [start + rng.randrange(50) * 0.001 for _ in range(10_000)]
    fired = []
    for i, when in enumerate(whens):
        reactor.call_at(when, fired.append, i)
    run_until(reactor, lambda: len(fired) == len(whens))
    assert fired == sorted(range(len(whens)), key=lambda i: (whens[i], i))


def test_timers_never_fire_before_their_deadline(reactor):
    late_by = {}
    handles = []

    def fire(handle_index):
        now = time.monotonic()
        late_by[handle_index] = now - handles[handle_index].when()

    for i, delay in enumerate([0.0, 0.0001, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1]):
        handles.append(reactor.call_later(delay, fire, i))
    base = reactor.time()
    for offset in [0.0005, 0.003, 0.03]:
        handles.append(reactor.call_at(base + offset, fire, len(handles)))
    run_until(reactor, lambda: len(late_by) == len(handles))
    early = {i: late for i, late in late_by.items() if late < 0}
    assert early == {}


def test_call_later_measured_with_monotonic_waits_at_least_the_delay(reactor):
    fired_at = []
    start = time.monotonic()
    reactor.call_later(0.1, lambda: fired_at.append(time.monotonic()))
    run_until(reactor, lambda: fired_at)
    assert fired_at[0] - start >= 0.1


def test_cancelled_timer_does_not_run(reactor):
    fired = []
    handle = reactor.call_later(0.01, fired.append, "cancelled")
    reactor.call_later(0.03, fired.append, "kept")
    handle.cancel()
    assert handle.cancelled()
    run_until(reactor, lambda: "kept" in fired)
    assert fired == ["kept"]


def test_callback_cancelling_a_later_timer_due_in_the_same_iteration_stops_it(reactor):
    fired = []
    when = reactor.time() + 0.01
    later = None

    def first():
        fired.append("first")
        later.cancel()

    reactor.call_at(when, first)
    later = reactor.call_at(when + 0.005, fired.append, "later")
    reactor.call_at(when + 0.02, fired.append, "sentinel")
    # Block the loop past both deadlines so one wait expires both timers
    # into the same batch of fired records.
    reactor.call_soon(time.sleep, 0.03)
    run_until(reactor, lambda: "sentinel" in fired)
    assert fired == ["first", "sentinel"]


def test_callback_cancelling_a_timer_with_the_same_deadline_stops_it(reactor):
    fired = []
    when = reactor.time() + 0.01
    handles = []

    def cancel_the_rest():
        fired.append(0)
        for handle in handles[1:]:
            handle.cancel()

    handles.append(reactor.call_at(when, cancel_the_rest))
    for i in range(1, 5):
        handles.append(reactor.call_at(when, fired.append, i))
    reactor.call_at(when + 0.02, fired.append, "sentinel")
    run_until(reactor, lambda: "sentinel" in fired)
    assert fired == [0, "sentinel"]


def test_timer_cancelling_itself_while_running_is_harmless(reactor):
    fired = []
    handle = None

    def fire():
        fired.append("self")
        handle.cancel()

    handle = reactor.call_later(0.0, fire)
    reactor.call_later(0.02, fired.append, "after")
    run_until(reactor, lambda: "after" in fired)
    assert fired == ["self", "after"]


def test_timer_scheduled_by_a_timer_callback_runs_in_a_later_iteration(reactor):
    fired = []

    def first():
        fired.append("first")
        reactor.call_later(0.0, fired.append, "scheduled")
        fired.append("first done")

    reactor.call_later(0.0, first)
    run_until(reactor, lambda: "scheduled" in fired)
    assert fired == ["first", "first done", "scheduled"]


def test_cancelling_an_already_fired_timer_does_not_cancel_a_newer_one(reactor):
    fired = []
    old = reactor.call_later(0.0, fired.append, "old")
    run_until(reactor, lambda: fired)
    # Let an iteration pass so the C core may hand the old id out again.
    reactor.call_soon(fired.append, "tick")
    run_until(reactor, lambda: "tick" in fired)
    newer = [reactor.call_later(0.01, fired.append, f"new{i}") for i in range(3)]
    old.cancel()
    run_until(reactor, lambda: len(fired) == 5)
    assert fired == ["old", "tick", "new0", "new1", "new2"]
    assert not any(h.cancelled() for h in newer)
