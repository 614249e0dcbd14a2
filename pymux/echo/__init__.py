"""pymux echo server: the reference application of the reactor.

    python -m pymux.echo [--host 127.0.0.1] [--port 8088]
                         [--api reactor|protocol|streams] [--backend epoll]
                         [--upper] [--workers N] [--max-connections N]
                         [--max-buffer BYTES] [--idle-timeout SECONDS]
                         [--grace SECONDS] [-v]
    python -m pymux.echo --connect HOST:PORT     # interactive client

The first line on stdout is `listening on HOST:PORT` (`[HOST]:PORT` for
IPv6; port 0 picks a free port). SIGINT, SIGTERM or SIGHUP stops it
gracefully and prints the totals (see `--help`).

--api picks what serves the connections: pymux.reactor (default), an
asyncio Protocol or asyncio streams on pymux.aio; options, logs, shutdown
and totals are the same code for all three.

Modules: _cli (options, errors, main), _server (accepting, limits, idle
sweep, graceful shutdown), _connection (one connection's state and end),
_protocol (a connection as a Protocol), _aio_protocol and _aio_streams
(--api protocol and streams), _workers (--workers: processes, signal relay,
totals), _client (--connect), _logs (rate limit).
"""
from ._cli import main

__all__ = ["main"]
