"""The stream transport's API, on both loops: write types and refusals,
write buffer limits, BufferedProtocol (small buffers included),
eof_received's return value, connection_lost exactly once, and the
exception-handler contexts of failing protocol methods."""
import array
import asyncio
import contextlib
import socket

import pytest

PAYLOAD = bytes(range(256)) * 1024   # 256 KiB, more than one read


class Recorder(asyncio.Protocol):
    """Records every call; `lost` resolves on connection_lost."""

    def __init__(self, loop, keep_open=None):
        self.calls = []
        self.data = bytearray()
        self.keep_open = keep_open
        self.made = loop.create_future()
        self.eof = loop.create_future()
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.calls.append("made")
        self.made.set_result(transport)

    def data_received(self, data):
        assert type(data) is bytes
        self.calls.append("data")
        self.data += data

    def eof_received(self):
        self.calls.append("eof")
        self.eof.set_result(None)
        return self.keep_open

    def connection_lost(self, exc):
        self.calls.append("lost")
        self.lost.set_result(exc)


class Buffered(asyncio.BufferedProtocol):
    """Collects into `data` through a buffer of `size` bytes; `hints` and
    `sizes` record get_buffer's and buffer_updated's arguments."""

    def __init__(self, loop, size=1 << 16):
        self.buf = bytearray(size)
        self.data = bytearray()
        self.hints = []
        self.sizes = []
        self.made = loop.create_future()
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.made.set_result(transport)

    def get_buffer(self, sizehint):
        self.hints.append(sizehint)
        return self.buf

    def buffer_updated(self, nbytes):
        self.sizes.append(nbytes)
        self.data += self.buf[:nbytes]

    def connection_lost(self, exc):
        self.lost.set_result(exc)


@contextlib.asynccontextmanager
async def serve_one(loop, protocol):
    """(the server side's transport, a connected raw client socket); the
    server and the client are closed on exit."""
    server = await loop.create_server(lambda: protocol, "127.0.0.1", 0)
    client = socket.socket()
    client.setblocking(False)
    async with server:
        with client:
            await loop.sock_connect(client, server.sockets[0].getsockname())
            yield await protocol.made, client


async def recv_until_eof(loop, sock):
    data = bytearray()
    while chunk := await loop.sock_recv(sock, 1 << 20):
        data += chunk
    return bytes(data)


def test_write_accepts_bytes_bytearray_and_memoryview(aio_loop, run):
    async def main():
        proto = Recorder(aio_loop)
        async with serve_one(aio_loop, proto) as (transport, client):
            transport.write(b"ab")
            transport.write(bytearray(b"cd"))
            transport.write(memoryview(b"xefx")[1:3])
            transport.writelines([b"g", bytearray(b"h"), memoryview(b"i")])
            transport.write(PAYLOAD)
            transport.close()
            return await recv_until_eof(aio_loop, client)

    assert run(main()) == b"abcdefghi" + PAYLOAD


@pytest.mark.parametrize("data", ["text", 42, None, [b"x"], (b"x",), array.array("b", b"x")])
def test_write_of_a_non_bytes_like_object_raises_type_error(aio_loop, run, data):
    async def main():
        proto = Recorder(aio_loop)
        async with serve_one(aio_loop, proto) as (transport, client):
            with pytest.raises(TypeError, match="data argument must be a bytes-like object"):
                transport.write(data)
            transport.close()

    run(main())


def test_write_after_write_eof_raises_runtime_error(aio_loop, run):
    async def main():
        proto = Recorder(aio_loop)
        async with serve_one(aio_loop, proto) as (transport, client):
            assert transport.can_write_eof()
            transport.write(b"last")
            transport.write_eof()
            transport.write_eof()                 # again: harmless
            with pytest.raises(RuntimeError, match="write_eof"):
                transport.write(b"more")
            received = await recv_until_eof(aio_loop, client)   # EOF after the data
            transport.close()
            return received

    assert run(main()) == b"last"


