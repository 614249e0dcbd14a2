"""Model 9: the pymux reactor echo server (``python -m pymux.echo``), run from here.

    python bench/servers/reactor_echo.py --port 0 [--upper] [--backend epoll|epoll-et|poll|select]

What blocks: only the C core's wait (epoll_wait by default), one call per
loop iteration. The C core also does the recv() into one loop-wide buffer
and the send(), arming EPOLLOUT only after a partial send, and hands Python a
flat batch of events; Python runs one data_received() callback per request
(see pymux/echo/ and pymux/reactor/).
Weakness: still one core per process (--workers N adds processes sharing the
port), and Python's per-callback work is now the main cost above the kernel's.
This file only forwards its options to pymux.echo, which prints its totals
after the ``listening on`` line when it stops.
"""
import sys

from pymux.echo import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
