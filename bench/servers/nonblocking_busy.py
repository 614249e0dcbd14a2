"""Model 3: non-blocking sockets and a busy polling loop over every connection.

    python bench/servers/nonblocking_busy.py --port 0 [--upper] [--sleep SECONDS]

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
from _conn import Conn


def serve(args, listener):
    reply = _common.reply_function(args)
    listener.setblocking(False)
    conns = []
    try:
        while True:
            did = False
            for sock in _common.accept_ready(listener):    # accept what is waiting, bounded
                conns.append(Conn(sock))
                did = True
            still_open = []
            for conn in conns:                          # try every connection, ready or not
                # send what is pending, then recv once: EAGAIN when nothing came
                did = conn.try_once(reply) or did
                if conn.done():                         # peer gone and all sent: close
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
