"""loop.sock_* methods over loopback, on both loops (and every pymux backend)."""
import asyncio
import socket

import pytest

# A representative part of the suite: on every pymux backend (conftest.py).
pytestmark = pytest.mark.every_backend


@pytest.fixture
def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def test_sock_connect_accept_sendall_recv_round_trip(aio_loop, run, listener):
    payload = bytes(range(256)) * 4096   # 1 MiB: many partial sends

    async def main():
        client = socket.socket()
        client.setblocking(False)
        with client:
            await aio_loop.sock_connect(client, listener.getsockname())
            server, _ = await aio_loop.sock_accept(listener)
            with server:
                server.setblocking(False)

                async def drain():
                    got = bytearray()
                    while len(got) < len(payload):
                        chunk = await aio_loop.sock_recv(server, 65536)
                        assert chunk
                        got += chunk
                    return bytes(got)

                reader = asyncio.ensure_future(drain())
                await aio_loop.sock_sendall(client, payload)
                return await reader

    assert run(main()) == payload


def test_sock_recv_into_fills_the_buffer(aio_loop, run):
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)

    async def main():
        buf = bytearray(10)
        aio_loop.call_later(0.01, b.send, b"hello")
        n = await aio_loop.sock_recv_into(a, buf)
        return bytes(buf[:n])

    with a, b:
        assert run(main()) == b"hello"


def test_sock_recv_returns_empty_bytes_at_eof(aio_loop, run):
    a, b = socket.socketpair()
    a.setblocking(False)
    with a:
        aio_loop.call_later(0.01, b.close)
        assert run(aio_loop.sock_recv(a, 10)) == b""


def test_sock_connect_to_a_closed_port_raises_connection_refused(aio_loop, run):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    addr = probe.getsockname()
    probe.close()
    client = socket.socket()
    client.setblocking(False)
    with client:
        with pytest.raises(ConnectionRefusedError):
            run(aio_loop.sock_connect(client, addr))


def test_cancelled_sock_recv_leaves_no_watcher(aio_loop, run):
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)

    async def main():
        task = asyncio.ensure_future(aio_loop.sock_recv(a, 10))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        b.send(b"after")
        return await aio_loop.sock_recv(a, 10)

    with a, b:
        assert run(main()) == b"after"
        assert aio_loop.remove_reader(a.fileno()) is False


def test_sock_methods_refuse_blocking_sockets_in_debug_mode(aio_loop, run):
    aio_loop.set_debug(True)
    a, b = socket.socketpair()
    with a, b:
        with pytest.raises(ValueError, match="non-blocking"):
            run(aio_loop.sock_recv(a, 1))
