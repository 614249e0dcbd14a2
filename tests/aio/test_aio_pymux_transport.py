"""pymux.aio only: TCP and Unix stream connections run on the C core's
streams (StreamTransport), whoever makes them, and what that changes on
purpose (README, "pymux.aio"): the C stream owns the fd, so the socket an
application hands over is detached and get_extra_info("socket") is a dup;
Loop.close() closes the connections still open."""
import asyncio
import socket

import pytest

from pymux.aio._transport import StreamTransport


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


def run(loop, coro):
    return loop.run_until_complete(asyncio.wait_for(coro, 30))


def test_tcp_connections_on_both_sides_use_c_streams(pymux_loop):
    async def main():
        accepted = []

        def factory():
            accepted.append(Echo())
            return accepted[-1]

        server = await pymux_loop.create_server(factory, "127.0.0.1", 0)
        async with server:
            transport, _ = await pymux_loop.create_connection(
                asyncio.Protocol, *server.sockets[0].getsockname())
            while not accepted:
                await asyncio.sleep(0.001)
            types = type(transport), type(accepted[0].transport)
            transport.close()
            return types

    assert run(pymux_loop, main()) == (StreamTransport, StreamTransport)


def test_plain_servers_accept_in_c(pymux_loop):
    async def main():
        server = await pymux_loop.create_server(Echo, "127.0.0.1", 0)
        async with server:
            fd = server.sockets[0].fileno()
            # Not among asyncio's readers: the C loop accepts on a dup of it.
            watched = fd in pymux_loop._selector.get_map()
            listeners = len(pymux_loop._core.listeners)
        return watched, listeners, len(pymux_loop._core.listeners)

    assert run(pymux_loop, main()) == (False, 1, 0)


def test_unix_stream_connections_use_c_streams(pymux_loop, tmp_path):
    async def main():
        path = str(tmp_path / "sock")
        server = await pymux_loop.create_unix_server(Echo, path)
        async with server:
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(b"ping")
            echoed = await reader.readexactly(4)
            writer.close()
            return type(writer.transport), echoed

    assert run(pymux_loop, main()) == (StreamTransport, b"ping")


def test_a_socket_handed_over_is_detached_and_the_extra_socket_is_a_dup(pymux_loop):
    async def main():
        left, right = socket.socketpair()
        with left, right:
            fd = left.fileno()
            transport, _ = await pymux_loop.create_connection(asyncio.Protocol, sock=left)
            detached = left.fileno()
            left.close()                       # harmless: the transport owns the fd
            extra = transport.get_extra_info("socket")
            dup_fd = extra.fileno()
            transport.write(b"still open")
            received = await pymux_loop.sock_recv(right, 100)
            transport.close()
            await asyncio.sleep(0)
            return fd, detached, dup_fd, received, extra.fileno()

    fd, detached, dup_fd, received, after_close = run(pymux_loop, main())
    assert detached == -1 and dup_fd not in (-1, fd)
    assert received == b"still open"
    assert after_close == -1   # the dup is closed with the stream: it would keep it up


def test_ssl_and_udp_keep_asyncios_transports(pymux_loop):
    async def main():
        transport, _ = await pymux_loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
        transport.close()
        return transport

    assert not isinstance(run(pymux_loop, main()), StreamTransport)


def test_loop_close_closes_open_connections_and_later_writes_raise(pymux_loop):
    left, right = socket.socketpair()
    with right:
        transport, _ = run(pymux_loop, pymux_loop.create_connection(asyncio.Protocol, sock=left))
        pymux_loop.close()
        # asyncio leaves the socket open until the transport is collected;
        # pymux's C loop closes every stream it owns.
        right.settimeout(5)
        assert right.recv(100) == b""
        with pytest.raises(RuntimeError, match="closed"):
            transport.write(b"x")
        assert transport.get_write_buffer_size() == 0
        transport.pause_reading()
        transport.resume_reading()
        assert transport.get_extra_info("socket").fileno() == -1   # closed, as the fd is


