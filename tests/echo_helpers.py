"""Helpers for the echo-server tests (tests/test_echo_*.py).

The server runs as a subprocess (`python -m pymux.echo --port 0 ...`); its
first stdout line `listening on HOST:PORT` (`[HOST]:PORT` for IPv6) gives
the address, its last `totals: ...`. It is stopped by PID only (SIGINT or
SIGTERM, then SIGKILL after a timeout). /proc gives its CPU time, resident
memory and child processes. Every wait here is bounded.
"""
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from uring_helpers import require_backend

BACKENDS = ("epoll", "epoll-et", "poll", "select", "uring")
APIS = ("reactor", "protocol", "streams")   # --api: pymux.reactor, asyncio Protocol, streams
# (api, backend): every backend under every API (pymux.aio has them all too).
SERVED_BY = [(a, b) for a in APIS for b in BACKENDS]
EVERY_API = pytest.mark.parametrize("api", APIS)   # with server_with: one server per API

# Hang guards only: generous, since CI also runs under AddressSanitizer.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
IO_TIMEOUT = 15.0

_LISTENING = re.compile(r"^listening on (?:\[([^\]]+)\]|([^:\[\]]+)):(\d+)$")
_TOTALS = re.compile(r"^totals: (\d+) connections, (\d+) requests, (\d+) bytes$")
_CLK_TCK = os.sysconf("SC_CLK_TCK")

SHUTTING_DOWN = "shutting down: stopped accepting"   # a server's log line (-v) after a signal


class EchoServer:
    """A running `python -m pymux.echo` subprocess."""

    def __init__(self, proc, host, port, stderr_file):
        self.proc = proc
        self.pid = proc.pid
        self.address = (host, port)
        self.listening_line = None
        self._stderr = stderr_file

    def alive(self):
        return self.proc.poll() is None

    def stderr_text(self):
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stop(self, sig=signal.SIGINT, timeout=STOP_TIMEOUT):
        """Send `sig`, wait; SIGKILL after `timeout`. Returns (returncode,
        remaining stdout text). Safe to call twice."""
        return stop_process(self.proc, sig, timeout)

    def wait_for_log(self, text, count=1, timeout=IO_TIMEOUT):
        """Wait until `text` appears `count` times in its stderr (log lines)."""
        deadline = time.monotonic() + timeout
        while self.stderr_text().count(text) < count:
            assert time.monotonic() < deadline, f"no {text!r} in {self.stderr_text()!r}"
            time.sleep(0.02)

    def wait(self, timeout=STOP_TIMEOUT):
        """Wait for the server to exit by itself; SIGKILL after `timeout`.
        Returns (returncode, remaining stdout text)."""
        return stop_process(self.proc, None, timeout)

    def rss_bytes(self):
        return proc_rss_bytes(self.pid)

    def cpu_seconds(self):
        return proc_cpu_seconds(self.pid)

    def __repr__(self):
        return f"<EchoServer pid={self.pid} {self.address}>"


def echo_command(*args, nofile=None):
    """The argv that runs the echo server; with nofile=(soft, hard) the
    server first sets its RLIMIT_NOFILE (hard None: keep the current one)."""
    argv = ["pymux.echo", *map(str, args)]
    if nofile is None:
        return [sys.executable, "-m", "pymux.echo", *argv[1:]]
    soft, hard = nofile
    code = (
        "import resource, runpy, sys\n"
        "cur_soft, cur_hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        f"hard = {'cur_hard' if hard is None else repr(hard)}\n"
        f"soft = {soft!r} if hard == resource.RLIM_INFINITY else min({soft!r}, hard)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))\n"
        f"sys.argv = {argv!r}\n"
        "runpy.run_module('pymux.echo', run_name='__main__', alter_sys=True)\n"
    )
    return [sys.executable, "-c", code]


def env_for_memory_measurement():
    """The environment for a server whose RSS a test measures. Under
    AddressSanitizer (CI preloads it), freed memory waits in a quarantine
    of up to 256 MiB to catch use-after-free, so RSS grows with allocation
    churn whatever the server holds; a small quarantine keeps RSS
    meaningful while every other check stays on. PyPy (no reference
    counting) frees garbage only at a major collection, by default once
    memory has grown 82% past the last one; a small factor keeps its RSS
    close to what the server holds."""
    env = dict(os.environ)
    if "libasan" in env.get("LD_PRELOAD", ""):
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=1"
    if sys.implementation.name == "pypy":
        env["PYPY_GC_MAJOR_COLLECT"] = "1.1"
    return env


def start_echo_server(*args, backend="epoll", api="reactor", host="127.0.0.1", nofile=None,
                      timeout=START_TIMEOUT, env=None, new_session=False):
    """Start `python -m pymux.echo --host H --port 0 --api A --backend B *args`
    and wait for its `listening on` line. Raises (after stopping it) if that
    never comes. new_session: its own session and process group (whose id
    is its PID), so a test can signal the group. A "uring" server is
    skipped, with the reason, where the kernel refuses io_uring."""
    require_backend(backend)
    cmd = echo_command("--host", host, "--port", "0", "--api", api, "--backend", backend, *args,
                       nofile=nofile)
    stderr_file = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=stderr_file, env=env, start_new_session=new_session)
    line = read_line(proc.stdout, timeout)
    match = _LISTENING.match(line.strip())
    if match is None:
        code, rest = stop_process(proc, signal.SIGKILL)
        stderr_file.seek(0)
        raise AssertionError(
            f"echo server {cmd[-8:]} did not start (exit {code}): stdout {line + rest!r}, "
            f"stderr {stderr_file.read().decode(errors='replace')!r}")
    server = EchoServer(proc, match.group(1) or match.group(2), int(match.group(3)), stderr_file)
    server.listening_line = line.strip()
    return server


