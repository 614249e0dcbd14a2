"""Model 8: the selectors callback server (pymux.selectors), as in the Python docs.

    python bench/models/selectors_callbacks.py --port 0 [--upper] [--stdlib]

What blocks: only sel.select(), which waits with the best mechanism the
platform has (DefaultSelector is epoll on Linux, level-triggered). Each
registration carries its callback in ``data`` (accept for the listener, the
connection's handler for a client); the loop calls key.data(key.fileobj, mask)
for every ready key, the shape of every callback event loop.
Weakness: the convenience costs Python work per event (a SelectorKey lookup
and a callback call on top of the epoll wait), and the callback style spreads
one connection's logic over several functions.
"""
import importlib
import sys

import _common
from _conn import Conn


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


def add_options(p):
    p.add_argument("--stdlib", action="store_true",
                   help="use the standard library's selectors module instead of pymux.selectors")


def setup(args):
    args.selectors = load_selectors(args.stdlib)


def serve(args, listener):
    selectors = args.selectors
    reply = _common.reply_function(args)
    sel = selectors.DefaultSelector()

    def accept(lsock, mask):
        for sock in _common.accept_ready(lsock):
            Client(selectors, sel, sock, reply)

    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ, accept)
    try:
        while True:
            for key, mask in sel.select():
                key.data(key.fileobj, mask)     # the callback registered with the socket
    finally:
        for key in list(sel.get_map().values()):
            if key.fileobj is not listener:
                key.fileobj.close()
        sel.close()


if __name__ == "__main__":
    _common.run(serve, __doc__, add_options, setup)
