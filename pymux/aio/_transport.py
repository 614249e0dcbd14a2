"""StreamTransport: asyncio's socket transport on a C stream of the Loop.

The loop's C core reads into its shared buffer and writes with send(2),
queueing only what the kernel did not take; the Loop routes the stream's
records (Loop._queue_fired) to the protocol: DATA straight to
data_received (or get_buffer/buffer_updated for a BufferedProtocol, copied
from the C buffer), the others to the methods below. Behaviour, messages and
exception-handler contexts are those of asyncio's _SelectorSocketTransport.

Who owns what:
- the fd belongs to the C stream from construction: the socket object it
  came from is detached (its fileno() is -1 from then on, and closing it
  does nothing), so the fd is closed once, by C. get_extra_info("socket")
  is a TransportSocket on a dup made on first use (as asyncio's is, usable
  for getsockopt, setsockopt, getpeername...); the dup is closed when the
  stream is, as it would keep the connection up. Asked first after the
  close, it is a closed socket of the connection's kind, as asyncio's is
  then (never one on the fd number, which C may have handed out again).
- the C loop pointer is held only while the stream is attached: _detach()
  (stream closed, or the Loop closing) swaps it for NULL, which C refuses
  (EINVAL), so nothing reaches freed memory.

What an idle connection costs (issue 11: <= 0.6 KB of RSS each): the
object, its protocol, a dict entry per table (C token -> transport; token
-> protocol for DATA; fd -> transport in loop._transports), sockname (one
tuple per listener, shared) and peername (its host string shared per
listener). No extra dict unless the caller passes extra values, no bound
method, no weak reference.
"""
import socket
import sys
import weakref
from asyncio import base_events, constants, futures, protocols, transports
from asyncio.trsock import TransportSocket
from asyncio.log import logger

from .._clib import (mux_stream_close, mux_stream_open, mux_stream_queued,
                     mux_stream_set_limits, mux_stream_set_reading, mux_stream_shutdown,
                     mux_stream_write)
from .._errors import check_loop, oserror, owned
from .._mux import ffi, lib
from .._streams import DEFAULT_HIGH_WATER, NO_LOOP, dup_socket, write_buffer

_memmove = ffi.memmove
_CLOSE_FLUSH = lib.MUX_CLOSE_FLUSH
_CLOSE_DROP = lib.MUX_CLOSE_DROP
# Server._attach/_detach take the transport from 3.13 on.
_SERVER_KNOWS_TRANSPORTS = sys.version_info >= (3, 13)
# asyncio's default low-water mark, one int for every transport (asyncio
# computes it per transport: 32 bytes each).
_DEFAULT_LOW_WATER = DEFAULT_HIGH_WATER // 4


def open_stream(loop, sock, protocol, waiter, extra, server):
    """A StreamTransport for a connected stream socket, or None if the C
    loop cannot take its fd (the caller falls back to asyncio's; not for
    one select() cannot watch: asyncio's could not read it either)."""
    token = mux_stream_open(loop._cloop, sock.fileno())
    if token < 0:
        owned(token)
        loop._selector.refuse_unselectable(sock.fileno())
        return None
    sockname, peername = socket_names(sock, extra)
    base_events._set_nodelay(sock)
    fd = sock.detach()   # sock is closed now: get_extra_info("socket")'s after close
    return StreamTransport(loop, token, fd, protocol, waiter, server, extra,
                           sockname, peername, sock)


def socket_names(sock, extra=None):
    """(sockname, peername), taken as asyncio's transports take them when
    made (a "peername" in extra is kept; None for a name the socket cannot
    give)."""
    try:
        sockname = sock.getsockname()
    except OSError:
        sockname = None
    if extra is not None and "peername" in extra:
        return sockname, extra["peername"]
    try:
        return sockname, sock.getpeername()
    except OSError:
        return sockname, None


def connection_names(fd, like):
    """socket_names for a connected fd of the same kind as socket `like`."""
    sock = socket.socket(like.family, like.type, like.proto, fd)
    try:
        return socket_names(sock)
    finally:
        sock.setblocking(False)   # PyPy's socket(fileno=) made it blocking
        sock.detach()


def closed_like(sock):
    """A closed socket of sock's family, type and proto."""
    model = socket.socket(sock.family, sock.type, sock.proto)
    model.close()
    return model


