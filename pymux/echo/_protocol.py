"""One echo connection: echo, backpressure, and how it ends without a reset.

Closing a TCP socket that still has unread input makes the kernel send RST
instead of FIN, and a reset also throws away replies the peer has not read
yet. So a connection the server ends (idle, or shutdown) is finished in
steps: the queued replies go out followed by FIN (write_eof), whatever the
peer still sends is read and dropped until its EOF, and only then is the
socket closed. A peer that neither reads nor closes in time is reset, and
the replies it never got are taken off the totals.
"""
import array
import fcntl
import logging
import termios

from ..reactor import Protocol

logger = logging.getLogger("pymux.echo")

# EchoProtocol.ending: bits, 0 while the connection is served normally.
WROTE_EOF = 1            # finish(): FIN follows the queued replies; input is dropped
CLOSE_WHEN_DRAINED = 2   # the peer sent EOF: close once the queue is empty


class EchoProtocol(Protocol):
    """Writes back what it reads; pauses reading while its replies back up."""

    __slots__ = ("owner", "transport", "counted", "ending", "requests", "nbytes",
                 "seen_requests", "seen_at")

    def __init__(self, owner):
        self.owner = owner
        self.transport = None
        self.counted = False      # in owner.active and, at the end, in the totals
        self.ending = 0
        self.requests = self.nbytes = 0   # replies sent (or queued to be)
        # -1: the first sweep after connecting starts the idle clock, so a
        # new connection is never closed early (and no clock read here).
        self.seen_requests = -1
        self.seen_at = owner.sweep_time

    def connection_made(self, transport):
        owner = self.owner
        self.transport = transport
        if owner.args.max_connections and owner.active >= owner.args.max_connections:
            logger.info("refusing connection: --max-connections reached")
            transport.abort()
            return
        owner.active += 1
        self.counted = True
        transport.set_write_buffer_limits(high=owner.args.max_buffer)
        if logger.isEnabledFor(logging.INFO):
            logger.info("connection from %s", self.peer())
        if owner.finishing():   # accepted from the listen queue at shutdown
            self.finish()

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

    def end_now(self):
        """Out of time: close if every reply has reached the peer, else
        reset and take the replies that never left off the totals."""
        unsent = self.unsent_bytes()
        if unsent:
            self.nbytes -= unsent
            self.transport.abort()
        else:
            self.transport.close()

    def unsent_bytes(self):
        """Reply bytes the peer has not received: those queued here, plus
        those the kernel still holds (TIOCOUTQ: not yet acknowledged; on
        loopback that is exactly what is not in the peer's receive buffer)."""
        transport = self.transport
        queued = transport.get_write_buffer_size()
        sock = transport.get_extra_info("socket")
        if sock is None:
            return queued
        out = array.array("i", [0])
        fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, out)
        in_kernel = out[0]
        if self.ending & WROTE_EOF and queued == 0 and in_kernel:
            in_kernel -= 1   # the FIN queued after the replies takes a sequence number
        return queued + in_kernel

    def connection_lost(self, exc):
        owner = self.owner
        if self.counted:
            self.counted = False
            self.add_to(owner.stats)
            owner.connection_ended()
        if logger.isEnabledFor(logging.INFO):
            logger.info("connection closed (%s requests, %s bytes)%s", self.requests,
                        self.nbytes, f": {exc}" if exc else "")

    def add_to(self, stats):
        stats.connections += 1
        stats.requests += self.requests
        stats.bytes += self.nbytes

    def peer(self):
        return self.transport.get_extra_info("peername") if self.transport else None


class UpperEchoProtocol(EchoProtocol):
    """The classic teaching server's variant: replies in upper case."""

    __slots__ = ()

    def data_received(self, data):
        if self.ending:
            return
        self.transport.write(data.upper())
        self.requests += 1
        self.nbytes += len(data)
