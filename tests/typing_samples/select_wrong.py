"""Mistakes a type checker catches in stdlib select code: each line marked
`# E: code` must get that error, the same with pymux.select."""
import select
import socket


def mistakes(sock: socket.socket) -> None:
    select.select([sock], [], [], "1")  # E: arg-type
    select.select(["not a file"], [], [])  # E: type-var
    readable, _, _ = select.select([sock], [], [])
    readable[0].send("text")  # E: arg-type
    poller = select.poll()
    poller.register(sock, "in")  # E: arg-type
    poller.register(fd=sock)  # E: call-arg
    pairs: list[int] = poller.poll()  # E: assignment
    ep = select.epoll()
    ep.poll(timeout="soon")  # E: arg-type
    name: str = ep.fileno()  # E: assignment
    ep.register(sock, select.EPOLLIN, 0)  # E: call-arg
    select.EPOLLIN = 2  # E: misc
    select.poll(8)  # E: call-arg
