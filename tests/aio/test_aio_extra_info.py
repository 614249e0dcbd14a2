"""get_extra_info's names and socket, before and after the close, and the
fd a transport uses, on both loops (pymux keeps them without asyncio's
per-connection dict and weak reference: see pymux/aio/_transport.py)."""
import asyncio
import socket
import struct

import pytest

RESET_LINGER = struct.pack("ii", 1, 0)   # SO_LINGER on, 0 s: close() sends a reset


class Lost(asyncio.Protocol):
    """Keeps its transport; `lost` resolves on connection_lost, with what
    get_extra_info answered then."""

    def __init__(self, loop):
        self.made = loop.create_future()
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.made.set_result(transport)

    def connection_lost(self, exc):
        t = self.transport
        self.lost.set_result((exc, t.get_extra_info("sockname"), t.get_extra_info("peername")))


async def accepted(loop, protocol, family=socket.AF_INET, tmp_path=None):
    """(server, the server side's transport, a connected raw client socket)."""
    if family == socket.AF_UNIX:
        path = str(tmp_path / "sock")
        server = await loop.create_unix_server(lambda: protocol, path)
        client = socket.socket(socket.AF_UNIX)
    else:
        server = await loop.create_server(lambda: protocol, "127.0.0.1", 0)
        client = socket.socket()
    client.setblocking(False)
    await loop.sock_connect(client, server.sockets[0].getsockname())
    return server, await protocol.made, client


async def closed_by_the_server(loop, before=lambda server, transport, client: None,
                               family=socket.AF_INET, tmp_path=None):
    """Accept a connection, call before(server, transport, client), close
    the transport: (before's result, the transport, what Lost saw)."""
    proto = Lost(loop)
    server, transport, client = await accepted(loop, proto, family, tmp_path)
    async with server:
        with client:
            seen = before(server, transport, client)
            transport.close()
            return seen, transport, await proto.lost


def test_names_outlive_a_reset_by_the_peer(aio_loop, run):
    async def main():
        proto = Lost(aio_loop)
        server, transport, client = await accepted(aio_loop, proto)
        async with server:
            names = client.getpeername(), client.getsockname()
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_LINGER)
            client.close()
            return names, await proto.lost

    (server_end, client_end), (exc, sockname, peername) = run(main())
    assert isinstance(exc, ConnectionResetError)
    assert (sockname, peername) == (server_end, client_end)


def test_names_outlive_close(aio_loop, run):
    (server_end, client_end), _, (exc, sockname, peername) = run(closed_by_the_server(
        aio_loop, lambda server, transport, client: (client.getpeername(),
                                                     client.getsockname())))
    assert (exc, sockname, peername) == (None, server_end, client_end)


def test_each_connection_reports_its_own_peer(aio_loop, run):
    async def main():
        made = []

        class Keep(asyncio.Protocol):
            def connection_made(self, transport):
                made.append(transport)

        server = await aio_loop.create_server(Keep, "127.0.0.1", 0)
        clients = [socket.socket() for _ in range(3)]
        async with server:
            for client in clients:
                client.setblocking(False)
                await aio_loop.sock_connect(client, server.sockets[0].getsockname())
            while len(made) < len(clients):
                await asyncio.sleep(0.001)
            peers = sorted(t.get_extra_info("peername") for t in made)
            socknames = {t.get_extra_info("sockname") for t in made}
            client_names = sorted(c.getsockname() for c in clients)
            for transport in made:
                transport.close()
        for client in clients:
            client.close()
        return peers, socknames, client_names

    peers, socknames, client_names = run(main())
    assert peers == client_names   # one host, three ports
    assert len(socknames) == 1


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_UNIX])
def test_socket_asked_for_first_after_close_is_a_closed_socket_of_its_kind(
        aio_loop, run, family, tmp_path):
    def kind_of(server, transport, client):
        listening = server.sockets[0]
        return listening.family, listening.type, listening.proto

    kind, transport, _ = run(closed_by_the_server(aio_loop, kind_of, family, tmp_path))
    sock = transport.get_extra_info("socket")
    again = transport.get_extra_info("socket", "default")
    assert isinstance(sock, asyncio.trsock.TransportSocket)
    assert (sock.fileno(), (sock.family, sock.type, sock.proto)) == (-1, kind)
    assert again is sock


def test_socket_asked_for_before_close_is_closed_with_the_transport(aio_loop, run):
    def socket_and_fd(server, transport, client):
        sock = transport.get_extra_info("socket")
        return sock, sock.fileno()

    (sock, open_fd), transport, _ = run(closed_by_the_server(aio_loop, socket_and_fd))
    after = transport.get_extra_info("socket")
    assert open_fd >= 0
    assert after is sock and sock.fileno() == -1


def test_socket_of_a_handed_over_socket_is_that_socket_after_close(aio_loop, run):
    async def main():
        left, right = socket.socketpair()
        with left, right:
            transport, proto = await aio_loop.create_connection(
                lambda: Lost(aio_loop), sock=left)
            transport.close()
            await proto.lost
            return left, transport.get_extra_info("socket")

    left, sock = run(main())
    assert sock.fileno() == -1
    assert (sock.family, sock.type, sock.proto) == (left.family, left.type, left.proto)


def test_add_reader_refuses_the_fd_of_an_open_transport(aio_loop, run):
    async def main():
        left, right = socket.socketpair()
        with left, right:
            fd = left.fileno()
            transport, proto = await aio_loop.create_connection(
                lambda: Lost(aio_loop), sock=left)
            with pytest.raises(RuntimeError, match=f"File descriptor {fd} is used by transport"):
                aio_loop.add_reader(fd, lambda: None)
            transport.close()
            await proto.lost

    run(main())
