"""Model 6: I/O multiplexing with epoll, level-triggered (pymux.select.epoll).

    python bench/models/epoll_lt.py --port 0 [--upper]

What blocks: only epoll.poll() (epoll_wait), which sleeps until a registered
socket is ready. The interest set lives in the kernel: register/modify
(epoll_ctl) change it, and a wait returns only the ready sockets, so its cost
does not grow with idle connections. Level-triggered: a socket is reported
on every wait for as long as it stays ready, so one recv() per event is enough.
Weakness: changing interest is a system call of its own (epoll_ctl to add or
drop EPOLLOUT around a partial send); it is Linux-only; and like every
single-threaded loop it uses one core.
"""
import pymux.select as select

import _common

EPOLLIN, EPOLLOUT = select.EPOLLIN, select.EPOLLOUT


class Conn:
    __slots__ = ("sock", "out", "eof", "mask")

    def __init__(self, sock):
        self.sock = sock
        self.out = bytearray()      # bytes read but not yet sent back
        self.eof = False            # the peer closed its side: close once out is sent
        self.mask = EPOLLIN          # the events it is registered for


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
    """EPOLLIN while it may read, EPOLLOUT while it has unsent bytes."""
    mask = EPOLLOUT if conn.out else 0
    if not conn.eof and len(conn.out) < _common.HIGH_WATER:
        mask |= EPOLLIN
    return mask


def serve(args, listener):
    reply = _common.reply_function(args)
    listener.setblocking(False)
    lfd = listener.fileno()
    ep = select.epoll()
    ep.register(lfd, EPOLLIN)
    conns = {}                                      # fd -> Conn
    try:
        while True:
            for fd, events in ep.poll():            # seconds; None blocks
                if fd == lfd:
                    for _ in range(64):             # bounded: others are waiting too
                        try:
                            sock, _addr = listener.accept()
                        except OSError:             # EAGAIN, or EMFILE & co: later
                            break
                        sock.setblocking(False)
                        _common.no_delay(sock)
                        conns[sock.fileno()] = Conn(sock)
                        ep.register(sock.fileno(), EPOLLIN)
                    continue
                conn = conns[fd]
                if events & EPOLLOUT:
                    on_writable(conn)
                if events & ~EPOLLOUT:              # EPOLLIN, EPOLLHUP, EPOLLERR: recv tells
                    on_readable(conn, reply)
                mask = wanted_mask(conn)
                if mask == 0:                       # EOF and everything sent: done
                    ep.unregister(fd)
                    del conns[fd]
                    conn.sock.close()
                elif mask != conn.mask:
                    ep.modify(fd, mask)
                    conn.mask = mask
    finally:
        for conn in conns.values():
            conn.sock.close()
        ep.close()


if __name__ == "__main__":
    _common.run(serve, __doc__)
