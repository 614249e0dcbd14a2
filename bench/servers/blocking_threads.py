"""Model 1: blocking sockets, one thread per connection.

    python bench/servers/blocking_threads.py --port 0 [--upper]

What blocks: the main thread blocks in accept(); each connection's thread
blocks in recv() until its peer sends, then in sendall() until the kernel
has taken the whole reply (sendall loops over partial sends for us).
Weakness: a thread per connection. Each costs a stack and a scheduler entry,
every request is a thread wake-up plus a handoff of Python's GIL (futex
calls), and thousands of threads mostly wait; the code is the simplest there is.
"""
import threading

import _common


def handle(conn, reply, open_conns, lock):
    """Serve one connection until the peer closes it (or it breaks)."""
    try:
        while True:
            data = conn.recv(_common.RECV_SIZE)     # blocks until data or EOF
            if not data:                            # EOF: the peer is done sending
                break
            conn.sendall(reply(data))               # blocks until every byte is queued
    except OSError:                                 # reset by peer, or shut down by us
        pass
    finally:
        with lock:
            open_conns.discard(conn)
        conn.close()


def serve(args, listener):
    reply = _common.reply_function(args)
    open_conns, lock = set(), threading.Lock()
    threads = []
    try:
        while True:
            conn, _addr = _common.accept_blocking(listener)   # blocks until a client connects
            _common.no_delay(conn)
            with lock:
                open_conns.add(conn)
            t = threading.Thread(target=handle, args=(conn, reply, open_conns, lock),
                                 daemon=True)
            t.start()
            threads = [th for th in threads if th.is_alive()] + [t]
    finally:
        # Wake every thread blocked in recv()/sendall() so it can finish.
        with lock:
            _common.shut_down(open_conns)
        for t in threads:
            t.join(timeout=2.0)


if __name__ == "__main__":
    _common.run(serve, __doc__)