class TransportTable(weakref.WeakValueDictionary):
    """loop._transports, where asyncio looks up the transport using an fd
    (add_reader, add_writer and the sock_* methods refuse one a transport
    that is not closing uses): asyncio's own transports weakly, as asyncio's
    loop keeps them; StreamTransports in a plain dict (a weak reference
    would cost each idle connection 88 bytes), from when they are made
    until their C stream closes (StreamTransport._detach)."""

    def __init__(self):
        super().__init__()
        self.streams = {}   # fd -> StreamTransport

    def __getitem__(self, fd):
        transport = self.streams.get(fd)
        if transport is None:   # WeakValueDictionary's lookup, one frame less
            transport = self.data[fd]()
            if transport is None:
                raise KeyError(fd)
        return transport

    def __setitem__(self, fd, transport):
        if isinstance(transport, StreamTransport):
            # asyncio's sendfile puts it back when done, closed or not.
            if transport._cloop is not NO_LOOP:
                self.streams[fd] = transport
        else:
            super().__setitem__(fd, transport)

    def __delitem__(self, fd):
        if self.streams.pop(fd, None) is None:
            super().__delitem__(fd)


class StreamTransport(transports._FlowControlMixin, transports.Transport):
    """asyncio's Transport API for one TCP or Unix stream connection."""

    # Slots: an idle connection costs less, and attribute reads are faster.
    __slots__ = ("_cloop", "_token", "_sock_fd", "_socket", "_sockname", "_peername",
                 "_protocol", "_eof", "_closing", "_conn_lost", "_paused", "_empty_waiter",
                 "_server", "__weakref__")

    _start_tls_compatible = True
    _sendfile_compatible = constants._SendfileMode.TRY_NATIVE

    def __init__(self, loop, token, fd, protocol, waiter, server, extra, sockname, peername,
                 closed_model):
        """token: an open C stream of loop's, on fd, not reading yet (it
        starts once connection_made has run, asyncio's order); extra: the
        caller's extra values, or None; closed_model: a closed socket of the
        connection's family, type and proto."""
        # _FlowControlMixin's and BaseTransport's fields, with no dict for
        # extra unless given and the default marks shared.
        self._extra = extra
        self._loop = loop
        self._protocol_paused = False
        self._high_water = DEFAULT_HIGH_WATER
        self._low_water = _DEFAULT_LOW_WATER
        self._cloop = loop._cloop
        self._token = token
        self._sock_fd = fd
        # get_extra_info("socket")'s TransportSocket once asked for; until
        # then the closed model it wraps if first asked after the close.
        self._socket = closed_model
        self._sockname = sockname
        self._peername = peername
        self._protocol = None
        self._eof = False           # write_eof() called
        self._closing = False       # close() or abort() called
        self._conn_lost = False     # connection_lost scheduled
        self._paused = False        # pause_reading() called
        self._empty_waiter = None   # sendfile waits for the write queue to drain
        self._server = server
        check_loop(mux_stream_set_reading(self._cloop, token, 0))   # until _start_reading
        loop._core.streams[token] = self
        self.set_protocol(protocol)
        if server is not None:
            server._attach(self) if _SERVER_KNOWS_TRANSPORTS else server._attach()
        loop._transports[fd] = self
        loop.call_soon(protocol.connection_made, self)
        loop.call_soon(self._start_reading)
        if waiter is not None:   # wakes up once connection_made has run
            loop.call_soon(futures._set_result_unless_cancelled, waiter, None)

    def __repr__(self):
        state = ("closed" if self._cloop is NO_LOOP
                 else "closing" if self._closing else "open")
        return f"<pymux StreamTransport fd={self._sock_fd} {state}>"

    # --- protocol -----------------------------------------------------------

    def set_protocol(self, protocol):
        self._protocol = protocol
        if not self._closing:
            self._route_data()

    def get_protocol(self):
        return self._protocol

    def _route_data(self):
        """Tell the loop where this stream's DATA records go."""
        loop = self._loop
        token = self._token
        if isinstance(self._protocol, protocols.BufferedProtocol):
            loop._core.on_data.pop(token, None)
            loop._core.buffered[token] = self
        else:
            loop._core.buffered.pop(token, None)
            loop._core.on_data[token] = self._protocol

    def _unroute_data(self):
        self._loop._core.on_data.pop(self._token, None)
        self._loop._core.buffered.pop(self._token, None)

    # --- writing ------------------------------------------------------------

    def write(self, data):
        if self._empty_waiter is None:
            # The common case is the cffi call alone: C refuses a closed or
            # shut-down stream and a detached transport's NULL loop, and
            # anything but bytes raises TypeError there.
            try:
                queued = mux_stream_write(self._cloop, self._token, data, len(data))
            except TypeError:
                queued = write_buffer(self._cloop, self._token, data)
            if queued:   # rare: a partial send (> 0) or a refusal (< 0)
                self._after_write(queued)
        else:
            raise RuntimeError("unable to write; sendfile is in progress")

    def _after_write(self, queued):
        if queued < 0:
            owned(queued)   # another thread's call, or a forked child's: RuntimeError
            if self._eof:
                raise RuntimeError("Cannot call write() after write_eof()")
            if self._closing:
                return   # writes after close() are ignored, as in asyncio
            if self._loop.is_closed():
                raise RuntimeError("Event loop is closed")
            self._fatal_error(oserror(queued), "Fatal write error on socket transport")
        elif queued > self._high_water and not self._protocol_paused:
            self._maybe_pause_protocol()

    def writelines(self, list_of_data):
        self.write(b"".join(list_of_data))

    def write_eof(self):
        if self._closing or self._eof:
            return
        self._eof = True
        rc = mux_stream_shutdown(self._cloop, self._token)
        if rc < 0:
            owned(rc)
            raise oserror(rc)

    def can_write_eof(self):
        return True

    def get_write_buffer_size(self):
        queued = mux_stream_queued(self._cloop, self._token)
        if queued < 0:
            owned(queued)   # else the stream is gone: nothing queued
            return 0
        return queued

    def set_write_buffer_limits(self, high=None, low=None):
        self._set_write_buffer_limits(high=high, low=low)
        # The C core reports RESUME_WRITING at the same low-water mark.
        owned(mux_stream_set_limits(self._cloop, self._token, self._high_water,
                                    self._low_water))
        self._maybe_pause_protocol()

    # --- reading ------------------------------------------------------------

    def _start_reading(self):
        """After connection_made (asyncio's order): the C stream reads."""
        if not self._closing and not self._paused:
            owned(mux_stream_set_reading(self._cloop, self._token, 1))

    def is_reading(self):
        return not self._closing and not self._paused

    def pause_reading(self):
        if not self.is_reading():
            return
        self._paused = True
        owned(mux_stream_set_reading(self._cloop, self._token, 0))
        if self._loop.get_debug():
            logger.debug("%r pauses reading", self)

    def resume_reading(self):
        if self._closing or not self._paused:
            return
        self._paused = False
        owned(mux_stream_set_reading(self._cloop, self._token, 1))
        if self._loop.get_debug():
            logger.debug("%r resumes reading", self)

    def _buffer_data(self, offset, nbytes):
        """A DATA record for a BufferedProtocol: get_buffer, copy from the C
        read buffer, buffer_updated, until all nbytes are delivered (the
        protocol's buffer may be smaller)."""
        src = self._loop._core.rptr + offset
        while nbytes and not self._closing:
            protocol = self._protocol   # buffer_updated may set another one
            try:
                buf = memoryview(protocol.get_buffer(nbytes))
                size = buf.nbytes
                if not size:
                    raise RuntimeError("get_buffer() returned an empty buffer")
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal error: protocol.get_buffer() call failed.")
                return
            if buf.readonly or not buf.c_contiguous:
                # asyncio's recv_into refuses such a buffer with TypeError.
                self._fatal_error(TypeError(
                    f"get_buffer() must return a writable, C-contiguous buffer, not "
                    f"{'a read-only' if buf.readonly else 'a non-contiguous'} "
                    f"{type(buf.obj).__name__}"), "Fatal read error on socket transport")
                buf.release()
                return
            size = min(size, nbytes)
            _memmove(buf, src, size)
            buf.release()   # buffer_updated may resize the object it viewed
            src += size
            nbytes -= size
            try:
                protocol.buffer_updated(size)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal error: protocol.buffer_updated() call failed.")
                return

    def _data_failed(self, exc):
        self._fatal_error(exc, "Fatal error: protocol.data_received() call failed.")

    # The stream records but DATA: handler(transport, the record's first int).

    def _eof_received(self, _):
        """The peer shut down its side (the C stream reads no more)."""
        if self._closing:
            return
        if self._loop.get_debug():
            logger.debug("%r received EOF", self)
        self._unroute_data()
        try:
            keep_open = self._protocol.eof_received()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.eof_received() call failed.")
            return
        if not keep_open:
            self.close()

    def _stream_failed(self, err):
        """The C stream's recv or send failed with errno err."""
        self._fatal_error(oserror(-err), "Fatal error on socket transport")

    def _queue_drained(self, _):
        """The write queue fell to low water after going above high water."""
        if self._conn_lost:
            return
        waiter = self._empty_waiter
        if waiter is not None and not waiter.done() and self.get_write_buffer_size() == 0:
            waiter.set_result(None)
        self._maybe_resume_protocol()

    # --- closing ------------------------------------------------------------

    def is_closing(self):
        return self._closing

    def close(self):
        if self._closing:
            return
        self._closing = True
        self._unroute_data()
        # Returns 1 (or < 0: the stream is gone) if closed now; 0 if C
        # flushes the queue first and reports CLOSED (_deferred_close_done).
        if owned(mux_stream_close(self._cloop, self._token, _CLOSE_FLUSH)) != 0:
            self._lose_connection(None)

    def abort(self):
        self._force_close(None)

    def _fatal_error(self, exc, message="Fatal error on transport"):
        if isinstance(exc, OSError):
            if self._loop.get_debug():
                logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self._loop.call_exception_handler({
                "message": message,
                "exception": exc,
                "transport": self,
                "protocol": self._protocol,
            })
        self._force_close(exc)

    def _force_close(self, exc):
        if self._conn_lost:
            return
        self._closing = True
        self._unroute_data()
        # Drops the queue (a close still flushing it included) and closes
        # plainly, as asyncio's does (the peer sees a reset only if unread
        # bytes were left here).
        owned(mux_stream_close(self._cloop, self._token, _CLOSE_DROP))
        self._lose_connection(exc)

    def _deferred_close_done(self, _):
        if not self._conn_lost:
            self._lose_connection(None)

    def _lose_connection(self, exc):
        """The C stream is closed: connection_lost(exc) follows, once."""
        self._conn_lost = True
        self._detach()
        self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc):
        try:
            # asyncio checks _protocol_connected, True from __init__ on.
            self._protocol.connection_lost(exc)
        finally:
            waiter = self._empty_waiter
            if waiter is not None and not waiter.done():
                waiter.set_exception(ConnectionError("Connection is closed by peer"))
            self._loop._core.streams.pop(self._token, None)
            self._protocol = None
            server, self._server = self._server, None
            if server is not None:
                server._detach(self) if _SERVER_KNOWS_TRANSPORTS else server._detach()

    def _detach(self):
        """The C stream is gone (closed by us, or with the loop): drop the
        loop pointer, which the loop may free next, so every later call
        meets a refusal from C; forget the fd, which C may hand out again;
        close the dup, which keeps the connection up."""
        self._cloop = NO_LOOP
        streams = self._loop._transports.streams
        if streams.get(self._sock_fd) is self:
            del streams[self._sock_fd]
        if type(self._socket) is TransportSocket:
            self._socket._sock.close()

    def _loop_closed(self):
        """Loop.close() with the stream open: C closes the fd with the loop.
        No connection_lost follows (asyncio's loop.close() runs none); a
        write now raises RuntimeError, unless close() or abort() came first."""
        self._unroute_data()
        self._detach()

    # --- extra info and sendfile --------------------------------------------

    def get_extra_info(self, name, default=None):
        if name == "socket":
            return self._transport_socket()
        if name == "sockname":
            return self._sockname
        if name == "peername":
            return self._peername
        extra = self._extra
        return default if extra is None else extra.get(name, default)

    def _transport_socket(self):
        """A TransportSocket on a dup of the stream's fd, made on first use;
        first asked for after the close, on the closed model."""
        sock = self._socket
        if type(sock) is not TransportSocket:
            if self._cloop is not NO_LOOP:
                sock = dup_socket(self._sock_fd)
            sock = self._socket = TransportSocket(sock)
        return sock

    @property
    def _sock(self):
        """A socket on a dup of the stream's fd (None once closed): what
        asyncio's sendfile uses."""
        return None if self._cloop is NO_LOOP else self._transport_socket()._sock

    def _make_empty_waiter(self):
        """asyncio's sendfile: a future done once the write queue is empty
        (until _reset_empty_waiter, write() refuses)."""
        if self._empty_waiter is not None:
            raise RuntimeError("Empty waiter is already set")
        waiter = self._empty_waiter = self._loop.create_future()
        if self.get_write_buffer_size() == 0:
            waiter.set_result(None)
        else:   # RESUME_WRITING comes once the queue is empty
            owned(mux_stream_set_limits(self._cloop, self._token, 0, 0))
        return waiter

    def _reset_empty_waiter(self):
        self._empty_waiter = None
        if self._cloop is not NO_LOOP:
            owned(mux_stream_set_limits(self._cloop, self._token, self._high_water,
                                        self._low_water))


__all__ = ["StreamTransport", "TransportTable", "closed_like", "connection_names",
           "open_stream", "socket_names"]
