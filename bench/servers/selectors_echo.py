"""Classic selectors callback echo server (the Python docs example, made correct).

    python bench/servers/selectors_echo.py --port 0 [--host H] [--upper]
                                           [--selectors-module stdlib|pymux]

Each registration's ``data`` is the callback to run, as in the docs example.
Unlike the example it is non-blocking throughout, keeps a per-connection
outgoing buffer for partial sends, asks for EVENT_WRITE only while that buffer
is non-empty (and stops reading above a high-water mark), and closes on EOF
or errors. First stdout line: ``listening on HOST:PORT``. SIGINT/SIGTERM stop it.
"""
import argparse
import importlib
import signal
import socket
import sys

HIGH_WATER = 1 << 20        # stop reading a peer while this much is unsent
RECV_SIZE = 65536
EVENT_READ, EVENT_WRITE = 1, 2      # rebound from the chosen selectors module


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upper", action="store_true", help="echo upper-cased bytes")
    p.add_argument("--selectors-module", choices=("stdlib", "pymux"), default="stdlib")
    return p.parse_args(argv)


def load_selectors(which):
    if which == "stdlib":
        return importlib.import_module("selectors")
    try:
        return importlib.import_module("pymux.selectors")
    except ImportError as e:
        sys.exit(f"selectors_echo: --selectors-module pymux needs pymux.selectors, "
                 f"which cannot be imported: {e}")


class Conn:
    """One client: its socket, the bytes still to send back, its interest."""
    __slots__ = ("sel", "sock", "out", "events", "upper")

    def __init__(self, sel, sock, upper):
        self.sel, self.sock, self.upper = sel, sock, upper
        self.out = bytearray()
        self.events = EVENT_READ
        sel.register(sock, EVENT_READ, self.on_event)

    def on_event(self, sock, mask):
        try:
            if mask & EVENT_WRITE:
                del self.out[:sock.send(self.out)]
            if mask & EVENT_READ:
                data = sock.recv(RECV_SIZE)
                if not data:
                    return self.close()
                if self.upper:
                    data = data.upper()
                if self.out:
                    self.out += data
                else:
                    n = sock.send(data)
                    if n < len(data):
                        self.out += data[n:]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            return self.close()
        if not self.out:
            events = EVENT_READ
        elif len(self.out) > HIGH_WATER:
            events = EVENT_WRITE                    # backpressure: stop reading
        else:
            events = EVENT_READ | EVENT_WRITE
        if events != self.events:
            self.sel.modify(sock, events, self.on_event)
            self.events = events

    def close(self):
        try:
            self.sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()


def serve(args):
    global EVENT_READ, EVENT_WRITE
    selectors = load_selectors(args.selectors_module)
    EVENT_READ, EVENT_WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
    sel = selectors.DefaultSelector()

    def accept(lsock, mask):
        for _ in range(128):                        # bounded accepts per wake-up
            try:
                sock, _addr = lsock.accept()
            except OSError:                         # EAGAIN, or EMFILE & co: later
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            Conn(sel, sock, args.upper)

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((args.host, args.port))
    lsock.listen(socket.SOMAXCONN)
    lsock.setblocking(False)
    sel.register(lsock, EVENT_READ, accept)
    host, port = lsock.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    try:
        while True:
            for key, mask in sel.select():
                key.data(key.fileobj, mask)
    except KeyboardInterrupt:
        pass
    finally:
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()


def main(argv=None):
    args = parse_args(argv)
    # SIGINT explicitly too: it may have been inherited as ignored (``cmd &``).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)   # same path as SIGINT
    serve(args)


if __name__ == "__main__":
    main()
