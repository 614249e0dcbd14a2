"""TCP for the reactor: listening servers and outgoing connections (the
loop's records reach them through Reactor._dispatch)."""
import errno
import logging
import os
import socket

from .._clib import (mux_listener_close, mux_listener_open, mux_listener_resume,
                     mux_stream_close, mux_stream_open)
from .._errors import check, oserror, owned
from .._mux import lib
from ._transport import Transport

logger = logging.getLogger("pymux.reactor")

# After EMFILE and friends the C core pauses the listener; accepting resumes
# after this delay (nginx and asyncio do the same), so a full fd table costs
# a few wake-ups per second instead of a busy loop.
ACCEPT_RETRY_DELAY = 0.1

# Connections accepted per readiness event, per listener (asyncio: backlog).
ACCEPT_BATCH = 128


class Server:
    """A listening socket whose connections the reactor accepts in C."""

    def __init__(self, reactor, token, protocol_factory, sockname):
        self._reactor = reactor
        self._token = token
        self._protocol_factory = protocol_factory
        self.sockname = sockname
        self._retry = None

    @property
    def port(self):
        return self.sockname[1]

    def is_serving(self):
        return self._token is not None

    def close(self):
        """Stop accepting (open connections are not touched)."""
        if self._token is None:
            return
        owned(mux_listener_close(self._reactor._cloop, self._token))
        self._forget()

    def _forget(self):
        self._reactor._listeners.pop(self._token, None)
        self._token = None
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    def _accepted(self, stream_token):
        protocol = self._reactor._call_protocol(self._protocol_factory)
        if protocol is None:
            mux_stream_close(self._reactor._cloop, stream_token, 1)
            return
        self._reactor._new_stream(stream_token, protocol)

    def _accept_failed(self, err):
        logger.warning("accept() failed on %s: %s; retrying in %.1fs",
                       self.sockname, self._accept_error(err), ACCEPT_RETRY_DELAY)
        self._retry = self._reactor.call_later(ACCEPT_RETRY_DELAY, self._resume)

    def _accept_error(self, err):
        # The C core closes an accepted fd its backend cannot watch and
        # reports EINVAL, whose strerror would not say why.
        if err == errno.EINVAL and self._reactor.backend == "select":
            return (f"the accepted fd is at or above FD_SETSIZE ({lib.FD_SETSIZE}), "
                    "the select backend's limit: connection closed")
        return os.strerror(err)

    def _resume(self):
        self._retry = None
        if self._token is not None:
            mux_listener_resume(self._reactor._cloop, self._token)

    def __repr__(self):
        return f"<pymux Server {self.sockname}>"


def listen(reactor, protocol_factory, host, port, backlog, reuse_port):
    family, _, _, _, addr = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
        sock.listen(backlog)
        sock.setblocking(False)
        sockname = sock.getsockname()
        token = check(mux_listener_open(reactor._cloop, sock.fileno(), ACCEPT_BATCH))
    except BaseException:
        sock.close()
        raise
    sock.detach()   # the C core owns the fd now
    server = Server(reactor, token, protocol_factory, sockname)
    reactor._listeners[token] = server
    return server


def connect(reactor, protocol_factory, host, port, on_error):
    """Start a non-blocking connect; the stream opens once it completes."""
    family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        protocol = _start_connect(reactor, sock, addr, protocol_factory, on_error)
    except BaseException:
        sock.close()
        raise
    reactor._connecting.add(sock)   # Reactor.close() closes it if still connecting
    return protocol


def _start_connect(reactor, sock, addr, protocol_factory, on_error):
    sock.setblocking(False)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    protocol = protocol_factory()

    def fail(exc):
        reactor._connecting.discard(sock)
        sock.close()
        if on_error is not None:
            reactor._call_protocol(on_error, exc)
        else:
            reactor.call_exception_handler({"message": f"connect to {addr} failed",
                                            "exception": exc})

    def connected():
        reactor.remove_writer(sock.fileno())
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            fail(OSError(err, f"Connect call failed {addr}: {os.strerror(err)}"))
            return
        token = mux_stream_open(reactor._cloop, sock.fileno())
        if token < 0:
            fail(oserror(token))
            return
        reactor._connecting.discard(sock)
        sock.detach()
        reactor._new_stream(token, protocol)

    try:
        sock.connect(addr)
    except BlockingIOError:
        reactor.add_writer(sock.fileno(), connected)
    except OSError as exc:
        reactor.call_soon(fail, exc)
    else:
        reactor.call_soon(connected)
    return protocol


__all__ = ["Server", "Transport", "listen", "connect"]
