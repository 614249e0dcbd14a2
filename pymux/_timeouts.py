"""Timeout conversion and the PEP 475 EINTR retry shared by pymux.select
and pymux.selectors.

Conversions follow CPython's _PyTime rules for the stdlib select module:
floats round away from zero to nanoseconds, then up to the call's unit, so
a short positive timeout never becomes a busy zero wait.
"""
import errno
import math
import operator
import signal
import time

from ._errors import check

INT_MAX = 2**31 - 1
_NS_LIMIT = 2**63          # _PyTime_t is a signed 64-bit count of ns
_EINTR = -errno.EINTR
_NO_SIGNALS = ()


def to_ns(value, unit_ns, type_message):
    """A number of `unit_ns`-nanosecond units as an int of ns (never None)."""
    if isinstance(value, float):
        if type(value) is not float:
            value = float.__float__(value)  # a subclass's own value, as CPython reads it
        if value != value:
            raise ValueError("Invalid value NaN (not a number)")
        ns = value * unit_ns
        if not -_NS_LIMIT <= ns < _NS_LIMIT:
            raise OverflowError("timestamp out of range for platform time_t")
        return math.ceil(ns) if ns >= 0 else math.floor(ns)
    try:
        ns = operator.index(value) * unit_ns
    except TypeError:
        raise TypeError(type_message) from None
    if not -_NS_LIMIT < ns < _NS_LIMIT:
        raise OverflowError("timestamp too large to convert to C _PyTime_t")
    return ns


def ns_to_wait_us(ns, away_from_zero=False):
    """ns -> the microseconds of an epoll/poll wait (-1: forever), rounded to
    whole milliseconds as the stdlib rounds them: up for epoll, away from
    zero for poll (so that any negative timeout is forever)."""
    ms = ns // 1_000_000 if away_from_zero and ns < 0 else -(-ns // 1_000_000)
    if not -INT_MAX - 1 <= ms <= INT_MAX:
        raise OverflowError("timeout is too large")
    return -1 if ms < 0 else ms * 1000


def retry_on_eintr(rc, wait, timeout_us, deadline_ns):
    """Finish a wait that returned rc < 0 (PEP 475).

    `wait(timeout_us)` repeats the C call. First the Python signal handlers
    run (one that raises propagates), as CPython's PyErr_CheckSignals() runs
    them in its own retry loop: pthread_sigmask() changes no mask here but
    runs them on CPython and PyPy alike. PyPy needs it: its JIT checks for
    signals only at loop back-edges, so a handler may not have run yet, and
    the retried wait would block until its timeout instead. Then the wait
    is retried with the time remaining before `deadline_ns` (monotonic),
    and 0 events are reported once it has passed.
    """
    while rc == _EINTR:
        signal.pthread_sigmask(signal.SIG_BLOCK, _NO_SIGNALS)
        if timeout_us > 0:
            remaining_ns = deadline_ns - time.monotonic_ns()
            if remaining_ns <= 0:
                return 0
            timeout_us = -(-remaining_ns // 1000)
        rc = wait(timeout_us)
    return check(rc)
