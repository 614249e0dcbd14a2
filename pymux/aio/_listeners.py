"""Listener: a plain TCP or Unix server socket accepted in C.

asyncio's create_server (start_server, create_unix_server) serves each
listening socket through loop._start_serving, which the Loop sends here
when no SSL is involved: the C core accepts up to `backlog` connections per
readiness (non-blocking, close-on-exec, TCP_NODELAY) and reports each new
stream in an ACCEPT record, which becomes protocol_factory()'s protocol on
a StreamTransport at once, with no Python socket and no task per
connection (asyncio's _accept_connection makes both).

The C core polls a dup of the listening fd: asyncio's Server keeps the
socket it made (Server.sockets) and closes it in _stop_serving, which
closes the dup here first.
"""
import errno
import os
import socket

from asyncio import constants, trsock
from asyncio.log import logger

from .._clib import (mux_listener_close, mux_listener_open, mux_listener_resume,
                     mux_stream_close, mux_token_fd)
from .._errors import oserror, owned
from .._mux import lib
from ._transport import StreamTransport, closed_like, connection_names
from ._watchers import UNSELECTABLE

_MAX_BATCH = 65536   # the C core's limit on connections accepted per readiness
_MAX_SHARED = 256    # local addresses and peer hosts shared per listener


def start_listener(loop, protocol_factory, sock, server, backlog):
    """Serve sock in C; False if the C loop cannot take it."""
    fd = os.dup(sock.fileno())
    token = mux_listener_open(loop._cloop, fd, min(max(backlog, 1), _MAX_BATCH))
    if token < 0:
        os.close(fd)
        owned(token)
        return False
    listener = Listener(loop, token, protocol_factory, sock, server)
    loop._core.listeners[token] = listener
    loop._core.listener_of_fd[sock.fileno()] = listener
    return True


class Listener:
    """One listening socket the C loop accepts on."""

    __slots__ = ("_loop", "_token", "_protocol_factory", "_sock", "_closed_model", "_server",
                 "_retry", "_shared")

    def __init__(self, loop, token, protocol_factory, sock, server):
        self._loop = loop
        self._token = token
        self._protocol_factory = protocol_factory
        self._sock = sock
        # What a connection's get_extra_info("socket") wraps if first asked
        # for after its close: one for all.
        self._closed_model = closed_like(sock)
        self._server = server
        self._retry = None
        # The local addresses connections arrived on and their peers' hosts:
        # few, so connections share them (a third of an idle one's memory).
        self._shared = {}

    def _accepted(self, stream_token):
        """An ACCEPT record: asyncio's _accept_connection2, without its task."""
        loop = self._loop
        fd = mux_token_fd(loop._cloop, stream_token)
        try:
            sockname, peername = connection_names(fd, self._sock)
            protocol = self._protocol_factory()
        except (SystemExit, KeyboardInterrupt):
            mux_stream_close(loop._cloop, stream_token, lib.MUX_CLOSE_DROP)
            raise
        except BaseException as exc:
            mux_stream_close(loop._cloop, stream_token, lib.MUX_CLOSE_DROP)
            if loop._debug:   # asyncio reports these in debug mode only
                loop.call_exception_handler({
                    "message": "Error on transport creation for incoming connection",
                    "exception": exc,
                })
            return
        if loop._debug:
            logger.debug("%r got a new connection from %r", self._server, peername)
        if type(peername) is tuple:   # (host, port, ...): the port is the peer's own
            host = self._share(peername[0])
            if host is not peername[0]:
                peername = (host, *peername[1:])
        StreamTransport(loop, stream_token, fd, protocol, None, self._server, None,
                        self._share(sockname), peername, self._closed_model)

    def _share(self, value):
        """value, or an equal one an earlier connection has (see _shared)."""
        shared = self._shared
        known = shared.get(value)
        if known is not None:
            return known
        if len(shared) < _MAX_SHARED and value is not None:
            shared[value] = value
        return value

    def _accept_failed(self, err):
        """An ACCEPT_ERROR record (EMFILE and friends, or, on the select
        backend, EINVAL for an fd select() cannot watch): C closed the new
        connection and paused the listener; accepting resumes after
        asyncio's delay."""
        self._loop.call_exception_handler({
            "message": "socket.accept() out of system resource",
            "exception": self._accept_error(err),
            "socket": trsock.TransportSocket(self._sock),
        })
        self._retry = self._loop.call_later(constants.ACCEPT_RETRY_DELAY, self._resume)

    def _accept_error(self, err):
        if err == errno.EINVAL and self._loop._selector.select_limit is not None:
            return ValueError(UNSELECTABLE)   # the new connection's fd
        return oserror(-err)

    def _resume(self):
        self._retry = None
        if self._token is not None:
            owned(mux_listener_resume(self._loop._cloop, self._token))

    def close(self):
        """Stop accepting; closes the dup (the caller closes the socket)."""
        loop = self._loop
        if self._token is None:
            return
        if loop._cloop is not None:
            owned(mux_listener_close(loop._cloop, self._token))
        loop._core.listeners.pop(self._token, None)
        self._token = None
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None


def is_stream_socket(sock):
    return sock.type == socket.SOCK_STREAM and sock.family in STREAM_FAMILIES


STREAM_FAMILIES = (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX)

__all__ = ["Listener", "STREAM_FAMILIES", "is_stream_socket", "start_listener"]
