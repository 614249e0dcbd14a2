"""`python -m pymux`: show the backends and do one readiness round trip each.

A short self-check; the reference application is `python -m pymux.echo`.
"""
import socket

from . import __version__
from . import select as mux_select


def round_trips():
    """(name, what it reported) after making one socket readable."""
    a, b = socket.socketpair()
    try:
        b.send(b"ping")
        fd = a.fileno()
        readable, _, _ = mux_select.select([a], [], [], 1.0)
        yield "select", f"readable: {[s.fileno() for s in readable]}"
        p = mux_select.poll()
        p.register(fd, mux_select.POLLIN)
        yield "poll", f"events: {p.poll(1000)}"
        with mux_select.epoll() as ep:
            ep.register(fd, mux_select.EPOLLIN | mux_select.EPOLLET)
            first, second = ep.poll(1.0), ep.poll(0)
            yield "epoll (ET)", f"events: {first}, again without new data: {second}"
    finally:
        a.close()
        b.close()


def main():
    print(f"pymux {__version__}: backends select, poll, epoll (LT and ET)")
    for name, report in round_trips():
        print(f"  {name:11s} {report}")


if __name__ == "__main__":
    main()
