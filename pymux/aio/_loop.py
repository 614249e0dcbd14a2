"""Loop: asyncio's selector event loop with the C core's iteration.

What asyncio implements over readiness (SSL, UDP, pipes, subprocesses,
sock_* methods, add_reader/add_writer) is inherited unchanged and reaches
the C loop's watchers through WatcherTable. Replaced:

- _run_once: one mux_loop_run_once crossing waits, reads, flushes and
  expires timers. Its records, in C's order: stream records call their
  protocol at once (DATA: data_received, or get_buffer/buffer_updated; EOF,
  ERROR, RESUME_WRITING, CLOSED: the transport's handlers), IO records queue
  asyncio's reader/writer handles on _ready, due timers (in (deadline, FIFO)
  order) queue theirs. Then the callbacks ready at that point run, those
  the protocol methods scheduled included (as uvloop runs them); those they
  schedule wait for the next iteration, as in asyncio;
- _make_socket_transport: TCP and Unix stream sockets get a StreamTransport
  on a C stream (see _transport.py); SSL transports stay asyncio's;
- call_at and call_later: timers live on the C heap, and their
  TimerHandle's cancel() removes them there (see _timers.py);
- call_soon (and so the callbacks futures schedule): the same Handle,
  built without its __init__ chain (see _handles.py);
- _write_to_self (call_soon_threadsafe's wake-up): the C loop's eventfd.
  The self-pipe stays, for signals.

The C loop belongs to the Loop: close() detaches the open transports
(their C streams, fds included, go with the loop), then frees it; an
unclosed Loop is closed by asyncio's __del__ (with its "unclosed event
loop" ResourceWarning) when collected. Nothing else keeps the pointer past
close().
"""
import asyncio
import math
import sys
from asyncio.base_events import _format_handle
from asyncio.events import Handle
from asyncio.format_helpers import extract_stack
from asyncio.futures import Future
from asyncio.log import logger
from contextvars import copy_context
from functools import partial
from time import monotonic as _monotonic
from types import MethodType

from .._backends import new_c_loop
from .._clib import (mux_loop_fired, mux_loop_free, mux_loop_run_once, mux_loop_wakeup,
                     mux_timer_add)
from .._errors import check_loop
from .._mux import ffi, lib
from ._core import Core
from ._handles import report_callback_error
from ._listeners import Listener, is_stream_socket, start_listener
from ._timers import FAST_WHEN, TimerHandle, deadline_ns
from ._transport import StreamTransport, TransportTable, open_stream
from ._watchers import WatcherTable

_IO = lib.MUX_REC_IO
_TIMER = lib.MUX_REC_TIMER
_DATA = lib.MUX_REC_DATA
_ACCEPT = lib.MUX_REC_ACCEPT
_READ = lib.MUX_READ
_WRITE = lib.MUX_WRITE
_RECORD_INTS = lib.MUX_RECORD_INTS
_MAX_TIMEOUT_US = 24 * 3600 * 1_000_000   # asyncio's MAXIMUM_SELECT_TIMEOUT
_unpack = ffi.unpack
_ceil = math.ceil
_new = object.__new__


