"""Model 7: I/O multiplexing with epoll, edge-triggered (pymux.sys: the system calls, EPOLLET).

    python bench/servers/epoll_et.py --port 0 [--upper]

What blocks: only epoll_wait(). Each socket is added once for EPOLLIN |
EPOLLOUT | EPOLLET and never modified: the kernel reports a socket when it
*becomes* readable or writable (an edge), not while it stays so.
The contract: on each event, recv() until EAGAIN (and send until EAGAIN or
done), because bytes left behind produce no new event and would sit unread.
Weakness: that contract is easy to break (forget one drain and a connection
hangs silently), and a peer that sends without pause keeps the drain loop on
it while others wait; real loops cap the drain per pass (a budget) and keep a
list of sockets still to drain.
"""
import os

from pymux.sys import (EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLLET, EPOLLIN, EPOLLOUT,
                       epoll_create1, epoll_ctl, epoll_events, epoll_wait)

import _common
from _conn import Conn

MAXEVENTS = 64
TIMEOUT_MS = int(_common.STOP_CHECK * 1000)


def serve(args, listener):
    reply = _common.reply_function(args)
    listener.setblocking(False)
    lfd = listener.fileno()
    epfd = epoll_create1(EPOLL_CLOEXEC)
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, EPOLLIN | EPOLLET)
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
                    # Accept until EAGAIN: it is an edge too. After EMFILE & co no
                    # new edge comes for the waiting ones; the next connection retries.
                    for sock in _common.accept_ready(listener, limit=None):
                        conns[sock.fileno()] = Conn(sock)
                        epoll_ctl(epfd, EPOLL_CTL_ADD, sock.fileno(),
                                  EPOLLIN | EPOLLOUT | EPOLLET)
                    continue
                conn = conns[fd]
                if revents & EPOLLOUT and conn.out:
                    conn.flush()                    # send until done or EAGAIN: the next
                                                    # EPOLLOUT edge resumes it
                # Any event may mean unread bytes: a read edge, a hang-up, or a write
                # edge after the drain stopped at HIGH_WATER (those unsent bytes mean
                # send() hit EAGAIN, so that EPOLLOUT edge comes). recv until EAGAIN
                # when there is room: bytes left unread would get no new edge.
                if conn.may_read():
                    conn.drain(reply)
                if conn.done():                     # EOF and everything sent: done
                    epoll_ctl(epfd, EPOLL_CTL_DEL, fd)
                    del conns[fd]
                    conn.sock.close()
    finally:
        for conn in conns.values():
            conn.sock.close()
        os.close(epfd)


if __name__ == "__main__":
    _common.run(serve, __doc__)
