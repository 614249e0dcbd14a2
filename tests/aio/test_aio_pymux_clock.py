"""pymux.aio only: its timers run on the C heap, whose deadlines are
CLOCK_MONOTONIC nanoseconds, and loop.time() is time.monotonic(). These pin
down why a timer can never fire before its `when`."""
import math
import random
import sys
import time

from pymux._clib import mux_loop_now_ns
from pymux.aio._timers import FAST_WHEN, deadline_ns, exact_deadline_ns


def test_the_c_clock_is_the_clock_of_time_monotonic():
    for _ in range(1000):
        before = time.monotonic_ns()
        c_now = mux_loop_now_ns()
        after = time.monotonic_ns()
        assert before <= c_now <= after


def sample_whens():
    rng = random.Random(3)
    now = time.monotonic()
    whens = [now + rng.uniform(-1e3, 1e5) for _ in range(20000)]
    whens += [rng.uniform(0, 2e7) for _ in range(20000)]    # uptimes up to ~230 days
    whens += [rng.uniform(-FAST_WHEN, FAST_WHEN) for _ in range(20000)]
    whens += [1.0, 0.0, -1.5, now, math.nextafter(now, 0), 123456.0000000005,
              math.nextafter(FAST_WHEN, 0), FAST_WHEN, -math.nextafter(FAST_WHEN, 0)]
    return whens


def test_an_exact_deadline_is_the_first_nanosecond_whose_monotonic_reading_reaches_when():
    for when in sample_whens():
        ns = exact_deadline_ns(when)
        # monotonic() reports float(ns) / 1e9 for a clock reading of ns.
        assert ns / 1e9 >= when, when
        assert (ns - 1) / 1e9 < when, when


def test_the_fast_deadline_is_never_early_and_at_most_three_nanoseconds_late():
    for when in sample_whens():
        ns, exact = deadline_ns(when), exact_deadline_ns(when)
        assert ns / 1e9 >= when, when
        assert exact <= ns <= exact + 3, when


def test_deadlines_past_the_fast_range_are_exact():
    for when in (FAST_WHEN, 1.5e7, -FAST_WHEN, float("inf"), float("nan")):
        assert deadline_ns(when) == exact_deadline_ns(when)


def test_deadlines_outside_int64_saturate():
    assert deadline_ns(float("inf")) == 2**63 - 1
    assert deadline_ns(1e30) == 2**63 - 1
    assert deadline_ns(float("-inf")) == -2**63
    assert deadline_ns(-1e30) == -2**63
    assert deadline_ns(float("nan")) == -2**63   # asyncio runs it at once