def test_buffered_protocols_are_offered_the_bytes_waiting(pymux_loop):
    # asyncio offers get_buffer(-1); pymux names the bytes it read, so a
    # protocol can size its buffer.
    class Hints(asyncio.BufferedProtocol):
        def __init__(self):
            self.hints = []
            self.buf = bytearray(1 << 16)
            self.lost = pymux_loop.create_future()

        def get_buffer(self, sizehint):
            self.hints.append(sizehint)
            return self.buf

        def buffer_updated(self, nbytes):
            pass

        def connection_lost(self, exc):
            self.lost.set_result(exc)

    async def main():
        left, right = socket.socketpair()
        with right:
            proto = Hints()
            await pymux_loop.create_connection(lambda: proto, sock=left)
            right.sendall(b"x" * 1000)
            right.shutdown(socket.SHUT_WR)
            await proto.lost
            return proto.hints

    assert run(pymux_loop, main()) == [1000]


def test_sendfile_over_a_c_stream_uses_os_sendfile(pymux_loop, tmp_path):
    # fallback=False: only the native path (os.sendfile on a dup of the
    # stream's fd, once its C write queue is empty) may send it.
    content = bytes(range(256)) * 8192 + b"tail"
    head = b"h" * (4 << 20)   # sendfile first waits for it to drain
    path = tmp_path / "content"
    path.write_bytes(content)

    async def main():
        left, right = socket.socketpair()
        with right, open(path, "rb") as file:
            right.setblocking(False)
            transport, _ = await pymux_loop.create_connection(asyncio.Protocol, sock=left)
            transport.write(head)                # more than the kernel takes: queued
            queued = transport.get_write_buffer_size()
            received = bytearray()

            async def receive():
                while chunk := await pymux_loop.sock_recv(right, 1 << 20):
                    received.extend(chunk)

            receiver = asyncio.ensure_future(receive())
            sent = await pymux_loop.sendfile(transport, file, fallback=False)
            transport.write(b"after")
            transport.close()
            await receiver
            return type(transport), queued, sent, bytes(received)

    kind, queued, sent, received = run(pymux_loop, main())
    assert kind is StreamTransport and queued > 0 and sent == len(content)
    assert received == head + content + b"after"


def test_the_loop_adds_few_instance_attributes_to_asyncios(pymux_loop):
    # Past 30 attributes, CPython 3.11 stops sharing an instance dict's keys
    # and every attribute read on the loop (call_soon's, the iteration's)
    # gets slower. asyncio's loop has 24 there: pymux adds at most 6 (its
    # per-loop record and stream state lives on Loop._core).
    stdlib = asyncio.SelectorEventLoop()
    try:
        added = set(vars(pymux_loop)) - set(vars(stdlib))
    finally:
        stdlib.close()
    assert len(added) <= 6, sorted(added)


@pytest.mark.parametrize("backend", ["epoll", "uring"])
def test_an_unclosed_loop_with_open_c_streams_is_collected_safely(backend):
    # Loop, listener and transports dropped together, none closed: the
    # loop's collection frees the C loop (ResourceWarning), the transports'
    # collection meets a detached stream, and every fd is released. On
    # uring the loop goes with a multishot accept, recvs and maybe a send
    # in flight, which its free cancels before any memory is let go.
    import gc
    import os
    import warnings
    import pymux.aio
    from uring_helpers import require_backend

    require_backend(backend)

    def open_fds():
        return set(os.listdir("/proc/self/fd"))

    def serve_and_drop():
        loop = pymux.aio.Loop(backend)
        server = run(loop, loop.create_server(Echo, "127.0.0.1", 0))
        transport, _ = run(loop, loop.create_connection(Echo, *server.sockets[0].getsockname()))
        transport.write(b"ping")
        run(loop, asyncio.sleep(0.01))
        assert isinstance(transport, StreamTransport)

    gc.collect()
    before = open_fds()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        serve_and_drop()
        for _ in range(5):   # PyPy: objects freed by one collection free others
            gc.collect()
    assert any("unclosed event loop" in str(w.message) for w in caught)
    assert open_fds() <= before


def test_extra_values_the_caller_passes_are_kept_and_its_peername_not_asked_again(pymux_loop):
    # asyncio's own accept path (when the C loop cannot take a listening
    # socket) passes the peername accept() gave.
    async def main():
        left, right = socket.socketpair()
        with right:
            transport = pymux_loop._make_socket_transport(
                left, asyncio.Protocol(), extra={"peername": "given", "other": 1})
            info = [transport.get_extra_info(name, "default")
                    for name in ("peername", "other", "sockname", "missing")]
            transport.close()
            await asyncio.sleep(0)
            return type(transport), info

    assert run(pymux_loop, main()) == (StreamTransport, ["given", 1, "", "default"])
