"""The asyncio event loop a bench server runs on, and how it runs: shared by
asyncio_echo.py and asyncio_http.py (the same server code on every loop).

    --loop asyncio   the stdlib's (SelectorEventLoop, epoll)
    --loop uvloop    uvloop (CPython only; pip install uvloop)
    --loop pymux     pymux.aio (asyncio on pymux's C core); --backend picks the
                     core's backend (epoll, the default, or uring, poll, select)
"""
import asyncio
import functools
import signal
import socket
import sys

LOOPS = ("asyncio", "uvloop", "pymux")


def add_loop_option(p):
    p.add_argument("--loop", choices=LOOPS, default="asyncio")
    p.add_argument("--backend", default=None,
                   help="the C core's backend under --loop pymux (default: epoll)")


def loop_factory(name, program, backend=None):
    """The new_event_loop of --loop ``name`` (on ``backend``, for pymux);
    exits with a clear message if its package is missing."""
    if backend is not None and name != "pymux":
        sys.exit(f"{program}: --backend is for --loop pymux")
    if name == "asyncio":
        return asyncio.new_event_loop
    module = "uvloop" if name == "uvloop" else "pymux.aio"
    try:
        if name == "uvloop":
            import uvloop as loops
        else:
            import pymux.aio as loops
    except ImportError as e:
        sys.exit(f"{program}: --loop {name} needs {module} ({e})")
    if backend is not None:
        return functools.partial(loops.new_event_loop, backend)
    return loops.new_event_loop


def run(serve, args, program):
    """What asyncio.run(serve(args)) does, on the loop of ``args.loop``
    (asyncio.Runner and asyncio.run(loop_factory=) need Python 3.11 and 3.12)."""
    try:
        loop = loop_factory(args.loop, program, args.backend)()
    except (ValueError, OSError) as e:     # an unknown backend, or io_uring refused
        sys.exit(f"{program}: {e}")
    try:
        loop.run_until_complete(serve(args))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


async def serve_until_stopped(server):
    """Print ``listening on HOST:PORT`` for an asyncio.Server, serve until
    SIGINT or SIGTERM, close it. The loop's own signal handlers replace
    whatever the process inherited, SIG_IGN included."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    await stop.wait()
    server.close()


def listen_options(args):
    """create_server/start_server keywords every asyncio bench server uses."""
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    return dict(family=family, backlog=socket.SOMAXCONN, reuse_address=True)
