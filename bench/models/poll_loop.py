"""Model 5: I/O multiplexing with poll() (pymux.select.poll).

    python bench/models/poll_loop.py --port 0 [--upper]

What blocks: only poll(), which sleeps until a registered socket is ready;
recv() and send() on a ready socket then return at once. One thread serves
every connection. Unlike select() there is no FD_SETSIZE limit, and the
interest set is kept between calls (register/modify change it).
Weakness: each poll() system call still hands the kernel the whole array of
registered fds, and the kernel checks every one of them, so a wait costs
O(connections) even when a single socket is ready.
"""
import pymux.select as select

import _common

POLLIN, POLLOUT = select.POLLIN, select.POLLOUT


class Conn:
    __slots__ = ("sock", "out", "eof", "mask")

    def __init__(self, sock):
        self.sock = sock
        self.out = bytearray()      # bytes read but not yet sent back
        self.eof = False            # the peer closed its side: close once out is sent
        self.mask = POLLIN          # the events it is registered for


def on_readable(conn, reply):
    """recv once; send the reply at once and keep what the kernel did not take."""
    try:
        data = conn.sock.recv(_common.RECV_SIZE)
        if not data:
            conn.eof = True
            return
        data = reply(data)
        if not conn.out:
            data = data[conn.sock.send(data):]
        conn.out += data
    except (BlockingIOError, InterruptedError):
        pass
    except OSError:                 # reset by peer, broken pipe: drop the connection
        conn.out.clear()
        conn.eof = True


def on_writable(conn):
    try:
        del conn.out[:conn.sock.send(conn.out)]
    except (BlockingIOError, InterruptedError):
        pass
    except OSError:
        conn.out.clear()
        conn.eof = True


def wanted_mask(conn):
    """POLLIN while it may read, POLLOUT while it has unsent bytes."""
    mask = POLLOUT if conn.out else 0
    if not conn.eof and len(conn.out) < _common.HIGH_WATER:
        mask |= POLLIN
    return mask


def serve(args, listener):
    reply = _common.reply_function(args)
    listener.setblocking(False)
    lfd = listener.fileno()
    poller = select.poll()
    poller.register(lfd, POLLIN)
    conns = {}                                      # fd -> Conn
    try:
        while True:
            for fd, events in poller.poll():        # milliseconds; None blocks
                if fd == lfd:
                    for _ in range(64):             # bounded: others are waiting too
                        try:
                            sock, _addr = listener.accept()
                        except OSError:             # EAGAIN, or EMFILE & co: later
                            break
                        sock.setblocking(False)
                        _common.no_delay(sock)
                        conns[sock.fileno()] = Conn(sock)
                        poller.register(sock.fileno(), POLLIN)
                    continue
                conn = conns[fd]
                if events & POLLOUT:
                    on_writable(conn)
                if events & ~POLLOUT:               # POLLIN, POLLHUP, POLLERR: recv tells
                    on_readable(conn, reply)
                mask = wanted_mask(conn)
                if mask == 0:                       # EOF and everything sent: done
                    poller.unregister(fd)
                    del conns[fd]
                    conn.sock.close()
                elif mask != conn.mask:
                    poller.modify(fd, mask)
                    conn.mask = mask
    finally:
        for conn in conns.values():
            conn.sock.close()


if __name__ == "__main__":
    _common.run(serve, __doc__)
