"""Model 8: the selectors callback server (pymux.selectors), as in the Python docs.

    python bench/servers/selectors_callbacks.py --port 0 [--upper] [--stdlib] [--inline]

What blocks: only sel.select(), which waits with the best mechanism the
platform has (DefaultSelector is epoll on Linux, level-triggered). Each
registration carries its callback in ``data`` (accept for the listener, the
connection's handler for a client); the loop calls key.data(key.fileobj, mask)
for every ready key, the shape of every callback event loop.
Weakness: the convenience costs Python work per event (a SelectorKey lookup
and a callback call on top of the epoll wait), and the callback style spreads
one connection's logic over several functions.

With --inline the callback keeps the same per-connection rules as _conn.py
but written out in one function, with no method call per event: about 0.6 us
less Python work per request here. bench_echo.py compares pymux with this
version (plain Python at its fastest); the study runs the default, so that
its models differ only in how they wait.
"""
import importlib
import sys

import _common
from _conn import Conn

# The --inline callback reads these on every event: module globals are the
# quickest names. setup() binds the event bits to the chosen module's.
EVENT_READ = EVENT_WRITE = None
RECV_SIZE, HIGH_WATER = _common.RECV_SIZE, _common.HIGH_WATER


def load_selectors(use_stdlib):
    """pymux.selectors (the stdlib module with --stdlib); a clear exit when it is missing."""
    name = "selectors" if use_stdlib else "pymux.selectors"
    try:
        return importlib.import_module(name)
    except ImportError as e:
        sys.exit(f"selectors_callbacks: this model runs on pymux.selectors, which cannot be "
                 f"imported ({type(e).__name__}: {e}); run it with --stdlib to use the "
                 f"standard library's selectors instead")


class Client(Conn):
    """A Conn (_conn.py) plus what its callback needs: the selector, the reply, the event bits."""
    __slots__ = ("sel", "reply", "EVENT_READ", "EVENT_WRITE")

    def __init__(self, selectors, sel, sock, reply):
        super().__init__(sock, selectors.EVENT_READ)
        self.sel, self.reply = sel, reply
        self.EVENT_READ, self.EVENT_WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
        sel.register(sock, self.mask, self.on_event)       # data = the callback

    def on_event(self, sock, mask):
        if mask & self.EVENT_WRITE:
            self.write_once()
        if mask & self.EVENT_READ:
            self.read_once(self.reply)
        events = self.wanted(self.EVENT_READ, self.EVENT_WRITE)
        if not events:                      # EOF and everything sent: done
            self.sel.unregister(sock)
            sock.close()
        elif events != self.mask:
            self.sel.modify(sock, events, self.on_event)
            self.mask = events


class InlineClient:
    """--inline: Client's rules written out in on_event, without a method call per event."""
    __slots__ = ("sel", "sock", "out", "eof", "events", "upper")

    def __init__(self, sel, sock, upper):
        self.sel, self.sock, self.upper = sel, sock, upper
        self.out = bytearray()              # bytes read but not yet sent back
        self.eof = False                    # the peer closed its side: close once out is sent
        self.events = EVENT_READ
        sel.register(sock, EVENT_READ, self.on_event)

    def on_event(self, sock, mask):
        try:
            if mask & EVENT_WRITE:
                del self.out[:sock.send(self.out)]
            if mask & EVENT_READ:
                data = sock.recv(RECV_SIZE)
                if not data:
                    self.eof = True
                else:
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
        except OSError:                     # reset by peer, broken pipe: drop the connection
            return self.close()
        if not self.out:
            if self.eof:                    # EOF and everything sent: done
                return self.close()
            events = EVENT_READ
        elif self.eof or len(self.out) >= HIGH_WATER:
            events = EVENT_WRITE            # no more reading: EOF, or backpressure
        else:
            events = EVENT_READ | EVENT_WRITE
        if events != self.events:
            self.sel.modify(sock, events, self.on_event)
            self.events = events

    def close(self):
        self.sel.unregister(self.sock)
        self.sock.close()


def add_options(p):
    p.add_argument("--stdlib", action="store_true",
                   help="use the standard library's selectors module instead of pymux.selectors")
    p.add_argument("--inline", action="store_true",
                   help="per-connection rules written out in the callback (bench_echo.py's "
                        "version) instead of the shared Conn of _conn.py")


def setup(args):
    global EVENT_READ, EVENT_WRITE
    args.selectors = load_selectors(args.stdlib)
    EVENT_READ, EVENT_WRITE = args.selectors.EVENT_READ, args.selectors.EVENT_WRITE


def serve(args, listener):
    selectors = args.selectors
    reply = _common.reply_function(args)
    sel = selectors.DefaultSelector()
    if args.inline:
        def client(sock):
            InlineClient(sel, sock, args.upper)
    else:
        def client(sock):
            Client(selectors, sel, sock, reply)

    def accept(lsock, mask):
        for sock in _common.accept_ready(lsock):
            client(sock)

    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ, accept)
    try:
        while True:
            for key, mask in sel.select(_common.STOP_CHECK):
                key.data(key.fileobj, mask)     # the callback registered with the socket
    finally:
        for key in list(sel.get_map().values()):
            if key.fileobj is not listener:
                key.fileobj.close()
        sel.close()


if __name__ == "__main__":
    _common.run(serve, __doc__, add_options, setup)
