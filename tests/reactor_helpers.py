"""Helpers shared by the reactor tests (tests/test_reactor_*.py)."""
import asyncio
import os
import select
import socket

import pytest

from pymux.reactor import Protocol, Reactor
from uring_helpers import require_backend

# Every reactor test runs on each (the `reactor` fixture in conftest.py).
REACTOR_BACKENDS = ("epoll", "epoll-et", "poll", "select", "uring")

LONG = 10.0   # a hang guard only: generous even under ASan


def run_until(reactor, predicate, timeout=LONG):
    assert reactor.run_until(predicate, timeout=timeout), "the reactor timed out"


def receive_while_running(reactor, sock, nbytes, timeout=LONG):
    """The first nbytes sock receives (fewer at EOF), the reactor running
    meanwhile: a write leaves no later than the loop's next iteration (on
    "uring" a small one leaves only then, with the iteration's one
    io_uring_enter), so a test must not block on the peer without it."""
    got = bytearray()

    def arrived():
        # select first: recv on a socket with a timeout waits that long,
        # MSG_DONTWAIT or not.
        if not select.select([sock], [], [], 0)[0]:
            return False
        chunk = sock.recv(nbytes - len(got))
        got.extend(chunk)
        return not chunk or len(got) >= nbytes

    run_until(reactor, arrived, timeout)
    return bytes(got)


def run_a_little(reactor, seconds=0.05):
    """Run some iterations with nothing to wake the loop but a timer."""
    done = []
    reactor.call_later(seconds, done.append, True)
    run_until(reactor, lambda: done)


class Kept(Protocol):
    """A protocol that keeps what it is given: its transport, the bytes it
    received in order, and how the connection ended (`lost`)."""

    def __init__(self):
        self.transport = None
        self.data = bytearray()
        self.lost = False
        self.lost_exc = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.data += data

    def eof_received(self):
        return True

    def connection_lost(self, exc):
        self.lost = True
        self.lost_exc = exc


def serve_clients(reactor, n, protocol=Kept):
    """listen_tcp on a free port and connect n blocking clients (timeout
    LONG) to it: returns (server, clients, their server-side protocols in
    connection order). The caller closes the clients."""
    protocols = []

    def factory():
        protocols.append(protocol())
        return protocols[-1]

    server = reactor.listen_tcp(factory, "127.0.0.1", 0)
    clients = []
    for _ in range(n):
        clients.append(socket.create_connection(server.sockname, timeout=LONG))
        run_until(reactor, lambda: len(protocols) == len(clients))
    return server, clients, protocols


def fd_count():
    """How many fds this process has open."""
    return len(os.listdir("/proc/self/fd")) - 1   # listdir's own


@pytest.fixture(params=["asyncio", *REACTOR_BACKENDS])
def any_loop(request):
    """asyncio's event loop (the reference: a test that fails with it is
    wrong) or a Reactor on each backend, for tests of the API they share.
    A module that uses it imports it."""
    loop = asyncio.new_event_loop() if request.param == "asyncio" else Reactor(request.param)
    yield loop
    loop.close()


@pytest.fixture(params=REACTOR_BACKENDS)
def reactor_backend(request):
    """A backend name, for tests that make their own Reactors ("uring" is
    skipped, with the reason, where the kernel refuses io_uring)."""
    require_backend(request.param)
    return request.param
