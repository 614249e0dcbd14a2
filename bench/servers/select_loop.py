"""Model 4: I/O multiplexing with select() (pymux.select.select).

    python bench/servers/select_loop.py --port 0 [--upper]

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
from _conn import Conn

FD_SETSIZE = 1024       # glibc's fixed fd_set size: select() cannot watch larger fds


def accept(listener, conns):
    for sock in _common.accept_ready(listener):
        if sock.fileno() >= FD_SETSIZE:
            print(f"select_loop: refusing a connection: fd {sock.fileno()} >= FD_SETSIZE "
                  f"({FD_SETSIZE}), select() cannot watch it", file=sys.stderr, flush=True)
            sock.close()
            continue
        conns[sock] = Conn(sock)


def serve(args, listener):
    reply = _common.reply_function(args)
    listener.setblocking(False)
    conns = {}                                      # socket -> Conn
    try:
        while True:
            # The interest set is rebuilt and handed over on every call.
            readers = [listener] + [s for s, c in conns.items() if c.may_read()]
            writers = [s for s, c in conns.items() if c.out]
            readable, writable, _ = select.select(readers, writers, [], _common.STOP_CHECK)
            for sock in writable:
                conns[sock].write_once()
            for sock in readable:
                if sock is listener:
                    accept(listener, conns)
                else:
                    conns[sock].read_once(reply)
            for sock in readable + writable:
                conn = conns.get(sock)
                if conn is not None and conn.done():
                    del conns[sock]
                    sock.close()
    finally:
        for sock in conns:
            sock.close()


if __name__ == "__main__":
    _common.run(serve, __doc__)
