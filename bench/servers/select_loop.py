"""Model 4: I/O multiplexing with select() (pymux.sys.select: the system call).

    python bench/servers/select_loop.py --port 0 [--upper]

What blocks: only select(), which sleeps until one of the fds in its sets is
readable (or writable, for those with unsent bytes); recv() and send() on a
ready socket then return at once. One thread serves every connection.
The loop is the classic C one: FD_ZERO the sets, FD_SET every fd of
interest, select(maxfd + 1, ...), then FD_ISSET every fd to find the ready
ones (the kernel overwrote the sets with the answer).
Weakness: every call passes the whole interest set in and gets it back, so
each wait costs O(connections) in Python and in the kernel even when one
socket is ready; and select() cannot watch fd numbers >= FD_SETSIZE (1024),
so this server turns away connections whose fd would not fit.
"""
import sys

from pymux.sys import FD_ISSET, FD_SET, FD_SETSIZE, FD_ZERO, fd_set, select

import _common
from _conn import Conn


def accept(listener, conns):
    for sock in _common.accept_ready(listener):
        if sock.fileno() >= FD_SETSIZE:
            print(f"select_loop: refusing a connection: fd {sock.fileno()} >= FD_SETSIZE "
                  f"({FD_SETSIZE}), select() cannot watch it", file=sys.stderr, flush=True)
            sock.close()
            continue
        conns[sock.fileno()] = Conn(sock)


def serve(args, listener):
    reply = _common.reply_function(args)
    listener.setblocking(False)
    lfd = listener.fileno()
    conns = {}                                      # fd -> Conn
    rfds, wfds = fd_set(), fd_set()
    try:
        while True:
            # The interest set is rebuilt and handed over on every call.
            FD_ZERO(rfds)
            FD_ZERO(wfds)
            FD_SET(lfd, rfds)
            maxfd = lfd
            for fd, conn in conns.items():
                if conn.may_read():
                    FD_SET(fd, rfds)
                if conn.out:
                    FD_SET(fd, wfds)
                maxfd = max(maxfd, fd)
            try:
                select(maxfd + 1, rfds, wfds, None, _common.STOP_CHECK)
            except InterruptedError:                # a signal: its handler runs, then retry
                continue
            # Only the ready fds' bits are left: test every one of them.
            for fd, conn in list(conns.items()):
                if FD_ISSET(fd, wfds):
                    conn.write_once()
                if FD_ISSET(fd, rfds):
                    conn.read_once(reply)
                if conn.done():                     # EOF and everything sent
                    del conns[fd]
                    conn.sock.close()
            if FD_ISSET(lfd, rfds):
                accept(listener, conns)
    finally:
        for conn in conns.values():
            conn.sock.close()


if __name__ == "__main__":
    _common.run(serve, __doc__)
