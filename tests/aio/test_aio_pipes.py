"""connect_read_pipe and connect_write_pipe over os.pipe, on both loops."""
import asyncio
import os

import pytest

PAYLOAD = os.urandom(1024 * 1024)   # more than a pipe holds (64 KiB)


class PipeReader(asyncio.Protocol):
    def __init__(self, loop):
        self.data = bytearray()
        self.eof = False
        self.lost = loop.create_future()

    def data_received(self, data):
        self.data += data

    def eof_received(self):
        self.eof = True

    def connection_lost(self, exc):
        self.lost.set_result(exc)


class PipeWriter(asyncio.BaseProtocol):
    def __init__(self, loop):
        self.lost_calls = []
        self.lost = loop.create_future()

    def connection_lost(self, exc):
        self.lost_calls.append(exc)
        self.lost.set_result(exc)


@pytest.fixture
def pipe():
    """(read end, write end) as file objects; closed afterwards if the test
    (or a transport) has not closed them."""
    r, w = os.pipe()
    ends = open(r, "rb", buffering=0), open(w, "wb", buffering=0)
    yield ends
    for end in ends:
        end.close()


def test_read_pipe_receives_everything_then_eof(aio_loop, run, pipe):
    read_end, write_end = pipe

    async def main():
        transport, proto = await aio_loop.connect_read_pipe(lambda: PipeReader(aio_loop),
                                                            read_end)
        writer, _ = await aio_loop.connect_write_pipe(asyncio.BaseProtocol, write_end)
        writer.write(PAYLOAD)
        writer.close()                    # the reader sees EOF once all is read
        exc = await proto.lost
        return bytes(proto.data), proto.eof, exc

    data, eof, exc = run(main())
    assert data == PAYLOAD
    assert eof and exc is None


def test_write_pipe_delivers_bytes_to_a_plain_reader(aio_loop, run, pipe):
    read_end, write_end = pipe

    async def main():
        transport, proto = await aio_loop.connect_write_pipe(lambda: PipeWriter(aio_loop),
                                                             write_end)
        transport.write(b"first ")
        transport.writelines([b"second ", b"third"])
        transport.close()
        await proto.lost
        return read_end.read()

    assert run(main()) == b"first second third"


def test_write_pipe_sees_connection_lost_once_when_the_reader_closes(aio_loop, run, pipe):
    read_end, write_end = pipe

    async def main():
        transport, proto = await aio_loop.connect_write_pipe(lambda: PipeWriter(aio_loop),
                                                             write_end)
        read_end.close()
        exc = await proto.lost
        await asyncio.sleep(0.02)      # room for a (wrong) second call
        return exc, proto.lost_calls, transport.is_closing()

    exc, calls, closing = run(main())
    assert exc is None                 # nothing was buffered (asyncio's rule)
    assert len(calls) == 1 and closing


def test_write_pipe_buffers_past_what_the_pipe_holds_and_reports_it(aio_loop, run, pipe):
    read_end, write_end = pipe

    async def main():
        transport, proto = await aio_loop.connect_write_pipe(lambda: PipeWriter(aio_loop),
                                                             write_end)
        transport.write(PAYLOAD)
        buffered = transport.get_write_buffer_size()
        _, reader = await aio_loop.connect_read_pipe(lambda: PipeReader(aio_loop), read_end)
        transport.close()                  # flushes, then closes
        await proto.lost
        await reader.lost
        return buffered, bytes(reader.data)

    buffered, data = run(main())
    assert 0 < buffered < len(PAYLOAD)
    assert data == PAYLOAD


def test_read_pipe_refuses_a_regular_file(aio_loop, run, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x")
    with open(path, "rb") as file, pytest.raises(ValueError):
        run(aio_loop.connect_read_pipe(asyncio.Protocol, file))