def test_writes_after_close_are_ignored(aio_loop, run):
    async def main():
        proto = Recorder(aio_loop)
        async with serve_one(aio_loop, proto) as (transport, client):
            transport.write(b"before")
            transport.close()
            transport.write(b"after")             # no exception, not sent
            received = await recv_until_eof(aio_loop, client)
            await proto.lost
            transport.write(b"later")
            return received

    assert run(main()) == b"before"


def test_write_buffer_limits_follow_asyncio_rules(aio_loop, run):
    async def main():
        proto = Recorder(aio_loop)
        async with serve_one(aio_loop, proto) as (transport, client):
            limits = [transport.get_write_buffer_limits()]
            transport.set_write_buffer_limits(high=1000)
            limits.append(transport.get_write_buffer_limits())
            transport.set_write_buffer_limits(low=100)
            limits.append(transport.get_write_buffer_limits())
            transport.set_write_buffer_limits(high=300, low=200)
            limits.append(transport.get_write_buffer_limits())
            with pytest.raises(ValueError):
                transport.set_write_buffer_limits(high=10, low=20)
            with pytest.raises(ValueError):
                transport.set_write_buffer_limits(high=-1)
            limits.append(transport.get_write_buffer_limits())
            size = transport.get_write_buffer_size()
            transport.close()
            return limits, size

    limits, size = run(main())
    assert limits == [(16384, 65536), (250, 1000), (100, 400), (200, 300), (200, 300)]
    assert size == 0


def test_pause_writing_fires_when_new_limits_are_below_the_buffer(aio_loop, run):
    class Pausing(Recorder):
        def pause_writing(self):
            self.calls.append(("pause", self.transport.get_write_buffer_size()))

        def resume_writing(self):
            self.calls.append(("resume", self.transport.get_write_buffer_size()))

    async def main():
        proto = Pausing(aio_loop)
        async with serve_one(aio_loop, proto) as (transport, client):
            transport.set_write_buffer_limits(high=1 << 30)
            while transport.get_write_buffer_size() == 0:   # the kernel's buffers fill
                transport.write(PAYLOAD)
            queued = transport.get_write_buffer_size()
            transport.set_write_buffer_limits(high=queued - 1, low=0)
            calls = [c for c in proto.calls if isinstance(c, tuple)]
            while len([c for c in proto.calls if isinstance(c, tuple)]) < 2:
                await aio_loop.sock_recv(client, 1 << 20)   # the peer reads at last
            transport.abort()
            return queued, calls, [c for c in proto.calls if isinstance(c, tuple)]

    queued, calls_at_once, calls = run(main())
    assert calls_at_once == [("pause", queued)]
    assert calls == [("pause", queued), ("resume", 0)]    # low water 0: drained


def test_buffered_protocol_gets_every_byte_through_small_buffers(aio_loop, run):
    async def main():
        proto = Buffered(aio_loop, 7)
        async with serve_one(aio_loop, proto) as (_, client):
            await aio_loop.sock_sendall(client, PAYLOAD)
            client.shutdown(socket.SHUT_WR)
            exc = await proto.lost
            return exc, proto

    exc, proto = run(main())
    assert exc is None
    assert proto.data == PAYLOAD
    assert max(proto.sizes) <= 7 and sum(proto.sizes) == len(PAYLOAD)
    # asyncio asks with -1 (any size); pymux with the bytes it holds.
    assert all(hint == -1 or hint > 0 for hint in proto.hints)


def test_buffered_protocol_can_take_a_memoryview_of_a_larger_buffer(aio_loop, run):
    class Views(Buffered):
        def __init__(self):
            super().__init__(aio_loop, len(PAYLOAD))
            self.used = 0

        def get_buffer(self, sizehint):
            return memoryview(self.buf)[self.used:]

        def buffer_updated(self, nbytes):
            self.used += nbytes

    async def main():
        proto = Views()
        async with serve_one(aio_loop, proto) as (_, client):
            await aio_loop.sock_sendall(client, PAYLOAD)
            client.shutdown(socket.SHUT_WR)
            await proto.lost
            return proto

    proto = run(main())
    assert proto.used == len(PAYLOAD) and proto.buf == PAYLOAD


