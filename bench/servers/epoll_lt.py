"""Model 6: I/O multiplexing with epoll, level-triggered (pymux.select.epoll).

    python bench/servers/epoll_lt.py --port 0 [--upper]

What blocks: only epoll.poll() (epoll_wait), which sleeps until a registered
socket is ready. The interest set lives in the kernel: register/modify
(epoll_ctl) change it, and a wait returns only the ready sockets, so its cost
does not grow with idle connections. Level-triggered: a socket is reported
on every wait for as long as it stays ready, so one recv() per event is enough.
That is what poll() reports too, so this model runs poll_loop.py's loop
(serve_with) over an epoll object: the Python code is the same, the kernel's
work per wait is not.
Weakness: changing interest is a system call of its own (epoll_ctl to add or
drop EPOLLOUT around a partial send); it is Linux-only; and like every
single-threaded loop it uses one core.
"""
import pymux.select as select

import _common
from poll_loop import serve_with

EPOLLIN, EPOLLOUT = select.EPOLLIN, select.EPOLLOUT


def serve(args, listener):
    # The loop is poll_loop.py's, line for line: register each accepted socket
    # for EPOLLIN, add EPOLLOUT while bytes are unsent and drop it once they are
    # sent (each change an epoll_ctl(MOD)), unregister on close. Level-triggered
    # epoll reports what poll() reports; only the kernel's cost per wait differs.
    ep = select.epoll()
    try:
        serve_with(ep, EPOLLIN, EPOLLOUT, args, listener, _common.STOP_CHECK)
    finally:
        ep.close()


if __name__ == "__main__":
    _common.run(serve, __doc__)
