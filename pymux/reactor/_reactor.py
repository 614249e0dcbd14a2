"""Reactor: an asyncio-shaped callback loop on the C core (csrc/mux_loop.c).

One `mux_loop_run_once` call per iteration waits, reads, accepts, flushes
and expires timers in C, then returns a batch of records that Python reads
with one `ffi.unpack` and dispatches in order, by kind (Reactor._dispatch
and its table, Reactor._RECORD_HANDLERS):

    DATA        -> protocol.data_received(bytes)   (the hot path)
    EOF/ERROR/CLOSED/RESUME_WRITING -> the stream's transport
    ACCEPT      -> a new Transport and Protocol
    ACCEPT_ERROR -> the listener pauses, accepting resumes after a delay
    IO          -> add_reader/add_writer callbacks
    TIMER       -> call_later/call_at callbacks, in (deadline, FIFO) order

A record whose stream, listener, timer or watcher went away earlier in the
same batch finds nothing in the reactor's dicts and is dropped, so closed
fds never get events; so is a watcher record for an fd whose watchers
changed earlier in the batch (the number may belong to a new fd). A
KeyboardInterrupt or SystemExit from a callback ends the run mid-batch; the
next run dispatches the rest of that batch first.

The order of one iteration (records as C reported them: fds, then due
timers; then the call_soon callbacks queued so far) is written once, in
README.md, "One iteration".
"""
import collections
import logging
import math
import os
import signal
import socket
import threading
import time
import warnings
import weakref

from .._backends import new_c_loop
from .._clib import (mux_loop_fired, mux_loop_free, mux_loop_read_buffer,
                     mux_loop_run_once, mux_loop_wakeup, mux_stream_close, mux_timer_add,
                     mux_timer_cancel, mux_watch)
from .._errors import FORKED, check_loop, oserror, owned
from .._mux import ffi, lib
from ._handles import Handle, TimerHandle
from . import _tcp

logger = logging.getLogger("pymux.reactor")

_DATA = lib.MUX_REC_DATA
_TIMER = lib.MUX_REC_TIMER
_READ = lib.MUX_READ
_WRITE = lib.MUX_WRITE
_RECORD_INTS = lib.MUX_RECORD_INTS
_MAX_TIMEOUT_US = 24 * 3600 * 1_000_000   # like asyncio: wake at least daily
_unpack = ffi.unpack

# Every reactor not closed yet, so that a forked child can mark them unusable.
_open_reactors: "weakref.WeakSet[Reactor]" = weakref.WeakSet()


