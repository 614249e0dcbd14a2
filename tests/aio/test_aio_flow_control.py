"""A writer's view of a bad peer, on both loops: a connection reset while
data is queued, and a peer that stops reading (pause_writing at the
high-water mark, bounded memory, resume_writing once the peer reads)."""
import asyncio
import socket
import struct

CHUNK = 16 * 1024
HIGH_WATER = 64 * 1024
MAX_CHUNKS = 4096     # 64 MiB: far past what loopback socket buffers hold


class Writer(asyncio.Protocol):
    """Server side: writes CHUNKs while not paused; records the flow
    control calls and the write buffer size at each."""

    def __init__(self, loop):
        self.loop = loop
        self.paused = False
        self.calls = []            # ("pause" | "resume", buffer size)
        self.written = 0
        self.lost_calls = []
        self.connected = loop.create_future()
        self.paused_once = loop.create_future()
        self.resumed = loop.create_future()
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport
        transport.set_write_buffer_limits(high=HIGH_WATER)
        self.connected.set_result(transport)

    def write_until_paused(self):
        for _ in range(MAX_CHUNKS):
            if self.paused or self.transport.is_closing():
                return
            self.transport.write(b"x" * CHUNK)
            self.written += CHUNK

    def pause_writing(self):
        self.paused = True
        self.calls.append(("pause", self.transport.get_write_buffer_size()))
        if not self.paused_once.done():
            self.paused_once.set_result(None)

    def resume_writing(self):
        self.paused = False
        self.calls.append(("resume", self.transport.get_write_buffer_size()))
        if not self.resumed.done():
            self.resumed.set_result(None)

    def connection_lost(self, exc):
        self.lost_calls.append(exc)
        if not self.lost.done():
            self.lost.set_result(exc)


async def connected_pair(loop):
    """(Writer protocol on the server side, the raw client socket, server)."""
    writers = []

    def factory():
        writers.append(Writer(loop))
        return writers[-1]

    server = await loop.create_server(factory, "127.0.0.1", 0)
    client = socket.socket()
    client.setblocking(False)
    await loop.sock_connect(client, server.sockets[0].getsockname())
    while not writers:
        await asyncio.sleep(0.001)
    await writers[0].connected
    return writers[0], client, server


def test_a_peer_that_never_reads_pauses_the_writer_at_the_high_water_mark(aio_loop, run):
    async def main():
        writer, client, server = await connected_pair(aio_loop)
        try:
            writer.write_until_paused()
            await writer.paused_once
            size_after = writer.transport.get_write_buffer_size()
            await asyncio.sleep(0.05)        # the loop runs; nothing more is queued
            return writer.calls, size_after, writer.transport.get_write_buffer_size()
        finally:
            writer.transport.abort()
            client.close()
            server.close()

    calls, size_after, size_later = run(main())
    assert calls[0][0] == "pause"
    # asyncio pauses once the buffer exceeds the high-water mark: the writer
    # stopped one chunk past it, and the buffer stays there.
    assert HIGH_WATER < calls[0][1] <= HIGH_WATER + CHUNK
    assert size_after == calls[0][1] and size_later <= size_after
    assert calls == [calls[0]]


def test_the_writer_resumes_once_the_peer_reads_and_every_byte_arrives(aio_loop, run):
    async def main():
        writer, client, server = await connected_pair(aio_loop)
        try:
            writer.write_until_paused()
            await writer.paused_once
            received = 0
            while received < writer.written:     # the peer reads at last
                received += len(await aio_loop.sock_recv(client, 1024 * 1024))
            await writer.resumed
            return writer.calls, writer.written, received
        finally:
            writer.transport.close()
            client.close()
            server.close()

    calls, written, received = run(main())
    assert [kind for kind, _ in calls] == ["pause", "resume"]
    low_water = HIGH_WATER // 4          # asyncio's default low = high / 4
    assert calls[1][1] <= low_water
    assert received == written


def test_a_reset_mid_write_calls_connection_lost_once_with_the_error(aio_loop, run,
                                                                     handler_contexts):
    async def main():
        writer, client, server = await connected_pair(aio_loop)
        try:
            writer.write_until_paused()          # data queued in the transport
            await writer.paused_once
            # SO_LINGER 0: close() sends RST, not FIN.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            exc = await writer.lost
            await asyncio.sleep(0.05)            # room for a (wrong) second call
            return exc, writer.lost_calls, writer.transport.is_closing()
        finally:
            writer.transport.abort()
            server.close()

    exc, lost_calls, closing = run(main())
    assert isinstance(exc, (ConnectionResetError, BrokenPipeError))
    assert lost_calls == [exc] and closing
    # asyncio reports these errors to the protocol only, not the handler.
    assert handler_contexts == []
