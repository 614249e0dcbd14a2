"""pymux echo server: the reference application of the reactor.

    python -m pymux.echo [--host 127.0.0.1] [--port 8088] [--backend epoll]
                         [--upper] [--workers N] [--max-connections N]
                         [--max-buffer BYTES] [--idle-timeout SECONDS]
                         [--grace SECONDS] [-v]
    python -m pymux.echo --connect HOST:PORT     # interactive client

The first line on stdout is `listening on HOST:PORT` (`[HOST]:PORT` for
IPv6; port 0 picks a free port). SIGINT, SIGTERM or SIGHUP stops it
gracefully and prints the totals (see `--help`).

Modules: _cli (options, errors, main), _server (accepting, limits, idle
sweep, graceful shutdown), _protocol (one connection), _workers (--workers:
processes, signal relay, totals), _client (--connect), _logs (rate limit).
"""
from ._cli import main

__all__ = ["main"]