class Reactor:
    """Callbacks, timers, fd watchers, signals and TCP on one C loop.

    backend: "epoll" (default), "epoll-et" (edge-triggered streams, drained
    under a per-iteration budget), "poll", "select", or "uring" (streams and
    listeners served by io_uring completions, Linux 6.0+; OSError naming the
    cause where the kernel refuses io_uring: pymux.uring.available()).
    """

    _closed = True   # until __init__ has a C loop (__del__ may see a failed one)

    def __init__(self, backend="epoll"):
        cloop = new_c_loop(backend)
        self.backend = backend
        self._cloop = cloop
        self._fired = mux_loop_fired(cloop)
        self._most_fired = 0        # most records one iteration returned
        self._wake_lock = threading.Lock()   # wake-ups from other threads vs close()
        self._rbuf = ffi.buffer(mux_loop_read_buffer(cloop), lib.MUX_READ_BUFFER)
        self._ready = collections.deque()
        self._timers = {}           # timer id -> TimerHandle
        self._readers = {}          # fd -> Handle
        self._writers = {}          # fd -> Handle
        self._rewatched = set()     # fds whose watchers changed in this batch
        self._streams = {}          # stream token -> Transport
        self._on_data = {}          # stream token -> protocol.data_received
        self._listeners = {}        # listener token -> Server
        self._signal_handlers = {}  # signum -> Handle
        self._signal_pair = None
        self._exception_handler = None
        self._connecting = set()    # sockets of connect_tcp calls still connecting
        self._unfinished = None     # records an exception cut off (see _dispatch)
        self._stopping = False
        self._running = False
        self._closed = False
        self._refusal = None        # why the reactor is unusable: closed, or forked
        _open_reactors.add(self)

    # --- time and callbacks -------------------------------------------------

    def time(self):
        """The loop's clock: time.monotonic(), immune to wall-clock jumps."""
        return time.monotonic()

    def call_soon(self, callback, *args):
        self._check_open()
        handle = Handle(callback, args, self)
        self._ready.append(handle)
        return handle

    def call_soon_threadsafe(self, callback, *args):
        """call_soon from any thread: wakes the loop if it is waiting."""
        handle = self.call_soon(callback, *args)
        self._wakeup()
        return handle

    def _wakeup(self):
        with self._wake_lock:
            if self._cloop is not None:
                mux_loop_wakeup(self._cloop)

    def call_later(self, delay, callback, *args):
        return self.call_at(self.time() + delay, callback, *args)

    def call_at(self, when, callback, *args):
        """Run callback at loop time `when` (never earlier)."""
        self._check_open()
        deadline_ns = math.ceil(when * 1e9)
        timer_id = check_loop(mux_timer_add(self._cloop, deadline_ns))
        handle = TimerHandle(when, callback, args, self, timer_id)
        self._timers[timer_id] = handle
        return handle

    def _cancel_timer(self, handle):
        timer_id = handle._timer_id
        if self._timers.get(timer_id) is handle:
            del self._timers[timer_id]
            # ENOENT (it fired in this very batch) is fine.
            owned(mux_timer_cancel(self._cloop, timer_id))

    # --- exceptions ---------------------------------------------------------

    def set_exception_handler(self, handler):
        """handler(reactor, context) replaces the default (logging.error)."""
        self._exception_handler = handler

    def call_exception_handler(self, context):
        if self._exception_handler is None:
            logger.error(context.get("message", "Unhandled exception in reactor"),
                         exc_info=context.get("exception"))
            return
        try:
            self._exception_handler(self, context)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            logger.exception("Exception in the reactor's exception handler")

    def _call_protocol(self, method, *args):
        """Call a protocol method; its exception goes to the handler."""
        try:
            return method(*args)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.call_exception_handler({
                "message": f"Exception in protocol callback {method!r}",
                "exception": exc,
            })
            return None

    # --- fd watchers --------------------------------------------------------

    def add_reader(self, fd, callback, *args):
        self._add_watcher(self._readers, fd, callback, args)

    def add_writer(self, fd, callback, *args):
        self._add_watcher(self._writers, fd, callback, args)

    def remove_reader(self, fd):
        return self._remove_watcher(self._readers, fd)

    def remove_writer(self, fd):
        return self._remove_watcher(self._writers, fd)

    def _mask(self, fd):
        return (_READ if fd in self._readers else 0) | (_WRITE if fd in self._writers else 0)

    def _add_watcher(self, table, fd, callback, args):
        self._check_open()
        fd = _fileno(fd)
        self._rewatched.add(fd)
        old = table.get(fd)
        table[fd] = Handle(callback, args, self)
        rc = mux_watch(self._cloop, fd, self._mask(fd))
        if rc < 0:
            if old is None:
                del table[fd]
            else:
                table[fd] = old
            check_loop(rc)
        if old is not None:
            old.cancel()

    def _remove_watcher(self, table, fd):
        fd = _fileno(fd)
        if self._refusal == FORKED:
            raise RuntimeError(FORKED)
        handle = table.pop(fd, None)
        if handle is None:
            return False
        self._rewatched.add(fd)
        handle.cancel()
        if not self._closed:
            # Other errors mean the fd is gone already: nothing to undo.
            owned(mux_watch(self._cloop, fd, self._mask(fd)))
        return True

    # --- signals ------------------------------------------------------------

    def add_signal_handler(self, sig, callback, *args):
        """Run callback(*args) in the loop when signal `sig` arrives.

        Main thread only (a Python rule); like asyncio, the C-level handler
        only writes the signal number to a socket the loop watches. The
        errors are asyncio's: TypeError for a non-int, ValueError for an
        invalid number, RuntimeError for SIGKILL and SIGSTOP.
        """
        _check_signal(sig)
        self._check_open()
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("add_signal_handler() must be called from the main thread")
        if self._signal_pair is None:
            self._open_signal_pair()
        self._signal_handlers[sig] = Handle(callback, args, self)
        try:
            signal.signal(sig, _noop_signal_handler)
            signal.siginterrupt(sig, False)
        except OSError as exc:   # EINVAL: SIGKILL, SIGSTOP
            del self._signal_handlers[sig]
            raise RuntimeError(f"sig {sig} cannot be caught") from exc

    def remove_signal_handler(self, sig):
        _check_signal(sig)
        if self._signal_handlers.pop(sig, None) is None:
            return False
        signal.signal(sig, signal.SIG_DFL if sig != signal.SIGINT else signal.default_int_handler)
        return True

    def _open_signal_pair(self):
        pair = socket.socketpair()
        try:
            for s in pair:
                s.setblocking(False)
            self.add_reader(pair[0].fileno(), self._read_signals)
        except BaseException:
            for s in pair:
                s.close()
            raise
        signal.set_wakeup_fd(pair[1].fileno(), warn_on_full_buffer=False)
        self._signal_pair = pair

    def _close_signal_pair(self):
        """Stop Python writing signal numbers to our socket, then close it.
        If the wake-up fd cannot be reset (not the main thread), the pair
        stays open for good: closed, its fd number could be reused, and
        every signal would write a byte into someone else's file."""
        pair, self._signal_pair = self._signal_pair, None
        if pair is None:
            return
        ours = pair[1].fileno()
        try:
            previous = signal.set_wakeup_fd(-1)
            if previous != ours:   # not ours any more: put the new owner's back
                signal.set_wakeup_fd(previous)
        except BaseException:
            _kept_wakeup_fds.extend(s.detach() for s in pair)
            raise
        for s in pair:
            s.close()

    def _read_signals(self):
        try:
            data = self._signal_pair[0].recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        for signum in data:
            handle = self._signal_handlers.get(signum)
            if handle is not None:
                self._ready.append(handle)

    # --- TCP ----------------------------------------------------------------

    def listen_tcp(self, protocol_factory, host="127.0.0.1", port=0, backlog=128,
                   reuse_port=False):
        """Accept TCP connections; each gets protocol_factory() and a Transport.

        Returns a Server (see its `sockname` for the bound port).
        """
        self._check_open()
        return _tcp.listen(self, protocol_factory, host, port, backlog, reuse_port)

    def connect_tcp(self, protocol_factory, host, port, on_error=None):
        """Connect without blocking; returns the protocol, whose
        connection_made runs once connected. A failure goes to
        on_error(exc), or to the exception handler."""
        self._check_open()
        return _tcp.connect(self, protocol_factory, host, port, on_error)

    def _new_stream(self, token, protocol, extra=None):
        transport = _tcp.Transport(self, token, protocol, extra)
        self._streams[token] = transport
        self._on_data[token] = protocol.data_received
        self._call_protocol(protocol.connection_made, transport)
        return transport

    def transports(self):
        """The open stream transports, in no particular order."""
        return list(self._streams.values())

    def _stream_closed(self, token, exc):
        """The C stream is gone: connection_lost runs soon, exactly once."""
        self._on_data.pop(token, None)
        transport = self._streams.pop(token, None)
        if transport is not None:
            transport._detach()
            self._ready.append(Handle(transport._connection_lost, (exc,), self))

    # --- running ------------------------------------------------------------

    def run_forever(self):
        """Run iterations until stop() is called."""
        self._run(_forever, None)

    def run(self, main, *args):
        """call_soon(main, *args), then run_forever() until stop()."""
        self.call_soon(main, *args)
        self.run_forever()

    def run_until(self, predicate, timeout=None):
        """Run iterations until predicate() is true (returns True), stop()
        is called or `timeout` seconds pass (returns False)."""
        return self._run(predicate, timeout)

    def _run(self, predicate, timeout):
        self._check_open()
        if self._running:
            raise RuntimeError("This reactor is already running")
        # The timer only makes the wait end on time; the deadline decides.
        guard = None if timeout is None else self.call_later(timeout, _nothing)
        deadline = None if timeout is None else guard.when()
        self._running = True
        # stop() called before: one iteration, waiting for nothing, as in asyncio.
        stopped = False
        try:
            if predicate is _forever:   # run_forever: no predicate call per iteration
                run_once = self._run_once
                while not stopped:
                    run_once()
                    stopped = self._stopping
                return False
            while not predicate():
                if stopped or (deadline is not None and self.time() >= deadline):
                    return False
                self._run_once()
                stopped = self._stopping
            return True
        finally:
            self._running = False
            self._stopping = False
            if guard is not None:
                guard.cancel()

    def stop(self):
        """Finish the current iteration, then return from run_forever().
        Called while not running, the next run does one iteration that
        waits for nothing, then returns (as asyncio's does)."""
        self._stopping = True
        self._wakeup()

    def is_running(self):
        return self._running

    def is_closed(self):
        return self._closed

    def close(self):
        """Release the loop: its streams, listeners, connecting sockets,
        signal handlers and wake-up fd, then the C loop. Every step runs
        even if one fails; the first error is raised at the end.

        In a process forked after the reactor was made, close() is the one
        call allowed: it closes this process's copies of the fds and leaves
        the kernel state it shares with the parent (an epoll instance) alone.
        """
        if self._running:
            raise RuntimeError("Cannot close a running reactor")
        if self._closed:
            return
        self._closed = True
        self._refusal = "Reactor is closed"
        _open_reactors.discard(self)
        steps = _AllSteps()
        for sig in list(self._signal_handlers):
            steps.run(self.remove_signal_handler, sig)
        steps.run(self._close_signal_pair)
        for server in list(self._listeners.values()):
            steps.run(server._forget)
        for transport in self._streams.values():
            steps.run(transport._reactor_closed)
        for sock in self._connecting:
            steps.run(sock.close)
        self._connecting.clear()
        self._unfinished = None
        self._ready.clear()
        self._timers.clear()
        self._readers.clear()
        self._writers.clear()
        self._streams.clear()
        self._on_data.clear()
        self._rbuf = self._fired = None   # views of C memory freed next
        with self._wake_lock:
            mux_loop_free(self._cloop)
            self._cloop = None
        steps.raise_first()

    def __del__(self, _warn=warnings.warn):
        # As asyncio's loops do: an unclosed reactor is a bug worth a
        # warning, and its fds and C memory are released either way.
        if not self._closed:
            _warn(f"unclosed Reactor {self!r}", ResourceWarning, source=self)
            if not self._running:
                self.close()

    def _check_open(self):
        if self._refusal is not None:
            raise RuntimeError(self._refusal)

    def _run_once(self):
        ready = self._ready
        if self._unfinished is None:
            timeout_us = 0 if ready or self._stopping else _MAX_TIMEOUT_US
            n = mux_loop_run_once(self._cloop, timeout_us)
            if n > 0:
                if n > self._most_fired:   # the record array may have moved
                    self._most_fired = n
                    self._fired = mux_loop_fired(self._cloop)
                self._rewatched.clear()
                self._dispatch(_unpack(self._fired, n * _RECORD_INTS))
            elif n < 0:
                check_loop(n)
        else:
            # The last run ended in the middle of a batch: finish that
            # iteration before waiting again. No run_once since, so the
            # read buffer still holds the bytes its DATA records name.
            records, self._unfinished = self._unfinished, None
            self._dispatch(records)
        # Callbacks scheduled by these callbacks wait for the next iteration.
        for _ in range(len(ready)):
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()

    def _dispatch(self, records):
        on_data = self._on_data
        rbuf = self._rbuf
        timers = self._timers
        handlers = self._RECORD_HANDLERS
        DATA, TIMER = _DATA, _TIMER
        # DATA and TIMER, the hot paths, are handled inline: through the
        # table each would cost one more Python call per record (measured
        # +15% per timer). Every other kind goes through the table.
        # By index, not zip(it, it, it, it): as fast on CPython, and PyPy's
        # JIT reads the list in place instead of building a tuple a record.
        i = 0
        end = len(records)
        try:
            while i < end:
                kind = records[i]
                token = records[i + 1]
                a = records[i + 2]
                b = records[i + 3]
                i += 4
                if kind == DATA:
                    data_received = on_data.get(token)
                    if data_received is not None:
                        try:
                            data_received(rbuf[a:a + b])
                        except (SystemExit, KeyboardInterrupt):
                            raise
                        except BaseException as exc:
                            self._protocol_failed(token, exc)
                elif kind == TIMER:
                    handle = timers.pop(token, None)
                    if handle is not None and not handle._cancelled:
                        handle._run()
                else:
                    handlers[kind](self, token, a)
        except BaseException:
            # KeyboardInterrupt or SystemExit from a callback ends the run,
            # as in asyncio; the records after it are kept for the next
            # run, which dispatches them first (their bytes already left
            # the kernel: dropping them would lose data).
            self._unfinished = records[i:]
            raise

    # --- the other record kinds: handler(self, token, a) ---------------------

    def _fd_ready(self, fd, mask):
        # A watcher added or removed earlier in this batch may belong to a
        # new fd that reuses a closed one's number: its record is stale.
        # Watchers are level-triggered, so a real event comes back next time.
        if fd in self._rewatched:
            return
        if mask & _READ:
            handle = self._readers.get(fd)
            if handle is not None:
                handle._run()
        if mask & _WRITE:
            handle = self._writers.get(fd)
            if handle is not None:
                handle._run()

    def _connection_accepted(self, listener_token, stream_token):
        server = self._listeners.get(listener_token)
        if server is not None:
            server._accepted(stream_token)
        else:
            mux_stream_close(self._cloop, stream_token, 1)

    def _accept_failed(self, listener_token, err):
        server = self._listeners.get(listener_token)
        if server is not None:
            server._accept_failed(err)

    def _eof_received(self, token, _):
        transport = self._streams.get(token)
        if transport is not None:
            transport._eof_received()

    def _stream_failed(self, token, err):
        transport = self._streams.get(token)
        if transport is not None:
            transport._fatal_error(oserror(-err))

    def _write_queue_drained(self, token, _):
        transport = self._streams.get(token)
        if transport is not None:
            transport._queue_drained()

    def _deferred_close_done(self, token, _):
        self._stream_closed(token, None)

    # Every record kind but DATA and TIMER (inline in _dispatch).
    _RECORD_HANDLERS = {
        lib.MUX_REC_IO: _fd_ready,
        lib.MUX_REC_ACCEPT: _connection_accepted,
        lib.MUX_REC_ACCEPT_ERROR: _accept_failed,
        lib.MUX_REC_EOF: _eof_received,
        lib.MUX_REC_ERROR: _stream_failed,
        lib.MUX_REC_RESUME_WRITING: _write_queue_drained,
        lib.MUX_REC_CLOSED: _deferred_close_done,
    }

    def _protocol_failed(self, token, exc):
        transport = self._streams.get(token)
        self.call_exception_handler({
            "message": "Exception in protocol.data_received()",
            "exception": exc,
            "transport": transport,
        })
        if transport is not None:
            transport.abort()

    def __repr__(self):
        state = "closed" if self._closed else "running" if self._running else "idle"
        return f"<pymux Reactor backend={self.backend} {state}>"


