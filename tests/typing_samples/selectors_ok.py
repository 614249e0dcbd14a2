"""A user program on the stdlib selectors API: a callback loop on a selector."""
import asyncio
import selectors
import socket
from collections.abc import Callable

Callback = Callable[[socket.socket, int], None]


def on_ready(sock: socket.socket, events: int) -> None:
    if events & selectors.EVENT_READ:
        print("read", sock.recv(1024))
    if events & selectors.EVENT_WRITE:
        sock.send(b"pong")


def run_once(sel: selectors.BaseSelector, timeout: float | None) -> int:
    handled = 0
    for key, events in sel.select(timeout):
        callback: Callback = key.data
        sock = key.fileobj
        assert isinstance(sock, socket.socket)
        callback(sock, events)
        handled += 1
    return handled


def exercise(sel: selectors.BaseSelector, a: socket.socket) -> list[int]:
    key = sel.register(a, selectors.EVENT_READ, on_ready)
    assert isinstance(key, selectors.SelectorKey)
    fd: int = key.fd
    key = sel.modify(a, selectors.EVENT_READ | selectors.EVENT_WRITE, on_ready)
    fds = [k.fd for k in sel.get_map().values()]
    if a in sel.get_map():
        fds.append(sel.get_key(a).fd)
    run_once(sel, 0.1)
    sel.unregister(a)
    return [fd, *fds]


def main() -> None:
    a, b = socket.socketpair()
    with a, b:
        b.send(b"ping")
        with selectors.DefaultSelector() as sel:
            print(exercise(sel, a), sel.fileno())
        for cls in (selectors.SelectSelector, selectors.PollSelector, selectors.EpollSelector):
            with cls() as each:
                print(exercise(each, a))
        epoll = selectors.EpollSelector()
        print(epoll.fileno(), epoll.select())
        epoll.close()
    loop = asyncio.SelectorEventLoop(selectors.DefaultSelector())
    loop.close()


if __name__ == "__main__":
    main()
