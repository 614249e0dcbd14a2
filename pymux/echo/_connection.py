"""What every echo connection shares, whichever API serves it (the
reactor's Protocol, an asyncio Protocol, asyncio streams): admission under
--max-connections, the counters the idle sweep and the totals read, and the
deadline that ends it (close, or reset with the unsent replies taken off
the totals).

How a connection ends without a reset: closing a TCP socket that still has
unread input makes the kernel send RST instead of FIN, and a reset also
throws away replies the peer has not read yet. So a connection the server
ends (idle, or shutdown) is finished in steps (each API's finish()): the
queued replies go out followed by FIN (write_eof), whatever the peer still
sends is read and dropped until its EOF, and only then is the socket
closed. A peer that neither reads nor closes in time is reset (end_now()).
"""
import array
import fcntl
import logging
import socket
import struct
import termios

logger = logging.getLogger("pymux.echo")

# Connection.ending: bits, 0 while the connection is served normally.
WROTE_EOF = 1            # finish(): FIN follows the queued replies; input is dropped
CLOSE_WHEN_DRAINED = 2   # the peer sent EOF: close once the queue is empty


class Connection:
    """One echo connection's state; the owner is the EchoServer."""

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

    def admit(self, transport):
        """Take the connection on (True), or reset it when --max-connections
        are open already (False)."""
        owner = self.owner
        self.transport = transport
        if owner.args.max_connections and owner.active >= owner.args.max_connections:
            logger.info("refusing connection: --max-connections reached")
            transport.abort()
            return False
        self.counted = True
        owner.connection_started(self)
        transport.set_write_buffer_limits(high=owner.args.max_buffer)
        if logger.isEnabledFor(logging.INFO):
            logger.info("connection from %s", self.peer())
        return True

    def finish(self):
        """End the connection without a reset (see the module docstring)."""
        raise NotImplementedError

    def end_now(self):
        """Out of time: close if every reply has reached the peer, else
        reset and take the replies that never left off the totals."""
        unsent = self.unsent_bytes()
        if unsent:
            self.nbytes -= unsent
            self.reset()
        else:
            self.transport.close()

    def reset(self):
        """abort() with SO_LINGER 0, so the peer sees a reset: asyncio's
        abort() only drops the queued replies and closes, and the kernel
        would still deliver those it holds (the totals would be wrong)."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

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

    def ended(self, exc):
        """The connection is closed: into the totals, once."""
        owner = self.owner
        if self.counted:
            self.counted = False
            self.add_to(owner.stats)
            owner.connection_ended(self)
        if logger.isEnabledFor(logging.INFO):
            logger.info("connection closed (%s requests, %s bytes)%s", self.requests,
                        self.nbytes, f": {exc}" if exc else "")

    def add_to(self, stats):
        stats.connections += 1
        stats.requests += self.requests
        stats.bytes += self.nbytes

    def peer(self):
        return self.transport.get_extra_info("peername") if self.transport else None
