"""Model 5: I/O multiplexing with poll() (pymux.select.poll).

    python bench/servers/poll_loop.py --port 0 [--upper]

What blocks: only poll(), which sleeps until a registered socket is ready;
recv() and send() on a ready socket then return at once. One thread serves
every connection. Unlike select() there is no FD_SETSIZE limit, and the
interest set is kept between calls (register/modify change it). The loop,
serve_with(), takes the poll object and its event bits: epoll_lt.py runs it
over epoll.
Weakness: each poll() system call still hands the kernel the whole array of
registered fds, and the kernel checks every one of them, so a wait costs
O(connections) even when a single socket is ready.
"""
import pymux.select as select

import _common
from _conn import Conn

POLLIN, POLLOUT = select.POLLIN, select.POLLOUT


def serve(args, listener):
    serve_with(select.poll(), POLLIN, POLLOUT, args, listener, _common.STOP_CHECK * 1000)


def serve_with(poller, readable, writable, args, listener, timeout):
    """The loop over a poll-like object (register/modify/unregister/poll).

    ``readable`` and ``writable`` are its event bits: POLLIN and POLLOUT here,
    EPOLLIN and EPOLLOUT when epoll_lt.py runs this same loop over epoll;
    ``timeout`` is _common.STOP_CHECK in its poll()'s unit (poll: ms, epoll: s).
    """
    reply = _common.reply_function(args)
    listener.setblocking(False)
    lfd = listener.fileno()
    poller.register(lfd, readable)
    conns = {}                                      # fd -> Conn
    try:
        while True:
            for fd, events in poller.poll(timeout):  # blocks until one is ready (or timeout)
                if fd == lfd:
                    for sock in _common.accept_ready(listener):
                        conns[sock.fileno()] = Conn(sock, readable)
                        poller.register(sock.fileno(), readable)
                    continue
                conn = conns[fd]
                if events & writable:
                    conn.write_once()
                if events & ~writable:               # IN, HUP, ERR: recv tells which
                    conn.read_once(reply)
                # Interest follows the buffer: writable while bytes are unsent,
                # readable while it may read (not after EOF, not above HIGH_WATER).
                mask = conn.wanted(readable, writable)
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
