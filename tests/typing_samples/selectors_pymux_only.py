"""pymux.selectors' additions to the stdlib API: edge-triggered epoll."""
import socket

import pymux.selectors as selectors


def edge_triggered(sock: socket.socket) -> bool:
    sel = selectors.EpollSelector(edge_triggered=True)
    sel.register(sock, selectors.EVENT_READ)
    default = selectors.DefaultSelector(edge_triggered=False)
    level = selectors.PollSelector(edge_triggered=False)
    both: bool = sel.edge_triggered or default.edge_triggered or level.edge_triggered
    return both


def mistakes() -> None:
    selectors.PollSelector(edge_triggered=True)  # E: arg-type
    selectors.SelectSelector(edge_triggered=True)  # E: arg-type
    selectors.EpollSelector(True)  # E: call-arg
    selectors.EpollSelector().edge_triggered = True  # E: misc
