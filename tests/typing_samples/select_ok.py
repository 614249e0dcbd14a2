"""A user program on the stdlib select API: select(), poll() and epoll()."""
import os
import select
import socket


def wait_readable(socks: list[socket.socket], timeout: float | None) -> list[socket.socket]:
    try:
        readable, _, _ = select.select(socks, [], [], timeout)
    except select.error as exc:
        print("select failed:", exc.errno)
        return []
    return readable


def wait_any(reads: list[int], writes: list[socket.socket]) -> tuple[list[int], list[socket.socket]]:
    readable, writable, exceptional = select.select(reads, writes, reads, 0)
    assert all(isinstance(fd, int) for fd in exceptional)
    return readable, writable


def poll_once(sock: socket.socket) -> list[tuple[int, int]]:
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLPRI)
    poller.modify(sock.fileno(), select.POLLIN | select.POLLRDHUP)
    events = poller.poll(100)
    events += poller.poll()
    poller.unregister(sock)
    return events


def epoll_round(sock: socket.socket) -> dict[int, int]:
    ready: dict[int, int] = {}
    with select.epoll() as ep:
        ep.register(sock, select.EPOLLIN | select.EPOLLET)
        ep.modify(sock, select.EPOLLIN | select.EPOLLOUT)
        for fd, mask in ep.poll(0.1, maxevents=16):
            if mask & (select.EPOLLHUP | select.EPOLLERR):
                ready[fd] = -1
            else:
                ready[fd] = mask
        ep.unregister(sock.fileno())
        closed: bool = ep.closed
        assert not closed
        again = select.epoll.fromfd(os.dup(ep.fileno()))
        again.close()
    return ready


def main() -> None:
    a, b = socket.socketpair()
    with a, b:
        b.send(b"ping")
        print(wait_readable([a], 1.0), wait_any([a.fileno()], [b]))
        print(poll_once(a), epoll_round(a))
        ep = select.epoll(sizehint=8)
        print(ep.poll(timeout=None), ep.poll(0))
        ep.close()


if __name__ == "__main__":
    main()
