"""Model 11: asynchronous I/O, completion-based (io_uring, pymux.uring).

    python bench/servers/uring.py --port 0 [--upper]

The other models ask "which socket is ready?" and then do the I/O
themselves; this one hands the kernel the I/O to do and is told when it is
done. Three kinds of operation are in flight, each tagged with its
connection's fd and kind (user_data = fd << 2 | kind):

- one multishot accept on the listener: a completion per new connection;
- per connection, one multishot recv into provided buffers: a completion
  each time data arrives, with the bytes in one of the ring's buffers;
- per connection, at most one send of the reply; what arrives meanwhile
  queues behind it (in order), and goes out in the next send.

What blocks: only Ring.wait() (io_uring_enter), which submits every
operation prepared since the last one and sleeps until at least one
completes: one system call per loop pass, however many sockets it serves.
Where the data is copied: the kernel copies received bytes from the socket
into a provided buffer (a pool the ring shares with the kernel, taken only
when data arrives: no buffer per idle connection); received() copies them
into a bytes object before the next wait gives the buffer back; the send
hands the kernel that object (pinned until its completion), and the kernel
copies it into the socket. Backpressure: while HIGH_WATER bytes are unsent
the connection's recv is cancelled, and it is armed again once they are
sent; a connection is closed only when none of its operations is in flight
(its fd could otherwise be reused under them).
Weakness: Linux-only and new (multishot recv with provided buffers: 6.0),
often refused by container seccomp profiles; the code is a state machine
per connection rather than a loop over ready sockets; in Python the saving
in system calls is small next to the interpreter's own cost per request.
"""
import errno
import socket

from pymux.uring import CQE_F_MORE, Ring

import _common

ACCEPT, RECV, SEND, AUX = range(4)   # AUX: a cancel, or the accept retry timer
# Sized for the study's 1000 connections, each with a request in flight:
# a completion per connection fits in one pass of the completion queue, and
# there is a provided buffer for each arrival. With 256 entries and 128
# buffers, 1000 connections made multishot recvs end with -ENOBUFS and the
# completion queue overflow pass after pass: a third of the requests per
# second and three times the CPU per request of the epoll loop, with some
# connections starved (64 B x 1000; at parity with it now).
ENTRIES = 1024                  # submission slots (the completion queue has twice as many)
BUFFERS, BUFFER_SIZE = 1024, 16384   # the provided-buffer pool: 16 MiB
ACCEPT_RETRY = 0.1              # seconds before accepting again after EMFILE & co


class Conn:
    """One connection's state: what it has in flight, and what waits to be sent."""

    __slots__ = ("sock", "fd", "reading", "cancelling", "sending", "out", "eof")

    def __init__(self, sock):
        self.sock, self.fd = sock, sock.fileno()
        self.reading = False        # its multishot recv is in flight
        self.cancelling = False     # ... and a cancel of it too
        self.sending = None         # the bytes of the send in flight, if any
        self.out = bytearray()      # replies waiting for that send to complete
        self.eof = False            # end of stream or an error: close when idle

    def unsent(self):
        return len(self.out) + len(self.sending or b"")


class Server:
    def __init__(self, ring, listener, reply):
        self.ring, self.listener, self.reply = ring, listener, reply
        self.lfd = listener.fileno()
        self.conns = {}             # fd -> Conn

    def prep(self, prepare, *args, **options):
        """ring.prep_*(); when the submission queue is full, submit it first."""
        try:
            prepare(*args, **options)
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            self.ring.submit()
            prepare(*args, **options)

    def accept(self):
        self.prep(self.ring.prep_accept, self.listener, self.lfd << 2 | ACCEPT, multishot=True)

    def recv(self, conn):
        self.prep(self.ring.prep_recv_multishot, conn.fd, conn.fd << 2 | RECV)
        conn.reading = True

    def cancel_recv(self, conn):
        self.prep(self.ring.prep_cancel, conn.fd << 2 | RECV, conn.fd << 2 | AUX)
        conn.cancelling = True

    def send(self, conn, data):
        conn.sending = data         # the ring pins it until the send completes
        self.prep(self.ring.prep_send, conn.fd, data, conn.fd << 2 | SEND)

    def run(self):
        self.accept()
        ring, conns, lfd = self.ring, self.conns, self.lfd
        while True:
            # The one blocking call: submit what was prepared, wait for completions.
            for user_data, res, flags in ring.wait(1, _common.STOP_CHECK):
                fd, kind = user_data >> 2, user_data & 3
                if kind == ACCEPT:
                    self.accepted(res, flags)
                elif kind == AUX:
                    if fd == lfd:       # the accept retry timer expired
                        self.accept()
                else:
                    conn = conns[fd]
                    if kind == RECV:
                        self.received(conn, res, flags)
                    else:
                        self.sent(conn, res)
                    self.settle(conn)

    def accepted(self, res, flags):
        if res >= 0:
            sock = socket.socket(fileno=res)
            _common.no_delay(sock)
            conn = self.conns[res] = Conn(sock)
            self.recv(conn)
        if not flags & CQE_F_MORE:      # the multishot accept ended: arm it again,
            if res < 0:                 # after a pause if it failed (EMFILE & co)
                self.prep(self.ring.prep_timeout, ACCEPT_RETRY, self.lfd << 2 | AUX)
            else:
                self.accept()

    def received(self, conn, res, flags):
        if res > 0:
            data = self.reply(self.ring.received(res, flags))   # copied out of the buffer
            if conn.sending is None:
                self.send(conn, data)
            else:
                conn.out += data        # queued behind the send in flight
        if not flags & CQE_F_MORE:      # the multishot recv ended
            conn.reading = conn.cancelling = False
            if res == 0 or (res < 0 and res not in (-errno.ENOBUFS, -errno.ECANCELED)):
                conn.eof = True         # end of stream, or reset: nothing more comes

    def sent(self, conn, res):
        data, conn.sending = conn.sending, None
        if res < 0:                     # reset, broken pipe: drop what is unsent
            conn.out.clear()
            conn.eof = True
            return
        rest = data[res:]               # a partial send: its rest goes first
        if conn.out:
            rest, conn.out = rest + conn.out, bytearray()
        if rest:
            self.send(conn, bytes(rest))

    def settle(self, conn):
        """Arm or cancel the recv after the backpressure rule; close when idle."""
        if conn.eof:
            if conn.reading:
                if not conn.cancelling:
                    self.cancel_recv(conn)
            elif conn.sending is None:  # nothing in flight: its fd may go
                del self.conns[conn.fd]
                conn.sock.close()
            return
        crowded = conn.unsent() >= _common.HIGH_WATER
        if crowded and conn.reading and not conn.cancelling:
            self.cancel_recv(conn)
        elif not crowded and not conn.reading:
            self.recv(conn)


def serve(args, listener):
    ring = Ring(ENTRIES)
    server = Server(ring, listener, _common.reply_function(args))
    try:
        ring.setup_buffers(BUFFERS, BUFFER_SIZE)
        server.run()
    finally:
        ring.close()                    # cancels and collects what is in flight first
        for conn in server.conns.values():
            conn.sock.close()


if __name__ == "__main__":
    _common.run(serve, __doc__)
