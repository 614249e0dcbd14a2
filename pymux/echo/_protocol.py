"""One echo connection as a Protocol: echo, backpressure, and how it ends
without a reset (see _connection.py). The same class serves the reactor and
asyncio transports (pymux.aio): it uses only the methods they share."""
import logging

from ..reactor import Protocol
from ._connection import CLOSE_WHEN_DRAINED, WROTE_EOF, Connection

logger = logging.getLogger("pymux.echo")


class EchoProtocol(Connection, Protocol):
    """Writes back what it reads; pauses reading while its replies back up."""

    __slots__ = ()

    def connection_made(self, transport):
        if self.admit(transport) and self.owner.finishing():
            self.finish()   # accepted from the listen queue at shutdown

    def data_received(self, data):
        if self.ending:   # finishing: read the peer to its end, echo nothing
            return
        self.transport.write(data)
        self.requests += 1
        self.nbytes += len(data)

    def eof_received(self):
        self.close_when_drained()
        return True   # stays open until its replies are sent (half-close)

    def pause_writing(self):
        self.transport.pause_reading()   # backpressure: stop reading the peer

    def resume_writing(self):
        if self.ending & CLOSE_WHEN_DRAINED:
            self.close_when_drained()    # low water 0: the queue is empty
        else:
            self.transport.resume_reading()

    # --- ending -------------------------------------------------------------

    def close_when_drained(self):
        """Close once every queued reply is sent: now if none is queued,
        else when the queue empties (high water 0 makes resume_writing the
        notice). Closing never has to drop a reply, or reset the peer: it
        has sent EOF, so no input is left unread."""
        self.ending |= CLOSE_WHEN_DRAINED
        transport = self.transport
        if transport.get_write_buffer_size() == 0:
            transport.close()
        else:
            transport.set_write_buffer_limits(high=0)

    def finish(self):
        """End the connection without a reset: the queued replies, then FIN;
        the peer's further input is read and dropped until its EOF, which
        closes the connection (eof_received). end_now() is the deadline."""
        if self.ending:
            return
        self.ending = WROTE_EOF
        self.transport.resume_reading()   # a paused peer's unread input would mean RST
        self.transport.write_eof()

    def connection_lost(self, exc):
        self.ended(exc)


class UpperEchoProtocol(EchoProtocol):
    """The classic teaching server's variant: replies in upper case."""

    __slots__ = ()

    def data_received(self, data):
        if self.ending:
            return
        self.transport.write(data.upper())
        self.requests += 1
        self.nbytes += len(data)
