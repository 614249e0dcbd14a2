"""loop.sendfile over TCP (os.sendfile, and the read/write fallback), on
both loops."""
import asyncio
import io
import os

import pytest

CONTENT = os.urandom(3 * 1024 * 1024 + 17)   # more than socket buffers hold


class Collect(asyncio.Protocol):
    """Server side: collects every byte until the peer's EOF (then its
    transport closes)."""

    def __init__(self, done, closed):
        self.data = bytearray()
        self.done = done
        self.closed = closed

    def data_received(self, data):
        self.data += data

    def eof_received(self):
        self.done.set_result(bytes(self.data))

    def connection_lost(self, exc):
        self.closed.set_result(exc)


async def send_file(loop, file, **kwargs):
    """loop.sendfile(transport, file, **kwargs) to a collecting server;
    returns (sendfile's result, the bytes the server received)."""
    done, closed = loop.create_future(), loop.create_future()
    server = await loop.create_server(lambda: Collect(done, closed), "127.0.0.1", 0)
    async with server:
        transport, _ = await loop.create_connection(asyncio.Protocol,
                                                    *server.sockets[0].getsockname())
        try:
            sent = await loop.sendfile(transport, file, **kwargs)
            transport.write_eof()
            received = await done
        finally:
            transport.close()
            await closed
        return sent, received


@pytest.fixture
def regular_file(tmp_path):
    path = tmp_path / "content"
    path.write_bytes(CONTENT)
    with open(path, "rb") as file:
        yield file


def test_sendfile_sends_a_whole_regular_file(aio_loop, run, regular_file):
    sent, received = run(send_file(aio_loop, regular_file))
    assert sent == len(CONTENT)
    assert received == CONTENT
    assert regular_file.tell() == len(CONTENT)   # as after file.read()


def test_sendfile_sends_count_bytes_from_offset(aio_loop, run, regular_file):
    sent, received = run(send_file(aio_loop, regular_file, offset=1000, count=200_000))
    assert sent == 200_000
    assert received == CONTENT[1000:201_000]
    assert regular_file.tell() == 201_000


def test_sendfile_of_a_file_object_without_fileno_falls_back_to_writes(aio_loop, run):
    # io.BytesIO has no fd: os.sendfile cannot send it, so fallback=True
    # (the default) reads and writes it through the transport.
    sent, received = run(send_file(aio_loop, io.BytesIO(CONTENT)))
    assert sent == len(CONTENT)
    assert received == CONTENT


def test_sendfile_without_fallback_refuses_a_file_object_without_fileno(aio_loop, run):
    with pytest.raises(asyncio.SendfileNotAvailableError):
        run(send_file(aio_loop, io.BytesIO(CONTENT), fallback=False))


def test_sendfile_refuses_a_text_file(aio_loop, run, tmp_path):
    path = tmp_path / "text"
    path.write_text("text")
    with open(path) as file, pytest.raises(ValueError):
        run(send_file(aio_loop, file))
