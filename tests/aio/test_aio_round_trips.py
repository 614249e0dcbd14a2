"""Byte-exact echo round trips of 0 B to 64 MiB, through a Protocol server
and through streams, on both loops (TCP over loopback)."""
import asyncio
import functools
import os

import pytest

# A representative part of the suite: on every pymux backend (conftest.py).
pytestmark = pytest.mark.every_backend

SIZES = [0, 1, 65_535, 65_537, 1024 * 1024 + 7, 64 * 1024 * 1024]
SIZE_IDS = ["0B", "1B", "64KiB-1", "64KiB+1", "1MiB+7", "64MiB"]
CHUNK = 256 * 1024


@functools.lru_cache(maxsize=1)
def random_bytes():
    return os.urandom(max(SIZES))


class EchoProtocol(asyncio.Protocol):
    """Echoes; at the peer's EOF, closes (after flushing what is queued)."""

    def __init__(self, loop):
        self.closed = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def connection_lost(self, exc):
        self.closed.set_result(exc)


class Collect(asyncio.Protocol):
    def __init__(self, loop):
        self.chunks = []
        self.done = loop.create_future()

    def data_received(self, data):
        self.chunks.append(data)

    def eof_received(self):
        self.done.set_result(b"".join(self.chunks))


async def protocol_round_trip(loop, payload):
    servers = []

    def serve():
        servers.append(EchoProtocol(loop))
        return servers[-1]

    server = await loop.create_server(serve, "127.0.0.1", 0)
    async with server:
        transport, proto = await loop.create_connection(lambda: Collect(loop),
                                                        *server.sockets[0].getsockname())
        view = memoryview(payload)
        for start in range(0, len(payload), CHUNK):
            transport.write(view[start:start + CHUNK])
        transport.write_eof()
        echoed = await proto.done
        transport.close()
        assert await servers[0].closed is None
        return echoed


async def stream_round_trip(payload):
    handled = asyncio.get_running_loop().create_future()

    async def echo(reader, writer):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        writer.close()
        await writer.wait_closed()
        handled.set_result(True)

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    async with server:
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())

        async def send():
            view = memoryview(payload)
            for start in range(0, len(payload), CHUNK):
                writer.write(view[start:start + CHUNK])
                await writer.drain()
            writer.write_eof()

        _, echoed = await asyncio.gather(send(), reader.read())
        writer.close()
        await writer.wait_closed()
        await handled
        return echoed


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_protocol_echo_is_byte_exact(aio_loop, run, size):
    payload = random_bytes()[:size]
    assert run(protocol_round_trip(aio_loop, payload), timeout=120) == payload


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_stream_echo_is_byte_exact(run, size):
    payload = random_bytes()[:size]
    assert run(stream_round_trip(payload), timeout=120) == payload
