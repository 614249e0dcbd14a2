"""--api streams: the echo server on asyncio streams (asyncio.start_server,
StreamReader/StreamWriter) on pymux.aio.

One task per connection reads, writes the reply and awaits drain():
backpressure is drain() waiting while the replies exceed --max-buffer (the
task then stops reading, and the StreamReader pauses the transport once its
own buffer is full). finish() ends that wait: a peer that never reads would
keep the task in drain() and its input unread (closing then resets it). The
rest is EchoServer's and Connection's, as for the other APIs.
"""
import asyncio

from ._aio_protocol import AioEchoServer
from ._connection import CLOSE_WHEN_DRAINED, WROTE_EOF, Connection

READ_SIZE = 65536   # bytes asked for per read()


class StreamConnection(Connection):
    """A connection served by a task; transport is its StreamWriter's."""

    __slots__ = ("finished",)

    def __init__(self, owner):
        super().__init__(owner)
        self.finished = None   # a future finish() completes, while drain() waits

    def finish(self):
        """The queued replies, then FIN; the task drops what it reads from
        now on, until the peer's EOF closes the connection."""
        if self.ending:
            return
        self.ending = WROTE_EOF
        self.transport.write_eof()
        if self.finished is not None:
            self.finished.set_result(None)

    async def drain(self, writer):
        """writer.drain(), until finish() (then the task reads on)."""
        if writer.transport.get_write_buffer_size() <= self.owner.args.max_buffer:
            await writer.drain()   # returns at once, or raises the connection's error
            return
        drain = asyncio.ensure_future(writer.drain())
        self.finished = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait((drain, self.finished), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.finished = None
        if drain.done():
            drain.result()
        else:
            drain.cancel()


class StreamsEchoServer(AioEchoServer):
    """EchoServer whose connections are asyncio streams."""

    def listen(self, host, port, reuse_port):
        return self.listen_with(asyncio.start_server, self.serve_connection, host, port,
                                reuse_port)

    async def serve_connection(self, reader, writer):
        conn = StreamConnection(self)
        if not conn.admit(writer.transport):
            return
        if self.finishing():   # accepted from the listen queue at shutdown
            conn.finish()
        upper = self.args.upper
        error = None
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                if conn.ending:   # finishing: read the peer to its end, echo nothing
                    continue
                writer.write(data.upper() if upper else data)
                conn.requests += 1
                conn.nbytes += len(data)
                await conn.drain(writer)
            # The peer sent EOF: close() sends the queued replies first.
            conn.ending |= CLOSE_WHEN_DRAINED
            writer.close()
            await writer.wait_closed()
        except OSError as exc:   # reset by the peer, or aborted by end_now()
            error = exc
            writer.transport.abort()
        finally:
            conn.ended(error)
