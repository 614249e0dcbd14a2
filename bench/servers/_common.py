"""Plumbing shared by the Python echo servers in bench/servers/.

Only the parts that are not the lesson live here: command-line options, the
listening socket and its ``listening on HOST:PORT`` line (the bench harness
convention), accepting on a non-blocking listener, and stopping on
SIGINT/SIGTERM. The per-connection echo rules of the non-blocking models are
in _conn.py; every model file keeps its own loop (how it waits, what it
registers and when), so it reads on its own.

Every server runs as ``python bench/servers/<name>.py --port P [--upper]``;
port 0 picks a free port.
"""
import argparse
import signal
import socket
import sys

RECV_SIZE = 65536       # bytes asked for per recv()
HIGH_WATER = 1 << 20    # readiness models stop reading a peer while this much is unsent
# The longest a readiness model's wait lasts. Python runs a signal handler
# between bytecodes, so a stop signal that lands just before a wait begins is
# acted on only when the wait returns (seen on PyPy, about once in a few
# hundred starts): the waits time out this often, as socketserver's
# serve_forever() polls every 0.5 s.
STOP_CHECK = 0.5        # seconds


def parse_args(doc, extra=None, argv=None):
    """--host, --port, --upper, plus the model's own options added by ``extra(parser)``."""
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8088, help="0 picks a free port")
    p.add_argument("--upper", action="store_true",
                   help="reply in upper case, like the classic teaching server")
    if extra is not None:
        extra(p)
    return p.parse_args(argv)


def listen(args, backlog=socket.SOMAXCONN):
    """A bound, listening TCP socket; prints ``listening on HOST:PORT`` (flushed)."""
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(backlog)
    host, port = sock.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    return sock


def reply_function(args):
    """What the server sends back for a chunk it read: the chunk, or its upper case.

    Upper-casing works chunk by chunk because it maps each byte on its own.
    """
    return bytes.upper if args.upper else _same


def _same(data):
    return data


def no_delay(sock):
    """Disable Nagle: an echo reply split over two sends must not wait for an ACK."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def shut_down(conns):
    """shutdown(SHUT_RDWR) each connection: a thread blocked in recv() or
    sendall() on it returns (the blocking models' way to stop their threads)."""
    for conn in conns:
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def accept_ready(listener, limit=64):
    """Yield the connections waiting on a non-blocking listener, each non-blocking
    and with TCP_NODELAY.

    Stops at EAGAIN, at an error (EMFILE & co: the caller tries again on its
    next pass or event), or after ``limit`` connections (bounded: others are
    waiting too; None: until EAGAIN).
    """
    accepted = 0
    while limit is None or accepted < limit:
        try:
            sock, _addr = listener.accept()
        except OSError:                 # BlockingIOError (EAGAIN), EMFILE & co
            return
        sock.setblocking(False)
        no_delay(sock)
        accepted += 1
        yield sock


def accept_blocking(listener):
    """listener.accept() for the blocking models, which a stop signal ends.

    The wait gives up every STOP_CHECK seconds and starts again, so a signal
    is acted on even when it lands just before accept() begins, or is
    delivered to a worker thread (then the main thread's accept() is not
    interrupted and, without a timeout, would wait for the next client).
    The accepted socket is blocking, as a plain accept() gives it.
    """
    listener.settimeout(STOP_CHECK)
    while True:
        try:
            conn, addr = listener.accept()
        except socket.timeout:     # TimeoutError from 3.10 on; PyPy implements 3.9
            continue
        conn.setblocking(True)
        return conn, addr


def stop_on_sigint_and_sigterm():
    """Make SIGINT and SIGTERM raise KeyboardInterrupt.

    SIGINT too, explicitly: a process started with SIGINT ignored (a shell's
    background job, ``cmd &``) inherits SIG_IGN, and Python then leaves it
    ignored, so Ctrl-C would not stop the server.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def run(serve, doc, extra=None, setup=None):
    """Parse options, listen, run ``serve(args, listener)`` until SIGINT/SIGTERM.

    ``setup(args)``, if given, runs before the socket is bound: whatever can
    fail at start-up fails there, before the ``listening on`` line.
    SIGINT and SIGTERM both raise KeyboardInterrupt, so they take the same
    path: the exception leaves the model's wait (accept, select, poll, ...),
    the model's ``finally`` closes its connections, and the process exits 0.
    """
    args = parse_args(doc, extra)
    if setup is not None:
        setup(args)
    stop_on_sigint_and_sigterm()
    try:
        # Inside the try: a signal may come as soon as the line is printed.
        with listen(args) as listener:
            serve(args, listener)
    except KeyboardInterrupt:
        pass
    sys.exit(0)
