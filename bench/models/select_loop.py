"""Model 4: I/O multiplexing with select() (pymux.select.select).

    python bench/models/select_loop.py --port 0 [--upper]

What blocks: only select(), which sleeps until one of the sockets it is given
is readable (or writable, for those with unsent bytes); recv() and send() on
a ready socket then return at once. One thread serves every connection.
Weakness: every call passes the whole interest set in and gets it back, so
each wait costs O(connections) in Python and in the kernel even when one
socket is ready; and select() cannot watch fd numbers >= FD_SETSIZE (1024),
so this server turns away connections whose fd would not fit.
"""
import sys

import pymux.select as select

import _common

FD_SETSIZE = 1024       # glibc's fixed fd_set size: select() cannot watch larger fds


class Conn:
    __slots__ = ("sock", "out", "eof")

    def __init__(self, sock):
        self.sock = sock
        self.out = bytearray()      # bytes read but not yet sent back
        self.eof = False            # the peer closed its side: close once out is sent


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


def accept(listener, conns):
    for _ in range(64):                             # bounded: others are waiting too
        try:
            sock, _addr = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:                             # EMFILE & co: try again later
            return
        if sock.fileno() >= FD_SETSIZE:
            print(f"select_loop: refusing a connection: fd {sock.fileno()} >= FD_SETSIZE "
                  f"({FD_SETSIZE}), select() cannot watch it", file=sys.stderr, flush=True)
            sock.close()
            continue
        sock.setblocking(False)
        _common.no_delay(sock)
        conns[sock] = Conn(sock)


def serve(args, listener):
    reply = _common.reply_function(args)
    listener.setblocking(False)
    conns = {}                                      # socket -> Conn
    try:
        while True:
            # The interest set is rebuilt and handed over on every call.
            readers = [listener] + [s for s, c in conns.items()
                                    if not c.eof and len(c.out) < _common.HIGH_WATER]
            writers = [s for s, c in conns.items() if c.out]
            readable, writable, _ = select.select(readers, writers, [])
            for sock in writable:
                on_writable(conns[sock])
            for sock in readable:
                if sock is listener:
                    accept(listener, conns)
                else:
                    on_readable(conns[sock], reply)
            for sock in readable + writable:
                conn = conns.get(sock)
                if conn is not None and conn.eof and not conn.out:
                    del conns[sock]
                    sock.close()
    finally:
        for sock in conns:
            sock.close()


if __name__ == "__main__":
    _common.run(serve, __doc__)
