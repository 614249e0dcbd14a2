"""Transport: the asyncio-shaped handle on a C-side stream.

The bytes never pass through a Python socket: the loop's C core reads into
its shared buffer and writes with send(2), queueing only what the kernel did
not take. A Transport holds the stream's token; a write is one cffi
crossing, and a stale token is refused by C (EBADF), never misdirected.

A Transport holds the C loop pointer only while its stream is attached:
once the stream is gone (closed, lost, or taken down by Reactor.close())
it holds NULL, which C refuses (EINVAL), so nothing reaches freed memory.
"""
from .._clib import (mux_stream_close, mux_stream_queued, mux_stream_set_limits,
                     mux_stream_set_reading, mux_stream_shutdown, mux_stream_write,
                     mux_token_fd)
from .._errors import oserror, owned
from .._streams import DEAD_TOKEN, DEFAULT_HIGH_WATER, NO_LOOP, dup_socket, write_buffer


class Transport:
    """Write to, pause, half-close and close one connection."""

    __slots__ = ("_reactor", "_cloop", "_token", "_protocol", "_closing",
                 "_eof_written", "_reading", "_writing_paused", "_high", "_low",
                 "_extra", "_orphaned")

    def __init__(self, reactor, token, protocol, extra=None):
        self._reactor = reactor
        self._cloop = reactor._cloop
        self._token = token
        self._protocol = protocol
        self._closing = False
        self._eof_written = False
        self._reading = True
        self._writing_paused = False
        self._high = DEFAULT_HIGH_WATER
        self._low = DEFAULT_HIGH_WATER // 4
        self._extra = extra     # get_extra_info() cache, made on first use
        self._orphaned = False  # the reactor closed while this transport was open

    # --- writing ------------------------------------------------------------

    def write(self, data):
        """Send data now if the kernel takes it; queue the rest in C."""
        # The hot path is the cffi call alone: C refuses a closed or
        # shut-down stream and a detached transport's NULL loop, and
        # anything but bytes raises TypeError there.
        try:
            queued = mux_stream_write(self._cloop, self._token, data, len(data))
        except TypeError:
            queued = write_buffer(self._cloop, self._token, data)
        if queued:   # rare: a partial send (> 0) or a refusal (< 0)
            self._after_write(queued)

    def _after_write(self, queued):
        if queued < 0:
            owned(queued)   # another thread's call, or a forked child's: RuntimeError
            if self._eof_written:
                raise RuntimeError("Cannot call write() after write_eof()")
            if self._orphaned:   # asyncio: a transport that needs its closed loop raises
                raise RuntimeError("Reactor is closed")
            if not self._closing:   # writes after close() are ignored, as in asyncio
                self._fatal_error(oserror(queued))
        elif queued > self._high and not self._writing_paused:
            self._writing_paused = True
            self._reactor._call_protocol(self._protocol.pause_writing)

    def writelines(self, list_of_data):
        self.write(b"".join(list_of_data))

    def write_eof(self):
        """Shut down the sending side once the queued bytes are sent."""
        if self._closing or self._eof_written:
            return
        self._eof_written = True
        rc = owned(mux_stream_shutdown(self._cloop, self._token))
        if rc < 0:
            self._fatal_error(oserror(rc))

    def can_write_eof(self):
        return True

    def get_write_buffer_size(self):
        if self._closing:
            return 0
        queued = mux_stream_queued(self._cloop, self._token)
        if queued < 0:
            owned(queued)   # else C dropped the stream: nothing queued
            return 0
        return queued

    def get_write_buffer_limits(self):
        return (self._low, self._high)

    def set_write_buffer_limits(self, high=None, low=None):
        """Same rules as asyncio: high defaults to 64 KiB, low to high // 4."""
        if high is None:
            high = DEFAULT_HIGH_WATER if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high, self._low = high, low
        if not self._closing:
            rc = mux_stream_set_limits(self._cloop, self._token, high, low)
            if rc < 0:
                owned(rc)
            queued = mux_stream_queued(self._cloop, self._token)
            if queued > high and not self._writing_paused:
                self._after_write(queued)

    # --- reading ------------------------------------------------------------

    def pause_reading(self):
        if self._reading and not self._closing:
            rc = mux_stream_set_reading(self._cloop, self._token, 0)
            if rc < 0:
                owned(rc)
            self._reading = False

    def resume_reading(self):
        if not self._reading and not self._closing:
            rc = mux_stream_set_reading(self._cloop, self._token, 1)
            if rc < 0:
                owned(rc)
            self._reading = True

    def is_reading(self):
        return self._reading and not self._closing

    # --- closing ------------------------------------------------------------

    def is_closing(self):
        return self._closing

    def close(self):
        """Close after the queued bytes are sent; connection_lost(None) follows."""
        self._close(abort=False, exc=None)

    def abort(self):
        """Close now, dropping queued bytes (the peer sees a reset)."""
        self._close(abort=True, exc=None)

    def _fatal_error(self, exc):
        self._close(abort=True, exc=exc)

    def _close(self, abort, exc):
        # A close waiting for its queue to drain can still be aborted.
        if self._closing and not (abort and self._token != DEAD_TOKEN):
            return
        token = self._token
        # First, so that a refusal (another thread, a forked child) changes nothing.
        closed_now = owned(mux_stream_close(self._cloop, token, 1 if abort else 0))
        self._closing = True
        reactor = self._reactor
        reactor._on_data.pop(token, None)
        if closed_now:   # 1, or < 0 if C already dropped it
            reactor._stream_closed(token, exc)
        # else: a MUX_REC_CLOSED record follows once the queue is flushed

    def _eof_received(self):
        """The peer shut down its side: close unless the protocol keeps it."""
        if not self._closing:
            if not self._reactor._call_protocol(self._protocol.eof_received):
                self.close()

    def _queue_drained(self):
        """The write queue fell to low water after going above high water."""
        if self._writing_paused and not self._closing:
            self._writing_paused = False
            self._reactor._call_protocol(self._protocol.resume_writing)

    def _detach(self):
        """The C stream is gone: drop the loop pointer (the loop may be
        freed next) and the token (its fd and generation may come round
        again), so every later call meets a refusal from C."""
        self._cloop = NO_LOOP
        self._token = DEAD_TOKEN
        self._closing = True

    def _reactor_closed(self):
        """Reactor.close() took the stream down with the loop: no
        connection_lost follows (as with asyncio's loop.close()); a write
        now raises RuntimeError, unless close() or abort() came first."""
        self._orphaned = not self._closing
        self._detach()
        self._close_socket()

    def get_protocol(self):
        return self._protocol

    def _connection_lost(self, exc):
        self._close_socket()
        self._protocol.connection_lost(exc)

    def _close_socket(self):
        """Close the dup get_extra_info("socket") made: it would keep the
        connection up."""
        sock = self._extra.pop("socket", None) if self._extra else None
        if sock is not None:
            sock.close()

    # --- extra info ---------------------------------------------------------

    def get_extra_info(self, name, default=None):
        """'socket', 'peername' and 'sockname', as asyncio offers them."""
        extra = self._extra
        if extra is None:
            extra = self._extra = {}
        if name not in extra and name in ("socket", "peername", "sockname"):
            sock = self._socket(extra)
            try:
                extra[name] = sock if name == "socket" else getattr(sock, "get" + name)()
            except (AttributeError, OSError):
                return default   # closed (no socket) or not connected any more
        return extra.get(name, default)

    def _socket(self, extra):
        """A socket object for the stream's fd, made on first use: a dup, so
        the C core stays the only owner of the fd it polls."""
        if "socket" not in extra and not self._closing:
            fd = mux_token_fd(self._cloop, self._token)
            if fd >= 0:
                extra["socket"] = dup_socket(fd)
        return extra.get("socket")

    def __repr__(self):
        state = "closing" if self._closing else "open"
        return f"<pymux Transport token={self._token} {state}>"
