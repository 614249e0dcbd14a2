"""Connecting: happy eyeballs, connect_accepted_socket, 1,000 concurrent
connections, getaddrinfo/getnameinfo; on both loops, over loopback."""
import asyncio
import resource
import socket

import pytest

from pypy_deviations import ON_PYPY

CONNECTIONS = 1000


@pytest.fixture
def listener():
    """A listening socket on 127.0.0.1 nobody accepts from: its connections
    complete (in the kernel's backlog) until the backlog is full."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock
    sock.close()


@pytest.fixture
def refusing_address():
    """An address on 127.0.0.1 that refuses connections at once: a port held
    bound, not listening, so that no other process can take it meanwhile."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    yield probe.getsockname()
    probe.close()


@pytest.fixture
def stalled_address():
    """An address on 127.0.0.1 where a connect hangs (no answer to its SYN):
    a listener with backlog 0 whose queue is full."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)
    # The kernel queues backlog + 1 connections; PyPy's listen(0) asks for 1.
    fillers = [socket.create_connection(sock.getsockname()) for _ in range(2 if ON_PYPY else 1)]
    yield sock.getsockname()
    for filler in fillers:
        filler.close()
    sock.close()


def resolving_to(loop, monkeypatch, *addresses):
    """Make loop.getaddrinfo answer "several.test" with these IPv4 TCP
    addresses, in order (a host with several addresses, on loopback)."""
    real = loop.getaddrinfo

    async def getaddrinfo(host, port, **kwargs):
        if host != "several.test":
            return await real(host, port, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", a)
                for a in addresses]
    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)


async def connect_several(loop, **kwargs):
    """create_connection to "several.test"; the peer address it reached."""
    transport, _ = await loop.create_connection(asyncio.Protocol, "several.test", 80, **kwargs)
    peer = transport.get_extra_info("peername")
    transport.close()
    return peer


@pytest.mark.parametrize("delay", [None, 0.05], ids=["sequential", "happy-eyeballs"])
def test_create_connection_moves_past_an_address_that_refuses(aio_loop, run, monkeypatch,
                                                              listener, refusing_address, delay):
    resolving_to(aio_loop, monkeypatch, refusing_address, listener.getsockname())
    peer = run(connect_several(aio_loop, happy_eyeballs_delay=delay))
    assert peer == listener.getsockname()


def test_happy_eyeballs_starts_the_next_address_while_one_hangs(aio_loop, run, monkeypatch,
                                                               listener, stalled_address):
    # Without happy eyeballs this connect would wait for the stalled SYN
    # (seconds); with a delay the second address is tried meanwhile.
    resolving_to(aio_loop, monkeypatch, stalled_address, listener.getsockname())
    peer = run(connect_several(aio_loop, happy_eyeballs_delay=0.05), timeout=10)
    assert peer == listener.getsockname()


def test_create_connection_fails_when_every_address_refuses(aio_loop, run, monkeypatch,
                                                            refusing_address):
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    second = other.getsockname()
    other.close()
    resolving_to(aio_loop, monkeypatch, refusing_address, second)
    with pytest.raises(OSError):
        run(connect_several(aio_loop, happy_eyeballs_delay=0.05))


def test_connect_accepted_socket_serves_a_socket_accepted_elsewhere(aio_loop, run, listener):
    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.transport.write(data.upper())

    async def main():
        client = socket.socket()
        client.setblocking(False)
        await aio_loop.sock_connect(client, listener.getsockname())
        accepted, _ = listener.accept()
        names = accepted.getsockname(), accepted.getpeername()
        transport, _ = await aio_loop.connect_accepted_socket(Echo, accepted)
        try:
            # The same connection (asyncio: the very socket; pymux: a dup of
            # it, see test_aio_pymux_transport.py).
            sock = transport.get_extra_info("socket")
            assert (sock.getsockname(), sock.getpeername()) == names
            await aio_loop.sock_sendall(client, b"hello")
            return await aio_loop.sock_recv(client, 100)
        finally:
            transport.close()
            client.close()

    assert run(main()) == b"HELLO"


def test_connect_accepted_socket_refuses_a_datagram_socket(aio_loop, run):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock, pytest.raises(ValueError):
        run(aio_loop.connect_accepted_socket(asyncio.Protocol, sock))


@pytest.fixture
def fds_for_connections():
    """RLIMIT_NOFILE raised (within the hard limit) for both ends of
    CONNECTIONS connections, and restored afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * CONNECTIONS + 200
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_thousand_concurrent_connections_each_get_their_own_bytes(run, fds_for_connections):
    async def echo(reader, writer):
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    async def one(address, i, opened):
        reader, writer = await asyncio.open_connection(*address)
        opened.append(i)
        while len(opened) < CONNECTIONS:   # all open at once before any talks
            await asyncio.sleep(0.01)
        message = b"connection %d\n" % i
        writer.write(message)
        echoed = await reader.readline()
        writer.close()
        await writer.wait_closed()
        return echoed == message

    async def main():
        server = await asyncio.start_server(echo, "127.0.0.1", 0, backlog=CONNECTIONS)
        async with server:
            address = server.sockets[0].getsockname()
            opened = []
            return await asyncio.gather(*(one(address, i, opened) for i in range(CONNECTIONS)))

    results = run(main(), timeout=60)
    assert len(results) == CONNECTIONS and all(results)


def test_getaddrinfo_on_localhost_matches_the_socket_module(aio_loop, run):
    infos = run(aio_loop.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM))
    assert set(infos) == set(socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM))
    assert ("127.0.0.1", 80) in [info[4][:2] for info in infos]


def test_getaddrinfo_of_an_unknown_service_raises_gaierror(aio_loop, run):
    with pytest.raises(socket.gaierror):
        run(aio_loop.getaddrinfo("localhost", "no-such-service-pymux"))


def test_getnameinfo_numeric(aio_loop, run):
    flags = socket.NI_NUMERICHOST | socket.NI_NUMERICSERV
    assert run(aio_loop.getnameinfo(("127.0.0.1", 8080), flags)) == ("127.0.0.1", "8080")


def test_getnameinfo_of_loopback_names_localhost(aio_loop, run):
    host, _ = run(aio_loop.getnameinfo(("127.0.0.1", 80)))
    assert host == socket.getnameinfo(("127.0.0.1", 80), 0)[0]
