"""Every echo server the benchmarks run, by name: bench_echo.py (``--servers``)
and study.py (``--models``) both choose from ``BY_NAME``.

A server is a program in this folder (bench/servers/) plus its options. It
runs as ``PROGRAM --host HOST --port 0 [options] [--upper]``, prints
``listening on HOST:PORT`` first, and SIGINT or SIGTERM stop it (SIGINT even
when it was started with SIGINT ignored, as a shell starts ``cmd &``).
An HTTP server (``http=True``) answers GET with "Hello, World!" instead of
echoing (the load generator's --http mode; no --upper).
Python programs run under the benchmark's own interpreter (or the one
bench_echo.py --python names); a C program is built on first use (bench/.build/).
"""
from pathlib import Path

from harness.c_build import build
from harness.interpreter import THIS

SERVERS_DIR = Path(__file__).resolve().parent
FD_SETSIZE = 1024                       # glibc's fd_set: select() cannot watch fds >= this
POOL_THREADS = 16
BUSY_SLEEP = 0.001


class EchoServer:
    """One server: its name, its program and options, what it is, what it cannot do."""

    def __init__(self, name, program, args=(), what="", max_conns=None, why=None, needs=None,
                 cpython_only=False, needs_uring=False, http=False):
        self.name, self.program, self.args, self.what = name, program, list(args), what
        self.max_conns, self.why = max_conns, why
        self.needs = needs              # a module it cannot run without, if any
        self.cpython_only = cpython_only
        self.needs_uring = needs_uring  # io_uring, which a kernel may refuse
        self.http = http                # an HTTP "hello" server, not an echo server

    @property
    def is_python(self):
        return self.program.endswith(".py")

    def argv(self, host, upper=False, interpreter=THIS):
        if self.is_python:
            run = [interpreter.executable, SERVERS_DIR / self.program]
        else:
            run = [build(SERVERS_DIR / self.program)]
        upper = upper and not self.http
        return [*run, "--host", host, "--port", "0", *self.args, *(["--upper"] if upper else [])]

    def load_options(self, upper=False):
        """How the load generator talks to it (harness.loadgen.loadgen_argv's
        options): echo payloads (upper-cased if ``upper``), or HTTP GETs."""
        return {"http": True} if self.http else {"upper": upper}

    def cannot(self, conns):
        """Why this server cannot serve ``conns`` connections, or None."""
        if self.max_conns is not None and conns > self.max_conns:
            return self.why
        return None

    def missing(self, interpreter=THIS):
        """Why this server cannot run under ``interpreter`` here, or None."""
        if self.cpython_only and interpreter.implementation != "CPython":
            return (f"a CPython-only comparison server: {self.needs} does not run on "
                    f"{interpreter.implementation}")
        if self.needs and not interpreter.can_import(self.needs):
            return f"{self.needs} not installed"
        if self.needs_uring:
            return _uring_refused()
        return None


def _uring_refused():
    """Why this kernel refuses io_uring to this process, or None."""
    try:
        from pymux import uring
    except ImportError as exc:
        return f"pymux.uring, which tells whether io_uring is allowed, cannot be imported: {exc}"
    reason = uring.unavailable_reason()
    return None if reason is None else f"io_uring is refused here: {reason}"