class Loop(asyncio.SelectorEventLoop):
    """An asyncio event loop on pymux's C core.

    backend: "epoll" (default), "epoll-et", "poll", "select" or "uring", as for
    pymux.reactor.Reactor (pymux.reactor.BACKENDS); add_reader/add_writer
    watchers are level-triggered on each."""

    def __init__(self, backend="epoll"):
        try:
            cloop = new_c_loop(backend)
        except BaseException:
            # asyncio's __del__ reads it. Not a class attribute: one that
            # shadows an instance attribute makes CPython's reads of it slow.
            self._closed = True
            raise
        # The safety net if __init__ fails below; close() frees it at once.
        self._cloop = ffi.gc(cloop, mux_loop_free)
        self._core = Core(self._cloop)    # records, read buffer, streams (see _core.py)
        # C timer id -> TimerHandle, or None: C's ids index a dense slab
        # (reused, lowest first), so a list does a dict's job, and on PyPy
        # without a dict's cost per insert.
        self._timers = []
        # Few attributes of our own (30 in all, with _core and the bound
        # callables below): past 30, CPython stops sharing the instance
        # dict's keys and every attribute read gets slower.
        super().__init__(WatcherTable(self._cloop, backend))
        self._transports = TransportTable()   # no weak reference per C stream
        # Every future costs a create_future() call and, in the C Future's
        # __init__, a get_debug() call: as C partials they run no Python
        # frame (unless a subclass has its own).
        cls = type(self)
        if cls.create_future is Loop.create_future:
            self.create_future = partial(Future, loop=self)
        if cls.get_debug is Loop.get_debug:
            self.get_debug = partial(getattr, self, "_debug")
        # The C Future looks call_soon up on the loop for every callback it
        # schedules (each task wake-up): found in the instance dict, the
        # bound method is not built anew each time.
        if cls.call_soon is Loop.call_soon:
            self.call_soon = MethodType(Loop.call_soon, self)

    # --- callbacks --------------------------------------------------------

    def call_soon(self, callback, *args, context=None):
        if self._closed:
            self._check_closed()
        # Handle.__init__'s work inline (see _handles.py): one Python call
        # in all (futures and streams schedule their callbacks through here).
        handle = _new(Handle)
        handle._context = copy_context() if context is None else context
        handle._loop = self
        handle._callback = callback
        handle._args = args
        handle._cancelled = False
        handle._repr = None
        handle._source_traceback = None
        if self._debug:
            self._check_thread()
            self._check_callback(callback, "call_soon")
            handle._source_traceback = extract_stack(sys._getframe(1))
        self._ready.append(handle)
        return handle

    # --- timers -----------------------------------------------------------

    def call_later(self, delay, callback, *args, context=None):
        if delay is None:
            raise TypeError("delay must not be None")
        # time() is monotonic(), the C heap's clock: a loop whose time()
        # were another clock could not keep timers on that heap anyway.
        when = _monotonic() + delay
        # A call that unpacks *args costs a few hundred ns more in CPython:
        # make it only for the callbacks that take arguments.
        if args:
            timer = self.call_at(when, callback, *args, context=context)
        else:
            timer = self.call_at(when, callback, context=context)
        if timer._source_traceback:   # debug mode: from call_later's caller, as asyncio
            del timer._source_traceback[-1]
        return timer

    def call_at(self, when, callback, *args, context=None):
        # One Python call in all (call_at is on every timeout's path): the
        # deadline_ns and TimerHandle.__init__'s work are inline.
        if when is None:
            raise TypeError("when cannot be None")
        if -FAST_WHEN < when < FAST_WHEN:
            deadline = _ceil(when * 1e9) + 1
        else:
            deadline = deadline_ns(when)
        if self._closed:
            self._check_closed()
        if self._debug:
            self._check_thread()
            self._check_callback(callback, "call_at")
        timer_id = mux_timer_add(self._cloop, deadline)
        if timer_id < 0:
            check_loop(timer_id)
        timer = _new(TimerHandle)
        timer._context = copy_context() if context is None else context
        timer._loop = self
        timer._callback = callback
        timer._args = args
        timer._cancelled = False
        timer._repr = None
        timer._source_traceback = None
        timer._when = when
        timer._scheduled = True
        timer._timer_id = timer_id
        try:
            self._timers[timer_id] = timer
        except IndexError:   # an id C has not handed out before
            self._add_timer_slots(timer_id)
            self._timers[timer_id] = timer
        if self._debug:   # where call_at was called
            timer._source_traceback = extract_stack(sys._getframe(1))
        return timer

    def _add_timer_slots(self, timer_id):
        timers = self._timers
        timers.extend([None] * (max(timer_id + 1, 2 * len(timers)) - len(timers)))

    # --- wake-up ----------------------------------------------------------

    def _write_to_self(self):
        # Any thread, any time, even during or after close().
        with self._core.wake_lock:
            if self._cloop is not None:
                mux_loop_wakeup(self._cloop)

    # --- one iteration ----------------------------------------------------

    def _run_once(self):
        ready = self._ready
        core = self._core
        if core.unfinished is None:
            timeout_us = 0 if ready or self._stopping else _MAX_TIMEOUT_US
            n = mux_loop_run_once(self._cloop, timeout_us)
            if n > 0:
                if n > core.most_fired:   # the record array may have moved
                    core.most_fired = n
                    core.fired = mux_loop_fired(self._cloop)
                self._queue_fired(_unpack(core.fired, n * _RECORD_INTS))
            elif n < 0:
                check_loop(n)
        else:
            # The last iteration ended in the middle of its records: finish
            # them before waiting again (no run_once since, so the read
            # buffer still holds the bytes their DATA records name).
            records, core.unfinished = core.unfinished, None
            self._queue_fired(records)
        # The callbacks ready now, those the protocol methods above
        # scheduled included; those these schedule wait for the next
        # iteration (after another wait for I/O), as in asyncio.
        if self._debug:
            self._run_ready_timed(len(ready))
            return
        # Handle._run() inline: one Python frame less per callback.
        popleft = ready.popleft
        for _ in range(len(ready)):
            handle = popleft()
            if not handle._cancelled:
                args = handle._args
                try:
                    # A call with *args builds two objects more: the
                    # common shapes go without (one argument: a future's
                    # callback, so every task wake-up).
                    if len(args) == 1:
                        handle._context.run(handle._callback, args[0])
                    elif args:
                        handle._context.run(handle._callback, *args)
                    else:
                        handle._context.run(handle._callback)
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException as exc:
                    report_callback_error(handle, exc)

    def _queue_fired(self, records):
        """One batch of records: stream records call their protocol at once
        (DATA inline: the hot path), watcher records queue their handles on
        _ready (asyncio's _process_events), then due timers."""
        ready = self._ready
        timers = self._timers
        keys = self._selector._fd_to_key
        core = self._core
        on_data = core.on_data
        rbuf = core.rbuf
        # By index, not zip(it, it, it, it): as fast on CPython, and PyPy's
        # JIT reads the list in place instead of building a tuple a record.
        i = 0
        end = len(records)
        try:
            while i < end:
                kind = records[i]
                ident = records[i + 1]
                a = records[i + 2]
                b = records[i + 3]
                i += 4
                if kind == _DATA:
                    protocol = on_data.get(ident)
                    if protocol is not None:
                        try:
                            protocol.data_received(rbuf[a:a + b])
                        except (SystemExit, KeyboardInterrupt):
                            raise
                        except BaseException as exc:
                            core.streams[ident]._data_failed(exc)
                    else:
                        transport = core.buffered.get(ident)
                        if transport is not None:
                            transport._buffer_data(a, b)
                elif kind == _TIMER:
                    handle = timers[ident] if ident < len(timers) else None
                    if handle is not None:
                        timers[ident] = None
                        handle._scheduled = False
                        if not handle._cancelled:
                            ready.append(handle)
                elif kind == _IO:
                    key = keys.get(ident)
                    if key is None:
                        continue
                    reader, writer = key.data
                    if a & _READ and reader is not None:
                        if reader._cancelled:
                            self._remove_reader(key.fileobj)
                        else:
                            ready.append(reader)
                    if a & _WRITE and writer is not None:
                        if writer._cancelled:
                            self._remove_writer(key.fileobj)
                        else:
                            ready.append(writer)
                else:   # the other stream records, and the listeners'
                    owner = (core.streams if kind < _ACCEPT else core.listeners).get(ident)
                    if owner is not None:
                        _STREAM_RECORDS[kind](owner, a)
        except BaseException:
            # KeyboardInterrupt or SystemExit from a protocol method ends the
            # run, as in asyncio; the records after it are kept for the next
            # run (their bytes already left the kernel: dropping them would
            # lose data, and their timers left the C heap).
            core.unfinished = records[i:]
            raise

    # --- transports ---------------------------------------------------------

    def _start_serving(self, protocol_factory, sock, sslcontext=None, server=None,
                       backlog=100, *args, **kwargs):
        """Plain stream servers accept in C (see _listeners.py)."""
        if sslcontext is None and is_stream_socket(sock) and \
                start_listener(self, protocol_factory, sock, server, backlog):
            return
        super()._start_serving(protocol_factory, sock, sslcontext, server, backlog,
                               *args, **kwargs)

    def _stop_serving(self, sock):
        listener = self._core.listener_of_fd.pop(sock.fileno(), None)
        if listener is not None:
            listener.close()
        super()._stop_serving(sock)

    def _make_socket_transport(self, sock, protocol, waiter=None, *, extra=None,
                               server=None):
        """TCP and Unix stream sockets get a transport on a C stream; other
        sockets, or an fd the C loop cannot take, asyncio's."""
        if is_stream_socket(sock):
            transport = open_stream(self, sock, protocol, waiter, extra, server)
            if transport is not None:
                return transport
        return super()._make_socket_transport(sock, protocol, waiter, extra=extra,
                                              server=server)

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
        # Refuses a running loop; unregisters the self-pipe and closes the
        # WatcherTable (which drops its pointer to the C loop).
        super().close()
        if self.is_closed():
            self._release_cloop()

    def _release_cloop(self):
        with self._core.wake_lock:
            cloop, self._cloop = self._cloop, None
        if cloop is not None:
            self._core.release()   # before C frees the streams and listeners
            for handle in self._timers:
                if handle is not None:
                    handle._scheduled = False   # nothing left to cancel in C
            self._timers.clear()
            ffi.release(cloop)


# The records but DATA, TIMER and IO (inline in _queue_fired): kind ->
# handler(its transport or listener, the record's first int).
_STREAM_RECORDS = {
    lib.MUX_REC_ACCEPT: Listener._accepted,
    lib.MUX_REC_ACCEPT_ERROR: Listener._accept_failed,
    lib.MUX_REC_EOF: StreamTransport._eof_received,
    lib.MUX_REC_ERROR: StreamTransport._stream_failed,
    lib.MUX_REC_RESUME_WRITING: StreamTransport._queue_drained,
    lib.MUX_REC_CLOSED: StreamTransport._deferred_close_done,
}
