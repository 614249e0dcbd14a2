"""Loop: asyncio's selector event loop with the C core's iteration.

What asyncio implements over readiness (transports, SSL, UDP, pipes,
subprocesses, sock_* methods, add_reader/add_writer) is inherited unchanged
and reaches the C loop's watchers through WatcherTable. Replaced:

- _run_once: one mux_loop_run_once crossing waits and expires timers; its
  records (IO first, then due timers, in (deadline, FIFO) order) queue their
  handles on _ready, then the callbacks ready at that point run, exactly as
  asyncio's own _run_once does (callbacks they schedule wait for the next
  iteration);
- call_at (and so call_later): timers live on the C heap, and
  TimerHandle.cancel() removes them there (_timer_handle_cancelled);
- _write_to_self (call_soon_threadsafe's wake-up): the C loop's eventfd.
  The self-pipe stays, for signals.

The C loop belongs to the Loop: close() frees it, and an unclosed Loop is
closed by asyncio's __del__ (with its "unclosed event loop" ResourceWarning)
when collected. Nothing else keeps the pointer past close().
"""
import asyncio
import math
import threading

from asyncio import events
from asyncio.base_events import _format_handle
from asyncio.log import logger

from .._clib import (mux_loop_fired, mux_loop_free, mux_loop_new, mux_loop_run_once,
                     mux_loop_wakeup, mux_timer_add, mux_timer_cancel)
from .._errors import check_loop, raise_errno
from .._mux import ffi, lib
from ._watchers import WatcherTable

_IO = lib.MUX_REC_IO
_TIMER = lib.MUX_REC_TIMER
_READ = lib.MUX_READ
_WRITE = lib.MUX_WRITE
_RECORD_INTS = lib.MUX_RECORD_INTS
_MAX_TIMEOUT_US = 24 * 3600 * 1_000_000   # asyncio's MAXIMUM_SELECT_TIMEOUT
_NS_MAX = 2**63 - 1
_NS_MIN = -2**63
_unpack = ffi.unpack


class _TimerHandle(events.TimerHandle):
    """asyncio's TimerHandle plus the id of its C timer."""

    __slots__ = ("_timer_id",)


def _deadline_ns(when):
    """The C deadline (CLOCK_MONOTONIC ns, the clock of time.monotonic())
    for loop time `when`: the first ns whose monotonic() reading is >= when,
    so float rounding can never make a timer fire early."""
    try:
        ns = math.ceil(when * 1e9)
    except OverflowError:   # +-inf
        return _NS_MAX if when > 0 else _NS_MIN
    except ValueError:      # nan: asyncio's heap runs it at once
        return _NS_MIN
    if ns >= _NS_MAX:
        return _NS_MAX
    if ns <= _NS_MIN:
        return _NS_MIN
    # monotonic() reports float(ns) / 1e9; when * 1e9 was rounded too.
    while ns / 1e9 < when:
        ns += 1
    while (ns - 1) / 1e9 >= when:
        ns -= 1
    return ns


