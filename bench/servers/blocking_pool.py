"""Model 2: blocking sockets served by a fixed pool of threads.

    python bench/servers/blocking_pool.py --port 0 [--upper] [--threads 16]

What blocks: the main thread blocks in accept() and hands each connection to
a pool of --threads workers; a worker blocks in recv()/sendall() on its
connection until the peer closes it, then takes the next queued connection.
Weakness: a worker is tied to a connection for the connection's whole life,
so with more open connections than threads the extra ones wait in the queue
and get no reply at all (starvation) until some other client disconnects.
The pool bounds the threads, not the waiting.
"""
import queue
import threading

import _common

STOP = None     # queue sentinel: a worker that takes it exits


def worker(jobs, reply, busy, lock, stopping):
    while True:
        conn = jobs.get()                           # blocks until a connection is queued
        if conn is STOP:
            return
        with lock:
            if stopping.is_set():                   # shutting down: do not start on it
                conn.close()
                continue
            busy.add(conn)
        try:
            while True:
                data = conn.recv(_common.RECV_SIZE)     # blocks: this worker is now taken
                if not data:
                    break
                conn.sendall(reply(data))
        except OSError:
            pass
        finally:
            with lock:
                busy.discard(conn)
            conn.close()


def add_options(p):
    p.add_argument("--threads", type=int, default=16, help="worker threads (default 16)")


def serve(args, listener):
    reply = _common.reply_function(args)
    jobs = queue.SimpleQueue()          # accepted connections no worker has taken yet
    busy, lock, stopping = set(), threading.Lock(), threading.Event()
    workers = [threading.Thread(target=worker, args=(jobs, reply, busy, lock, stopping),
                                daemon=True)
               for _ in range(max(1, args.threads))]
    for t in workers:
        t.start()
    try:
        while True:
            conn, _addr = _common.accept_blocking(listener)   # blocks until a client connects
            _common.no_delay(conn)
            jobs.put(conn)                          # waits here while all workers are taken
    finally:
        with lock:                                  # wake workers blocked on a connection
            stopping.set()
            _common.shut_down(busy)
        for _ in workers:
            jobs.put(STOP)
        for t in workers:
            t.join(timeout=2.0)
        while True:                                 # connections that never got a worker
            try:
                conn = jobs.get_nowait()
            except queue.Empty:
                break
            if conn is not STOP:
                conn.close()


if __name__ == "__main__":
    _common.run(serve, __doc__, add_options)