def _nothing():
    """A timer callback that only ends the wait it is scheduled for."""


def _forever():
    """run_forever's predicate (Reactor._run loops without calling it)."""
    return False


def _check_signal(sig):
    """asyncio's checks (unix_events._check_signal), with its messages."""
    if not isinstance(sig, int):
        raise TypeError(f"sig must be an int, not {sig!r}")
    if sig not in signal.valid_signals():
        raise ValueError(f"invalid signal number {sig}")


# The fds of signal wake-up socketpairs that could not be unset, open until
# the process ends (see _close_signal_pair).
_kept_wakeup_fds: list[int] = []


class _AllSteps:
    """Runs steps that must all run, keeping the first exception."""

    def __init__(self):
        self.error = None

    def run(self, step, *args):
        try:
            step(*args)
        except BaseException as exc:   # noqa: BLE001: raised by raise_first()
            if self.error is None:
                self.error = exc

    def raise_first(self):
        error, self.error = self.error, None
        if error is not None:
            raise error


def _refuse_in_the_child():
    """After fork(), in the child: the reactors are the parent's."""
    for reactor in list(_open_reactors):
        reactor._refusal = FORKED


os.register_at_fork(after_in_child=_refuse_in_the_child)


def _noop_signal_handler(signum, frame):
    """The wake-up fd carries the signal; the handler runs in the loop."""


def _fileno(fd):
    if isinstance(fd, int):
        if fd < 0:
            raise ValueError(f"invalid file descriptor: {fd}")
        return fd
    try:
        return _fileno(fd.fileno())
    except AttributeError:
        raise TypeError(f"invalid file object: {fd!r}") from None

