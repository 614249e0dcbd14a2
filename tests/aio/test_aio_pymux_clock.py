"""pymux.aio only: its timers run on the C heap, whose deadlines are
CLOCK_MONOTONIC nanoseconds, and loop.time() is time.monotonic(). These pin
down why a timer can never fire before its `when`."""
import math
import random
import sys
import time

from pymux._clib import mux_loop_now_ns
from pymux.aio._loop import _deadline_ns


def test_the_c_clock_is_the_clock_of_time_monotonic():
    for _ in range(1000):
        before = time.monotonic_ns()
        c_now = mux_loop_now_ns()
        after = time.monotonic_ns()
        assert before <= c_now <= after


def test_a_deadline_is_the_first_nanosecond_whose_monotonic_reading_reaches_when():
    rng = random.Random(3)
    now = time.monotonic()
    whens = [now + rng.uniform(-1e3, 1e5) for _ in range(20000)]
    whens += [rng.uniform(0, 2e7) for _ in range(20000)]    # uptimes up to ~230 days
    whens += [1.0, 0.0, now, math.nextafter(now, 0), 123456.0000000005]
    for when in whens:
        ns = _deadline_ns(when)
        # monotonic() reports float(ns) / 1e9 for a clock reading of ns.
        assert ns / 1e9 >= when, when
        assert (ns - 1) / 1e9 < when, when


def test_deadlines_outside_int64_saturate():
    assert _deadline_ns(float("inf")) == 2**63 - 1
    assert _deadline_ns(1e30) == 2**63 - 1
    assert _deadline_ns(float("-inf")) == -2**63
    assert _deadline_ns(-1e30) == -2**63
    assert _deadline_ns(float("nan")) == -2**63   # asyncio runs it at once