@pytest.mark.parametrize("keep_open", [None, False])
def test_eof_received_returning_false_closes_the_transport(aio_loop, run, keep_open):
    async def main():
        proto = Recorder(aio_loop, keep_open=keep_open)
        async with serve_one(aio_loop, proto) as (transport, client):
            await aio_loop.sock_sendall(client, b"data")
            client.shutdown(socket.SHUT_WR)
            exc = await proto.lost
            return exc, proto.calls, transport.is_closing(), await recv_until_eof(aio_loop, client)

    exc, calls, closing, received = run(main())
    assert exc is None and closing and received == b""
    assert calls == ["made", "data", "eof", "lost"]


def test_eof_received_returning_true_keeps_the_transport_open_for_writing(aio_loop, run):
    async def main():
        proto = Recorder(aio_loop, keep_open=True)
        async with serve_one(aio_loop, proto) as (transport, client):
            client.shutdown(socket.SHUT_WR)
            await proto.eof
            await asyncio.sleep(0.05)          # room for a (wrong) close
            closing = transport.is_closing()
            transport.write(b"reply after the peer's EOF")
            transport.close()
            received = await recv_until_eof(aio_loop, client)
            return closing, received, await proto.lost, proto.calls

    closing, received, exc, calls = run(main())
    assert not closing
    assert received == b"reply after the peer's EOF"
    assert exc is None and calls == ["made", "eof", "lost"]


def test_a_half_closed_transport_keeps_reading_until_the_peer_closes(aio_loop, run):
    async def main():
        proto = Recorder(aio_loop, keep_open=True)
        async with serve_one(aio_loop, proto) as (transport, client):
            transport.write_eof()
            assert await recv_until_eof(aio_loop, client) == b""
            await aio_loop.sock_sendall(client, b"still heard")
            client.shutdown(socket.SHUT_WR)
            await proto.eof
            data = bytes(proto.data)
            transport.close()
            return data, await proto.lost

    assert run(main()) == (b"still heard", None)


def test_connection_lost_runs_once_after_connection_made_whatever_closes(aio_loop, run):
    async def main():
        proto = Recorder(aio_loop)
        async with serve_one(aio_loop, proto) as (transport, client):
            transport.write(PAYLOAD * 16)        # some of it stays queued
            transport.close()
            transport.abort()                    # ends the close waiting for the queue
            transport.close()
            transport.abort()
            exc = await proto.lost
            await asyncio.sleep(0.05)            # room for a (wrong) second call
            return exc, proto.calls, transport.is_closing(), transport.is_reading()

    exc, calls, closing, reading = run(main())
    assert exc is None and calls == ["made", "lost"]
    assert closing and not reading


def test_pause_and_resume_reading(aio_loop, run):
    async def main():
        proto = Recorder(aio_loop)
        async with serve_one(aio_loop, proto) as (transport, client):
            assert transport.is_reading()
            transport.pause_reading()
            transport.pause_reading()            # again: harmless
            assert not transport.is_reading()
            await aio_loop.sock_sendall(client, b"held")
            await asyncio.sleep(0.05)
            held = bytes(proto.data)
            transport.resume_reading()
            assert transport.is_reading()
            while not proto.data:
                await asyncio.sleep(0.001)
            transport.close()
            return held, bytes(proto.data), transport.is_reading()

    assert run(main()) == (b"", b"held", False)