class Loop(asyncio.SelectorEventLoop):
    """An asyncio event loop on pymux's C core (epoll)."""

    def __init__(self):
        err = ffi.new("int *")
        cloop = mux_loop_new(lib.MUX_BACKEND_EPOLL, 0, err)
        if cloop == ffi.NULL:
            raise_errno(err[0])
        # The safety net if __init__ fails below; close() frees it at once.
        self._cloop = ffi.gc(cloop, mux_loop_free)
        self._fired = mux_loop_fired(cloop)
        self._most_fired = 0              # most records one iteration returned
        self._timers = {}                 # C timer id -> _TimerHandle
        self._wake_lock = threading.Lock()   # wake-ups from other threads vs close()
        self._watchers = WatcherTable(self._cloop)
        super().__init__(self._watchers)

    # --- timers -----------------------------------------------------------

    def call_at(self, when, callback, *args, context=None):
        if when is None:
            raise TypeError("when cannot be None")
        deadline = _deadline_ns(when)
        self._check_closed()
        if self._debug:
            self._check_thread()
            self._check_callback(callback, "call_at")
        timer = _TimerHandle(when, callback, args, self, context)
        if timer._source_traceback:
            del timer._source_traceback[-1]
        timer_id = check_loop(mux_timer_add(self._cloop, deadline))
        timer._timer_id = timer_id
        timer._scheduled = True
        self._timers[timer_id] = timer
        return timer

    def _timer_handle_cancelled(self, handle):
        if not handle._scheduled:
            return
        timer_id = handle._timer_id
        # If C refuses (-ENOENT: due in the batch being dispatched; -EBUSY:
        # cancelled from another thread while the loop waits), the record
        # still comes and is dropped then: the handle is cancelled.
        if self._timers.get(timer_id) is handle and mux_timer_cancel(self._cloop, timer_id) == 0:
            del self._timers[timer_id]
            handle._scheduled = False

    # --- wake-up ----------------------------------------------------------

    def _write_to_self(self):
        # Any thread, any time, even during or after close().
        with self._wake_lock:
            if self._cloop is not None:
                mux_loop_wakeup(self._cloop)

    # --- one iteration ----------------------------------------------------

    def _run_once(self):
        ready = self._ready
        timeout_us = 0 if ready or self._stopping else _MAX_TIMEOUT_US
        n = mux_loop_run_once(self._cloop, timeout_us)
        if n > 0:
            if n > self._most_fired:   # the record array may have moved
                self._most_fired = n
                self._fired = mux_loop_fired(self._cloop)
            self._queue_fired(_unpack(self._fired, n * _RECORD_INTS))
        elif n < 0:
            check_loop(n)
        # Only the callbacks ready now: those they schedule wait for the
        # next iteration (after another wait for I/O), as in asyncio.
        if self._debug:
            self._run_ready_timed(len(ready))
            return
        for _ in range(len(ready)):
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()

    def _queue_fired(self, records):
        """Queue the handles of one batch on _ready: asyncio's
        _process_events for IO records, then the due timers."""
        ready = self._ready
        timers = self._timers
        keys = self._watchers._fd_to_key
        it = iter(records)
        for kind, ident, mask, _ in zip(it, it, it, it):
            if kind == _TIMER:
                handle = timers.pop(ident, None)
                if handle is not None:
                    handle._scheduled = False
                    if not handle._cancelled:
                        ready.append(handle)
            elif kind == _IO:
                key = keys.get(ident)
                if key is None:
                    continue
                reader, writer = key.data
                if mask & _READ and reader is not None:
                    if reader._cancelled:
                        self._remove_reader(key.fileobj)
                    else:
                        ready.append(reader)
                if mask & _WRITE and writer is not None:
                    if writer._cancelled:
                        self._remove_writer(key.fileobj)
                    else:
                        ready.append(writer)

    def _run_ready_timed(self, ntodo):
        """The ready callbacks in debug mode: slow ones are logged as
        asyncio logs them."""
        ready = self._ready
        for _ in range(ntodo):
            handle = ready.popleft()
            if handle._cancelled:
                continue
            try:
                self._current_handle = handle
                t0 = self.time()
                handle._run()
                dt = self.time() - t0
                if dt >= self.slow_callback_duration:
                    logger.warning("Executing %s took %.3f seconds", _format_handle(handle), dt)
            finally:
                self._current_handle = None

    # --- closing ----------------------------------------------------------

    def close(self):
        super().close()   # refuses a running loop; unregisters the self-pipe
        if self.is_closed():
            self._release_cloop()

    def _release_cloop(self):
        with self._wake_lock:
            cloop, self._cloop = self._cloop, None
        if cloop is not None:
            self._timers.clear()
            self._watchers._cloop = None
            self._fired = None
            ffi.release(cloop)