SERVERS = [
    # The study's I/O models (each file's docstring says what blocks and why it is weak).
    EchoServer("threads", "blocking_threads.py", what="blocking, one thread per connection"),
    EchoServer("pool", "blocking_pool.py", ["--threads", str(POOL_THREADS)],
               what=f"blocking, fixed pool of {POOL_THREADS} threads"),
    EchoServer("busy", "nonblocking_busy.py", what="non-blocking, busy polling loop"),
    EchoServer("busy-sleep", "nonblocking_busy.py", ["--sleep", str(BUSY_SLEEP)],
               what=f"busy polling, time.sleep({BUSY_SLEEP:g}) when a pass finds nothing"),
    EchoServer("select", "select_loop.py", what="select() readiness loop",
               max_conns=FD_SETSIZE - 16,  # stdio, listener and a few spare fds fit below it
               why=f"select() cannot watch fd >= FD_SETSIZE ({FD_SETSIZE})"),
    EchoServer("poll", "poll_loop.py", what="poll() readiness loop"),
    EchoServer("epoll-lt", "epoll_lt.py", what="epoll, level-triggered"),
    EchoServer("epoll-et", "epoll_et.py", what="epoll, edge-triggered (drain to EAGAIN)"),
    EchoServer("selectors-callbacks", "selectors_callbacks.py",
               what="selectors callbacks (pymux.selectors)"),
    EchoServer("pymux", "reactor_echo.py", what="pymux reactor (python -m pymux.echo)"),
    EchoServer("pymux-uring", "reactor_echo.py", ["--backend", "uring"], needs_uring=True,
               what="pymux reactor on io_uring (python -m pymux.echo --backend uring)"),
    EchoServer("sigio", "sigio.py", what="signal-driven I/O (O_ASYNC, SIGIO)"),
    EchoServer("uring", "uring.py", needs_uring=True,
               what="asynchronous: io_uring completions (pymux.uring)"),
    # What bench_echo.py compares pymux with.
    EchoServer("selectors", "selectors_callbacks.py", ["--stdlib", "--inline"],
               what="stdlib selectors callbacks, per-connection code inline"),
    EchoServer("selectors-pymux", "selectors_callbacks.py", ["--inline"],
               what="pymux.selectors callbacks, per-connection code inline"),
    EchoServer("asyncio", "asyncio_echo.py", ["--loop", "asyncio"],
               what="asyncio Protocol, stdlib event loop"),
    EchoServer("uvloop", "asyncio_echo.py", ["--loop", "uvloop"],
               what="asyncio Protocol on uvloop", needs="uvloop", cpython_only=True),
    # The same asyncio code on the three loops: Protocol, streams, HTTP on streams.
    EchoServer("pymux-aio", "asyncio_echo.py", ["--loop", "pymux"],
               what="asyncio Protocol on pymux.aio"),
    EchoServer("pymux-aio-uring", "asyncio_echo.py", ["--loop", "pymux", "--backend", "uring"],
               needs_uring=True, what="asyncio Protocol on pymux.aio, io_uring backend"),
    EchoServer("asyncio-streams", "asyncio_echo.py", ["--api", "streams", "--loop", "asyncio"],
               what="asyncio streams, stdlib event loop"),
    EchoServer("uvloop-streams", "asyncio_echo.py", ["--api", "streams", "--loop", "uvloop"],
               what="asyncio streams on uvloop", needs="uvloop", cpython_only=True),
    EchoServer("pymux-aio-streams", "asyncio_echo.py", ["--api", "streams", "--loop", "pymux"],
               what="asyncio streams on pymux.aio"),
    EchoServer("pymux-aio-streams-uring", "asyncio_echo.py",
               ["--api", "streams", "--loop", "pymux", "--backend", "uring"], needs_uring=True,
               what="asyncio streams on pymux.aio, io_uring backend"),
    EchoServer("http-asyncio", "asyncio_http.py", ["--loop", "asyncio"], http=True,
               what="HTTP/1.1 hello on asyncio streams, stdlib event loop"),
    EchoServer("http-uvloop", "asyncio_http.py", ["--loop", "uvloop"], http=True,
               what="HTTP/1.1 hello on asyncio streams, uvloop", needs="uvloop",
               cpython_only=True),
    EchoServer("http-pymux-aio", "asyncio_http.py", ["--loop", "pymux"], http=True,
               what="HTTP/1.1 hello on asyncio streams, pymux.aio"),
    EchoServer("c-floor", "c_epoll_echo.c", what="hand-written C epoll server: the floor"),
    EchoServer("c-uring", "c_uring_echo.c", needs_uring=True,
               what="hand-written C io_uring server: the asynchronous model's floor"),
]
BY_NAME = {s.name: s for s in SERVERS}

STUDY_MODELS = ("threads", "pool", "busy", "busy-sleep", "select", "poll", "epoll-lt",
                "epoll-et", "selectors-callbacks", "pymux", "sigio", "uring")
ECHO_COMPARISON = ("pymux", "selectors", "asyncio", "uvloop", "c-floor")
# pymux's two loop backends, epoll and io_uring, beside the C floors of each
# model (bench_echo.py --servers "$(...)": the io_uring ones are skipped,
# with the reason, where the kernel refuses io_uring).
URING_COMPARISON = ("pymux", "pymux-uring", "c-floor", "c-uring")