def test_get_extra_info_names_both_ends_and_gives_a_usable_socket(aio_loop, run):
    async def main():
        proto = Recorder(aio_loop)
        async with serve_one(aio_loop, proto) as (transport, client):
            sock = transport.get_extra_info("socket")
            info = (transport.get_extra_info("sockname"), transport.get_extra_info("peername"),
                    sock.getsockname(), sock.getpeername(),
                    sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0,
                    transport.get_extra_info("no such thing", "default"))
            transport.write(b"still works")
            transport.close()
            return info, client.getsockname(), client.getpeername(), \
                await recv_until_eof(aio_loop, client)

    info, client_name, client_peer, received = run(main())
    assert info == (client_peer, client_name, client_peer, client_name, True, "default")
    assert received == b"still works"


def test_set_protocol_sends_later_data_to_the_new_protocol(aio_loop, run):
    async def main():
        first, second = Recorder(aio_loop), Recorder(aio_loop)
        async with serve_one(aio_loop, first) as (transport, client):
            assert transport.get_protocol() is first
            transport.set_protocol(second)
            assert transport.get_protocol() is second
            await aio_loop.sock_sendall(client, b"for the second")
            client.shutdown(socket.SHUT_WR)
            await second.lost
            return bytes(first.data), bytes(second.data)

    assert run(main()) == (b"", b"for the second")


# --- exceptions in protocol methods: the handler gets asyncio's context ------

def failing_context(handler_contexts):
    assert len(handler_contexts) == 1
    context = handler_contexts[0]
    assert isinstance(context["exception"], ValueError)
    return context


def test_exception_in_eof_received_goes_to_the_handler_and_closes(aio_loop, run,
                                                                 handler_contexts):
    class Failing(Recorder):
        def eof_received(self):
            raise ValueError("eof failed")

    async def main():
        proto = Failing(aio_loop)
        async with serve_one(aio_loop, proto) as (transport, client):
            client.shutdown(socket.SHUT_WR)
            return await proto.lost, transport, proto

    exc, transport, proto = run(main())
    context = failing_context(handler_contexts)
    assert exc is context["exception"]
    assert context["message"] == "Fatal error: protocol.eof_received() call failed."
    assert context["transport"] is transport and context["protocol"] is proto


@pytest.mark.parametrize("method", ["get_buffer", "buffer_updated"])
def test_exception_in_a_buffered_protocol_goes_to_the_handler_and_closes(
        aio_loop, run, handler_contexts, method):
    class Failing(Buffered):
        def get_buffer(self, sizehint):
            if method == "get_buffer":
                raise ValueError("no buffer")
            return self.buf

        def buffer_updated(self, nbytes):
            raise ValueError("not updated")

    async def main():
        proto = Failing(aio_loop)
        async with serve_one(aio_loop, proto) as (transport, client):
            await aio_loop.sock_sendall(client, b"x")
            return await proto.lost, transport, proto

    exc, transport, proto = run(main())
    context = failing_context(handler_contexts)
    assert exc is context["exception"]
    assert context["message"] == f"Fatal error: protocol.{method}() call failed."
    assert context["transport"] is transport and context["protocol"] is proto


def test_an_empty_buffer_from_get_buffer_is_a_runtime_error(aio_loop, run, handler_contexts):
    class Empty(Buffered):
        def get_buffer(self, sizehint):
            return bytearray()

    async def main():
        proto = Empty(aio_loop)
        async with serve_one(aio_loop, proto) as (_, client):
            await aio_loop.sock_sendall(client, b"x")
            return await proto.lost

    exc = run(main())
    assert isinstance(exc, RuntimeError) and "empty buffer" in str(exc)
    assert handler_contexts[0]["exception"] is exc


@pytest.mark.parametrize("kind", ["read-only", "non-contiguous"])
def test_a_buffer_that_cannot_be_written_is_a_fatal_read_error(aio_loop, run, handler_contexts,
                                                              kind):
    class Unwritable(Buffered):
        def get_buffer(self, sizehint):
            return bytes(16) if kind == "read-only" else memoryview(self.buf)[::2]

    async def main():
        proto = Unwritable(aio_loop)
        async with serve_one(aio_loop, proto) as (_, client):
            await aio_loop.sock_sendall(client, b"x")
            return await proto.lost

    exc = run(main())   # and the loop goes on: run() returned
    assert isinstance(exc, TypeError)
    assert handler_contexts[0]["exception"] is exc
    assert handler_contexts[0]["message"] == "Fatal read error on socket transport"


