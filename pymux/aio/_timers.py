"""Timers on the C heap: loop time -> C deadline, and their handles.

call_later + cancel is a hot path of asyncio code (every wait_for and
timeout arms one and usually cancels it), so both halves cost few Python
calls: the deadline is one multiplication and a ceil, and the handle is
asyncio's TimerHandle filled in without its __init__ chain (_handles.py),
with a cancel() that needs no super() chain.
"""
import math
from asyncio import events

from .._clib import mux_timer_cancel

NS_MAX = 2**63 - 1
NS_MIN = -2**63
# Below this many seconds, when * 1e9 is under 2**53: the product is within
# 0.5 of the exact one and ceil(when * 1e9) + 1 is a safe deadline (see
# deadline_ns). 9e6 s is 104 days of CLOCK_MONOTONIC (uptime); later
# timers take the exact, slower path.
FAST_WHEN = 9e6

_ceil = math.ceil


def deadline_ns(when):
    """A C deadline (CLOCK_MONOTONIC ns, the clock of time.monotonic()) for
    loop time `when` that can never fire early: monotonic() reports fl(t /
    1e9) for a clock reading of t ns, so every t >= the deadline must have
    t / 1e9 >= when.

    Fast path: |when * 1e9| < 2**53, so the float product P is within 0.5
    of the exact when * 1e9, and ceil(P) + 1 >= P + 1 > when * 1e9 exactly
    (at most 3 ns later than the first such ns). Else exact_deadline_ns."""
    if -FAST_WHEN < when < FAST_WHEN:
        return _ceil(when * 1e9) + 1
    return exact_deadline_ns(when)


def exact_deadline_ns(when):
    """The first ns whose monotonic() reading is >= when, saturated to
    int64 (nan: at once, as asyncio's heap runs it)."""
    try:
        ns = _ceil(when * 1e9)
    except OverflowError:   # +-inf
        return NS_MAX if when > 0 else NS_MIN
    except ValueError:      # nan
        return NS_MIN
    if ns >= NS_MAX:
        return NS_MAX
    if ns <= NS_MIN:
        return NS_MIN
    # monotonic() reports float(ns) / 1e9; when * 1e9 was rounded too.
    while ns / 1e9 < when:
        ns += 1
    while (ns - 1) / 1e9 >= when:
        ns -= 1
    return ns


class TimerHandle(events.TimerHandle):
    """asyncio's TimerHandle for a timer on the C heap (id `_timer_id`).

    Same attributes and behaviour as asyncio's. Loop.call_at builds it
    without __init__ (see _handles.py); _scheduled is True while the loop
    holds it in _timers under _timer_id, until it fires, is cancelled or the
    loop closes (so the loop's _cloop is there whenever _scheduled is True)."""

    __slots__ = ("_timer_id",)

    def cancel(self):
        if not self._cancelled:
            loop = self._loop
            timer_id = self._timer_id
            # If C refuses (-ENOENT: due in the batch being dispatched;
            # -EBUSY: cancelled from another thread while the loop waits),
            # the record still comes and the loop drops it then.
            if self._scheduled and mux_timer_cancel(loop._cloop, timer_id) == 0:
                loop._timers[timer_id] = None
                self._scheduled = False
            # asyncio's Handle.cancel(), inline:
            self._cancelled = True
            if loop._debug:
                self._repr = repr(self)   # keeps the callback for debug logs
            self._callback = None
            self._args = None
