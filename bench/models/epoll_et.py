"""Model 7: I/O multiplexing with epoll, edge-triggered (pymux.select.epoll, EPOLLET).

    python bench/models/epoll_et.py --port 0 [--upper]

What blocks: only epoll.poll() (epoll_wait). Each socket is registered once
for EPOLLIN | EPOLLOUT | EPOLLET and never modified: the kernel reports a
socket when it *becomes* readable or writable (an edge), not while it stays so.
The contract: on each event, recv() until EAGAIN (and send until EAGAIN or
done), because bytes left behind produce no new event and would sit unread.
Weakness: that contract is easy to break (forget one drain and a connection
hangs silently), and a peer that sends without pause keeps the drain loop on
it while others wait; real loops cap the drain per pass (a budget) and keep a
list of sockets still to drain.
"""
import pymux.select as select

import _common

EPOLLIN, EPOLLOUT, EPOLLET = select.EPOLLIN, select.EPOLLOUT, select.EPOLLET


class Conn:
    __slots__ = ("sock", "out", "eof")

    def __init__(self, sock):
        self.sock = sock
        self.out = bytearray()      # bytes read but not yet sent back
        self.eof = False            # the peer closed its side: close once out is sent


def flush(conn):
    """Send pending bytes until done or EAGAIN (the next EPOLLOUT edge resumes it)."""
    try:
        while conn.out:
            del conn.out[:conn.sock.send(conn.out)]
    except (BlockingIOError, InterruptedError):
        pass
    except OSError:
        conn.out.clear()
        conn.eof = True


def drain(conn, reply):
    """recv until EAGAIN (or EOF), sending each reply at once.

    It stops early only while HIGH_WATER bytes are unsent: those unsent bytes
    mean send() hit EAGAIN, so an EPOLLOUT edge will come, and the EPOLLOUT
    handler calls drain() again for the bytes left unread.
    """
    try:
        while not conn.eof and len(conn.out) < _common.HIGH_WATER:
            data = conn.sock.recv(_common.RECV_SIZE)    # BlockingIOError ends the drain
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


def serve(args, listener):
    reply = _common.reply_function(args)
    listener.setblocking(False)
    lfd = listener.fileno()
    ep = select.epoll()
    ep.register(lfd, EPOLLIN | EPOLLET)
    conns = {}                                      # fd -> Conn
    try:
        while True:
            for fd, events in ep.poll():            # seconds; None blocks
                if fd == lfd:
                    while True:                     # accept until EAGAIN: it is an edge too
                        try:
                            sock, _addr = listener.accept()
                        except (BlockingIOError, InterruptedError):
                            break
                        except OSError:             # EMFILE & co: no new edge will come,
                            break                   # so the next connection retries it
                        sock.setblocking(False)
                        _common.no_delay(sock)
                        conns[sock.fileno()] = Conn(sock)
                        ep.register(sock.fileno(), EPOLLIN | EPOLLOUT | EPOLLET)
                    continue
                conn = conns[fd]
                if events & EPOLLOUT and conn.out:
                    flush(conn)
                # Any event may mean unread bytes: a read edge, a hang-up, or a write
                # edge after drain() stopped at HIGH_WATER. Drain when there is room.
                if len(conn.out) < _common.HIGH_WATER:
                    drain(conn, reply)
                if conn.eof and not conn.out:       # EOF and everything sent: done
                    ep.unregister(fd)
                    del conns[fd]
                    conn.sock.close()
    finally:
        for conn in conns.values():
            conn.sock.close()
        ep.close()


if __name__ == "__main__":
    _common.run(serve, __doc__)