def test_buffer_updated_may_resize_the_bytearray_get_buffer_returned(aio_loop, run):
    class Resizing(Buffered):
        def get_buffer(self, sizehint):
            return self.buf

        def buffer_updated(self, nbytes):
            self.data += self.buf[:nbytes]
            self.buf.extend(b"\0")   # fails while a view of it is exported
            del self.buf[-1:]

    async def main():
        proto = Resizing(aio_loop, 7)
        async with serve_one(aio_loop, proto) as (_, client):
            await aio_loop.sock_sendall(client, PAYLOAD)
            client.shutdown(socket.SHUT_WR)
            return await proto.lost, proto

    exc, proto = run(main())
    assert exc is None and proto.data == PAYLOAD


@pytest.mark.parametrize("method", ["pause_writing", "resume_writing"])
def test_exception_in_pause_or_resume_writing_goes_to_the_handler(aio_loop, run,
                                                                 handler_contexts, method):
    class Failing(Recorder):
        def pause_writing(self):
            if method == "pause_writing":
                raise ValueError("pause failed")

        def resume_writing(self):
            raise ValueError("resume failed")

    async def main():
        proto = Failing(aio_loop)
        async with serve_one(aio_loop, proto) as (transport, client):
            transport.set_write_buffer_limits(high=0)
            while transport.get_write_buffer_size() == 0:
                transport.write(PAYLOAD)
            if method == "resume_writing":
                while not handler_contexts:
                    await aio_loop.sock_recv(client, 1 << 20)
            closing = transport.is_closing()
            transport.abort()
            return transport, proto, closing

    transport, proto, closing = run(main())
    context = failing_context(handler_contexts)
    assert context["message"] == f"protocol.{method}() failed"
    assert context["transport"] is transport and context["protocol"] is proto
    assert not closing          # the transport carries on


def test_closing_a_transport_after_its_loop_closed_raises_runtime_error(aio_loop):
    left, right = socket.socketpair()
    with right:
        transport, _ = aio_loop.run_until_complete(
            aio_loop.create_connection(asyncio.Protocol, sock=left))
        aio_loop.close()
        assert not transport.is_closing()
        with pytest.raises(RuntimeError, match="closed"):
            transport.close()
        assert transport.is_closing()
        transport.abort()             # connection_lost was due already: nothing to do


def test_keyboard_interrupt_in_data_received_stops_the_loop_and_loses_no_bytes(aio_loop):
    # KeyboardInterrupt leaves run_until_complete, as in any callback; the
    # other connections' bytes (on pymux maybe read in the same batch
    # already) still arrive once the loop runs again.
    interrupted = []

    class Interrupting(Recorder):
        def data_received(self, data):
            super().data_received(data)
            if not interrupted:
                interrupted.append(self)
                raise KeyboardInterrupt

    protos = [Interrupting(aio_loop) for _ in range(4)]
    pairs = [socket.socketpair() for _ in protos]
    try:
        for proto, (left, _) in zip(protos, pairs):
            aio_loop.run_until_complete(aio_loop.create_connection(lambda: proto, sock=left))
        for _, right in pairs:
            right.sendall(b"payload")
        with pytest.raises(KeyboardInterrupt):
            aio_loop.run_until_complete(asyncio.sleep(5))

        async def all_arrived():
            while any(len(proto.data) < len(b"payload") for proto in protos):
                await asyncio.sleep(0.001)

        aio_loop.run_until_complete(asyncio.wait_for(all_arrived(), 10))
        assert [bytes(proto.data) for proto in protos] == [b"payload"] * 4
    finally:
        for proto in protos:
            proto.transport.close()
        for _, right in pairs:
            right.close()
        aio_loop.run_until_complete(asyncio.sleep(0))
