"""Mistakes a type checker catches in stdlib selectors code: each line marked
`# E: code` must get that error, the same with pymux.selectors."""
import selectors
import socket


def mistakes(sock: socket.socket) -> None:
    sel = selectors.DefaultSelector()
    sel.register(sock, "read")  # E: arg-type
    sel.register("not a file", selectors.EVENT_READ)  # E: arg-type
    count: int = sel.register(sock, selectors.EVENT_READ)  # E: assignment
    sel.select(timeout="1")  # E: arg-type
    for key, events in sel.select():
        events.upper()  # E: attr-defined
        key.fd + "x"  # E: operator
    sel.modify(sock)  # E: call-arg
    selectors.EVENT_READ = 4  # E: misc
    selectors.BaseSelector()  # E: abstract
    poll: selectors.PollSelector = selectors.DefaultSelector()  # E: assignment
    selectors.SelectSelector().fileno()  # E: attr-defined
