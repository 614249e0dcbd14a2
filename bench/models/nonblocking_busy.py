"""Model 3: non-blocking sockets and a busy polling loop over every connection.

    python bench/models/nonblocking_busy.py --port 0 [--upper] [--sleep SECONDS]

What blocks: nothing. Every socket is setblocking(False); the loop tries
accept(), then tries recv() (and sends what is pending) on every connection,
catching BlockingIOError (EAGAIN) from each one that has nothing to give.
With --sleep S (the classic teaching version's time.sleep) it sleeps S
seconds after a pass that found nothing to do.
Weakness: without --sleep it burns a whole CPU even when idle, and every pass
costs one failing system call per connection, so the work per request grows
with the number of idle connections; with --sleep it adds up to S of latency.
"""
import time

import _common


class Conn:
    __slots__ = ("sock", "out", "eof")

    def __init__(self, sock):
        self.sock = sock
        self.out = bytearray()      # bytes read but not yet sent back
        self.eof = False            # the peer closed its side: close once out is sent


def try_connection(conn, reply):
    """One polling attempt on one connection: True if it did any work."""
    did = False
    try:
        if conn.out:                                    # finish an earlier partial send
            n = conn.sock.send(conn.out)
            del conn.out[:n]
            did = n > 0
        if not conn.eof and len(conn.out) < _common.HIGH_WATER:
            data = conn.sock.recv(_common.RECV_SIZE)    # BlockingIOError when nothing came
            did = True
            if not data:
                conn.eof = True
            elif conn.out:                              # keep the bytes in order
                conn.out += reply(data)
            else:
                data = reply(data)
                conn.out += data[conn.sock.send(data):]  # keep what the kernel did not take
    except (BlockingIOError, InterruptedError):
        pass
    except OSError:                                     # reset by peer, broken pipe
        conn.out.clear()
        conn.eof = True
    return did


def serve(args, listener):
    reply = _common.reply_function(args)
    listener.setblocking(False)
    conns = []
    try:
        while True:
            did = False
            for _ in range(64):                         # accept what is waiting, bounded
                try:
                    sock, _addr = listener.accept()     # BlockingIOError when nobody waits
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:                         # EMFILE & co: try again next pass
                    break
                sock.setblocking(False)
                _common.no_delay(sock)
                conns.append(Conn(sock))
                did = True
            still_open = []
            for conn in conns:                          # try every connection, ready or not
                did = try_connection(conn, reply) or did
                if conn.eof and not conn.out:           # peer gone and all sent: close
                    conn.sock.close()
                else:
                    still_open.append(conn)
            conns = still_open
            if not did and args.sleep:
                time.sleep(args.sleep)                  # the classic fix: poll less often
    finally:
        for c in conns:
            c.sock.close()


def add_options(p):
    p.add_argument("--sleep", type=float, default=0.0,
                   help="seconds to sleep after a pass that found nothing to do (default 0: spin)")


if __name__ == "__main__":
    _common.run(serve, __doc__, add_options)
