"""Model 5: I/O multiplexing with poll() (pymux.sys.poll: the system call).

    python bench/servers/poll_loop.py --port 0 [--upper]

What blocks: only poll(), which sleeps until an fd in its array of struct
pollfd is ready; recv() and send() on a ready socket then return at once.
One thread serves every connection. The loop is the classic C one: an
array of {fd, events, revents}, the listener at index 0, each connection's
events set to what it waits for; after poll() returns, every entry's
revents is read; a closed connection's slot gets the last entry (swap-remove).
Unlike select() there is no FD_SETSIZE limit, and the array is kept between
calls (events changes it in place).
Weakness: each poll() system call still hands the kernel the whole array,
and the kernel checks every fd in it, and the loop reads every revents, so
a wait costs O(connections) even when a single socket is ready.
"""
from pymux.sys import POLLIN, POLLOUT, poll, pollfd_array

import _common
from _conn import Conn

TIMEOUT_MS = int(_common.STOP_CHECK * 1000)


def grown(fds, nfds):
    """A pollfd array twice as long holding the first nfds entries."""
    bigger = pollfd_array(2 * len(fds))
    bigger[0:nfds] = fds[0:nfds]
    return bigger


def serve(args, listener):
    reply = _common.reply_function(args)
    listener.setblocking(False)
    fds = pollfd_array(64)
    fds[0].fd, fds[0].events = listener.fileno(), POLLIN
    nfds = 1
    conns = [None]                                  # conns[i]: the Conn at fds[i]
    try:
        while True:
            try:
                poll(fds, nfds, TIMEOUT_MS)         # blocks until one is ready (or timeout)
            except InterruptedError:                # a signal: its handler runs, then retry
                continue
            # Backwards, so that a swap-remove moves an entry already seen.
            for i in range(nfds - 1, 0, -1):
                revents = fds[i].revents
                if not revents:
                    continue
                conn = conns[i]
                # Interest follows the buffer: writable while bytes are unsent,
                # readable while it may read (not after EOF, not above HIGH_WATER).
                events = conn.on_ready(revents, POLLIN, POLLOUT, reply)
                if events == 0:                     # EOF and everything sent: done
                    conn.sock.close()
                    nfds -= 1
                    fds[i] = fds[nfds]
                    conns[i] = conns[nfds]
                    conns.pop()
                else:
                    fds[i].events = events
            if fds[0].revents:
                for sock in _common.accept_ready(listener):
                    if nfds == len(fds):
                        fds = grown(fds, nfds)
                    fds[nfds].fd, fds[nfds].events = sock.fileno(), POLLIN
                    fds[nfds].revents = 0
                    conns.append(Conn(sock))
                    nfds += 1
    finally:
        for conn in conns[1:]:
            conn.sock.close()


if __name__ == "__main__":
    _common.run(serve, __doc__)
