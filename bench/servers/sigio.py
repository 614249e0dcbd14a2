"""Model 10: signal-driven I/O (O_ASYNC + F_SETOWN: the kernel sends SIGIO).

    python bench/servers/sigio.py --port 0 [--upper]

What blocks: only sigwait(). Every socket is non-blocking with O_ASYNC set
and this process as owner (F_SETOWN), so the kernel sends SIGIO when data, a
connection, a FIN or send-buffer space arrives. SIGIO, SIGINT and SIGTERM are
blocked and taken synchronously by sigwait() (rt_sigtimedwait(2), as with
sigwaitinfo(), which PyPy lacks): no code runs in a handler.
After a SIGIO the loop tries every socket (accept, recv, send) until a whole
pass finds nothing, then waits again; a SIGIO raised meanwhile stays pending,
so no wake-up is lost.
Weakness: SIGIO says "something happened", not where. Standard signals do not
queue (many events, one SIGIO) and Python gets no si_fd (even sigwaitinfo()'s
siginfo lacks it), so every wake-up scans every connection. (In C, F_SETSIG
with a real-time signal queues one signal per event with si_fd, until that
queue overflows.) UNP chapter 25
calls it nearly useless for TCP: it fires for too many conditions to tell apart.
"""
import fcntl
import os
import signal

import _common
from _conn import Conn

WAKE = {signal.SIGIO, signal.SIGINT, signal.SIGTERM}


def signal_driven(sock):
    """Non-blocking, and SIGIO to this process when the socket's state changes."""
    sock.setblocking(False)
    fd = sock.fileno()
    fcntl.fcntl(fd, fcntl.F_SETOWN, os.getpid())
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_ASYNC)


def serve(args, listener):
    reply = _common.reply_function(args)
    # Block the signals before any socket can raise SIGIO (its default action
    # kills the process); blocked, they wait for sigwait() below.
    signal.pthread_sigmask(signal.SIG_BLOCK, WAKE)
    signal_driven(listener)
    conns = []
    try:
        while True:
            did = True
            while did:                                  # until a pass finds nothing
                did = False
                for sock in _common.accept_ready(listener):
                    signal_driven(sock)                 # data that came before this is
                    conns.append(Conn(sock))            # found by the pass, not a signal
                    did = True
                still_open = []
                for conn in conns:
                    did = conn.try_once(reply) or did     # send pending, recv once
                    if conn.done():
                        conn.sock.close()
                    else:
                        still_open.append(conn)
                conns = still_open
            if signal.sigwait(WAKE) != signal.SIGIO:    # sleep until the kernel signals;
                return                                  # SIGINT or SIGTERM: stop
    finally:
        for conn in conns:
            conn.sock.close()


if __name__ == "__main__":
    _common.run(serve, __doc__)
