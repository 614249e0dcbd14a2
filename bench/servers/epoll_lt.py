"""Model 6: I/O multiplexing with epoll, level-triggered (pymux.sys: the system calls).

    python bench/servers/epoll_lt.py --port 0 [--upper]

What blocks: only epoll_wait(), which sleeps until a registered socket is
ready. The interest set lives in the kernel: epoll_ctl(ADD/MOD/DEL) changes
it, and a wait returns only the ready sockets, so its cost does not grow
with idle connections. Level-triggered: a socket is reported on every wait
for as long as it stays ready, so one recv() per event is enough. The loop
is the classic C one: epoll_create1, epoll_ctl(ADD) the listener and each
accepted socket, epoll_wait into an events array, handle the n it returns.
Weakness: changing interest is a system call of its own (epoll_ctl(MOD) to
add or drop EPOLLOUT around a partial send); it is Linux-only; and like
every single-threaded loop it uses one core.
"""
import os

from pymux.sys import (EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, EPOLLIN,
                       EPOLLOUT, epoll_create1, epoll_ctl, epoll_events, epoll_wait)

import _common
from _conn import Conn

MAXEVENTS = 64
TIMEOUT_MS = int(_common.STOP_CHECK * 1000)


def serve(args, listener):
    reply = _common.reply_function(args)
    listener.setblocking(False)
    lfd = listener.fileno()
    epfd = epoll_create1(EPOLL_CLOEXEC)
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, EPOLLIN)
    events = epoll_events(MAXEVENTS)
    conns = {}                                      # fd -> Conn
    try:
        while True:
            try:
                n = epoll_wait(epfd, events, MAXEVENTS, TIMEOUT_MS)
            except InterruptedError:                # a signal: its handler runs, then retry
                continue
            for i in range(n):
                fd, revents = events.fds[i], events.events[i]
                if fd == lfd:
                    for sock in _common.accept_ready(listener):
                        conns[sock.fileno()] = Conn(sock, EPOLLIN)
                        epoll_ctl(epfd, EPOLL_CTL_ADD, sock.fileno(), EPOLLIN)
                    continue
                conn = conns[fd]
                # Interest follows the buffer, as in poll_loop.py, but each change
                # is an epoll_ctl(MOD) system call.
                mask = conn.on_ready(revents, EPOLLIN, EPOLLOUT, reply)
                if mask == 0:                       # EOF and everything sent: done
                    epoll_ctl(epfd, EPOLL_CTL_DEL, fd)
                    del conns[fd]
                    conn.sock.close()
                elif mask != conn.mask:
                    epoll_ctl(epfd, EPOLL_CTL_MOD, fd, mask)
                    conn.mask = mask
    finally:
        for conn in conns.values():
            conn.sock.close()
        os.close(epfd)


if __name__ == "__main__":
    _common.run(serve, __doc__)