@pytest.fixture
def api():
    """The --api of the servers server_with starts: the reactor, unless the
    test parametrizes it (EVERY_API) to run against each API."""
    return "reactor"


@pytest.fixture
def server_with(api):
    """Factory fixture (import it, and `api`, into a test module to use it):
    ``server_with(*args, **kwargs)`` starts an echo server as
    start_echo_server does (--api: the `api` fixture's unless given); killed
    at teardown if still running."""
    started = []

    def start(*args, **kwargs):
        kwargs.setdefault("api", api)
        started.append(start_echo_server(*args, **kwargs))
        return started[-1]

    yield start
    for s in started:
        s.stop(signal.SIGKILL)


def parse_totals(out):
    """(connections, requests, bytes) from the server's stdout after
    `listening on`: it must be exactly the one totals line."""
    lines = out.strip().splitlines()
    match = _TOTALS.match(lines[-1]) if len(lines) == 1 else None
    assert match, f"expected one totals line, got {out!r}"
    return tuple(map(int, match.groups()))


def read_line(pipe, timeout):
    """One line from a subprocess pipe within `timeout` ('' on EOF/timeout)."""
    data = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(pipe, selectors.EVENT_READ)
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(pipe.fileno(), 1)   # byte by byte: leave the rest in the pipe
            if not chunk:
                break
            data += chunk
    return data.decode(errors="replace")


def stop_process(proc, sig=signal.SIGINT, timeout=STOP_TIMEOUT):
    """Stop a subprocess we started, by its PID: `sig` (None: none), then
    SIGKILL after `timeout`. Returns (returncode, the rest of its stdout as text)."""
    if sig is not None and proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=timeout)
    if out is None:
        out = b""
    return proc.returncode, out.decode(errors="replace")


def proc_cpu_seconds(pid):
    """User + system CPU time of process `pid` (all its threads), seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def proc_rss_bytes(pid):
    """Resident set size (VmRSS) of process `pid`, bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def children(pid):
    """PIDs of the direct children of `pid` (Linux 3.5+)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def proc_state(pid):
    """The state letter of process `pid` (R, S, T stopped, Z zombie...); Z if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return "Z"


def gone_or_zombie(pid):
    return proc_state(pid) == "Z"


def stop_and_wait(pid, timeout=STOP_TIMEOUT):
    """SIGSTOP a process we started and wait until it is stopped: kill()
    returns before the target has stopped."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while proc_state(pid) != "T":
        assert time.monotonic() < deadline, f"process {pid} did not stop"
        time.sleep(0.01)


def wait_until_gone(pids, timeout=STOP_TIMEOUT):
    """True once every pid has exited (or is a zombie), False at the timeout."""
    deadline = time.monotonic() + timeout
    while not all(gone_or_zombie(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def kill_if_alive(pids):
    """SIGKILL the processes we started that are still running (by PID)."""
    for pid in pids:
        if not gone_or_zombie(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def connect(address, timeout=IO_TIMEOUT, bufsize=None):
    """A blocking client socket with a timeout (and big buffers if asked)."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if bufsize:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, bufsize)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, bufsize)
        sock.settimeout(timeout)
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock


def recv_exactly(sock, n):
    """Read exactly n bytes (fewer only if the peer closes first)."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def read_to_eof(sock):
    """Bytes until EOF; (bytes, the exception that ended the reading or None)."""
    buf = bytearray()
    try:
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                return bytes(buf), None
            buf += chunk
    except OSError as exc:
        return bytes(buf), exc


def recv_until_eof(sock, limit=1 << 30):
    buf = bytearray()
    while len(buf) <= limit:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def round_trip(address, data, timeout=IO_TIMEOUT):
    """Connect, send `data`, read as many bytes back, close; returns them."""
    with connect(address, timeout) as sock:
        sock.sendall(data)
        return recv_exactly(sock, len(data))


class Sender(threading.Thread):
    """Sends `data` on `sock` in a thread (so the caller can read at the
    same time); `error` holds what went wrong. Optionally shuts down the
    sending side when done."""

    def __init__(self, sock, data, shutdown=False):
        super().__init__(daemon=True)
        self.sock = sock
        self.data = data
        self.shutdown = shutdown
        self.error = None

    def run(self):
        try:
            self.sock.sendall(self.data)
            if self.shutdown:
                self.sock.shutdown(socket.SHUT_WR)
        except BaseException as exc:   # reported by the test
            self.error = exc


def receive_and_compare(sock, expected, chunk=4 << 20):
    """Receive len(expected) bytes and compare them as they come; returns
    (bytes received, offset of the first differing byte or None)."""
    view = memoryview(expected)
    buf = bytearray(chunk)
    got = 0
    while got < len(expected):
        n = sock.recv_into(buf, min(chunk, len(expected) - got))
        if n == 0:
            break
        if buf[:n] != view[got:got + n]:
            for i in range(n):
                if buf[i] != view[got + i]:
                    return got + n, got + i
        got += n
    return got, None
