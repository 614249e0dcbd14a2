"""TCP and Unix servers and connections, Protocols and streams, on both loops
(asyncio's readiness-based transports run unchanged on pymux.aio)."""
import asyncio
import os
import socket

import pytest

# A representative part of the suite: on every pymux backend (conftest.py).
pytestmark = pytest.mark.every_backend

PAYLOAD = os.urandom(256 * 1024)


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def eof_received(self):
        self.transport.close()   # returning None closes too; be explicit


class CollectProtocol(asyncio.Protocol):
    def __init__(self, loop):
        self.data = bytearray()
        self.lost = loop.create_future()
        self.events = []

    def connection_made(self, transport):
        self.events.append("made")

    def data_received(self, data):
        self.data += data

    def eof_received(self):
        self.events.append("eof")

    def connection_lost(self, exc):
        self.events.append("lost")
        self.lost.set_result(exc)


async def echo_over_protocols(loop, start_server, connect):
    server = await start_server(EchoProtocol)
    async with server:
        transport, proto = await connect(lambda: CollectProtocol(loop))
        transport.write(PAYLOAD[:1000])
        transport.writelines([PAYLOAD[1000:2000], PAYLOAD[2000:]])
        transport.write_eof()
        exc = await proto.lost
        transport.close()
        return bytes(proto.data), proto.events, exc


def test_tcp_protocol_echo_round_trip(aio_loop, run):
    holder = {}

    async def start(factory):
        server = await aio_loop.create_server(factory, "127.0.0.1", 0)
        holder["addr"] = server.sockets[0].getsockname()
        return server

    async def connect(factory):
        return await aio_loop.create_connection(factory, *holder["addr"])

    data, events, exc = run(echo_over_protocols(aio_loop, start, connect))
    assert data == PAYLOAD
    assert events == ["made", "eof", "lost"] and exc is None


def test_unix_protocol_echo_round_trip(aio_loop, run, tmp_path):
    path = str(tmp_path / "sock")

    async def start(factory):
        return await aio_loop.create_unix_server(factory, path)

    async def connect(factory):
        return await aio_loop.create_unix_connection(factory, path)

    data, events, exc = run(echo_over_protocols(aio_loop, start, connect))
    assert data == PAYLOAD
    assert events == ["made", "eof", "lost"] and exc is None


async def stream_echo(reader, writer):
    while True:
        line = await reader.readline()
        if not line:
            break
        writer.write(line.upper())
        await writer.drain()
    writer.close()


def test_tcp_streams_readline_and_readexactly(run):
    async def main():
        server = await asyncio.start_server(stream_echo, "127.0.0.1", 0)
        async with server:
            reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
            lines = [b"hello\n", b"x" * 60000 + b"\n", b"bye\n"]
            for line in lines:
                writer.write(line)
            await writer.drain()
            got = [await reader.readline() for _ in lines]
            writer.write(b"0123456789\n")
            exact = await reader.readexactly(5)
            rest = await reader.readline()
            writer.close()
            await writer.wait_closed()
            return got, exact, rest, lines

    got, exact, rest, lines = run(main())
    assert got == [line.upper() for line in lines]
    assert exact + rest == b"0123456789\n"


def test_readline_longer_than_the_limit_raises_value_error(run):
    async def handler(reader, writer):
        writer.write(b"y" * 300 + b"\n")
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        async with server:
            reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname(),
                                                           limit=100)
            with pytest.raises(ValueError):
                await reader.readline()
            writer.close()

    run(main())


def test_unix_streams_round_trip_and_eof(run, tmp_path):
    path = str(tmp_path / "s")

    async def main():
        server = await asyncio.start_unix_server(stream_echo, path)
        async with server:
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(b"abc\n")
            writer.write_eof()
            data = await reader.read()     # until the server closes
            writer.close()
            await writer.wait_closed()
            return data

    assert run(main()) == b"ABC\n"


def test_readexactly_raises_incomplete_read_at_early_eof(run):
    async def handler(reader, writer):
        writer.write(b"abc")
        writer.close()

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        async with server:
            reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
            with pytest.raises(asyncio.IncompleteReadError) as info:
                await reader.readexactly(10)
            writer.close()
            return info.value.partial

    assert run(main()) == b"abc"


def test_many_concurrent_connections_each_get_their_own_bytes(run):
    async def one(addr, i):
        reader, writer = await asyncio.open_connection(*addr)
        msg = b"%d\n" % i * 10
        writer.write(msg)
        got = await reader.readexactly(len(msg))
        writer.close()
        await writer.wait_closed()
        return got == msg.upper()

    async def main():
        server = await asyncio.start_server(stream_echo, "127.0.0.1", 0)
        async with server:
            addr = server.sockets[0].getsockname()
            return await asyncio.gather(*(one(addr, i) for i in range(100)))

    assert all(run(main()))


def test_create_connection_to_a_closed_port_raises_connection_refused(run):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    addr = probe.getsockname()
    probe.close()

    async def main():
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(*addr)

    run(main())


def test_server_close_stops_accepting(run):
    async def main():
        server = await asyncio.start_server(stream_echo, "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        assert server.is_serving()
        server.close()
        await server.wait_closed()
        assert not server.is_serving()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(*addr)

    run(main())


def test_exception_in_data_received_goes_to_the_handler_and_closes(aio_loop, run, handler_contexts):
    class Failing(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            raise ValueError("protocol failed")

    async def main():
        server = await aio_loop.create_server(Failing, "127.0.0.1", 0)
        async with server:
            reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
            writer.write(b"x")
            data = await reader.read()     # the server's transport closes
            writer.close()
            return data

    assert run(main()) == b""
    context = handler_contexts[0]
    assert isinstance(context["exception"], ValueError)
    assert {"message", "exception", "transport", "protocol"} <= set(context)
