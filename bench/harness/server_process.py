"""A server under test, as a subprocess: started from an argv list, stopped by PID.

The convention every bench server follows: the first stdout line is
``listening on HOST:PORT`` (port 0 picks a free port), and SIGTERM stops it.
"""
import importlib.util
import os
import re
import selectors
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from harness import REPO
from harness.proc import cpu_seconds, fd_count, process_tree, rss_kb

LISTEN_RE = re.compile(r"^listening on (\S+):(\d+)\s*$")
STDERR_KEPT = 4000              # characters of stderr kept once the server is stopped


def python_env():
    """Environment for Python servers: make the source tree's pymux importable."""
    env = dict(os.environ)
    if importlib.util.find_spec("pymux") is None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


class ServerStartError(RuntimeError):
    pass


class ServerProcess:
    """A server subprocess started from ``argv``; use as a context manager."""

    def __init__(self, argv, name=None, env=None, start_timeout=15.0, preexec_fn=None):
        self.argv = [str(a) for a in argv]
        self.name = name or Path(self.argv[0]).name
        self._errf = tempfile.TemporaryFile(mode="w+b")
        self._tail = []                  # later stdout lines, kept for diagnostics
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._errf,
                                     env=env, start_new_session=True,
                                     preexec_fn=preexec_fn)
        self.pid = self.proc.pid
        try:
            self.host, self.port = self._read_listening(start_timeout)
        except BaseException:
            self.stop()
            raise
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()

    def _read_listening(self, timeout):
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + timeout
            line = b""
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise ServerStartError(f"no 'listening on' line within "
                                           f"{timeout:.0f}s{self._why()}")
                chunk = os.read(self.proc.stdout.fileno(), 1)   # never read past the line
                if not chunk:
                    self.proc.wait(timeout=5)
                    raise ServerStartError(f"exited with status {self.proc.returncode}"
                                           f"{self._why()}")
                line += chunk
        m = LISTEN_RE.match(line.decode(errors="replace"))
        if not m:
            raise ServerStartError(f"first line was {line!r}, "
                                   f"expected 'listening on HOST:PORT'{self._why()}")
        return m.group(1), int(m.group(2))

    def _drain(self):
        for line in self.proc.stdout:
            self._tail = (self._tail + [line.decode(errors="replace")])[-20:]

    def stdout_tail(self):
        """The last stdout lines after the ``listening on`` line (up to 20)."""
        return list(self._tail)

    def stderr_tail(self, n=800):
        """The end of its stderr (kept after stop(): up to STDERR_KEPT characters)."""
        if self._errf.closed:
            return self._stderr_at_exit[-n:]
        self._errf.seek(0)
        return self._errf.read().decode(errors="replace")[-n:]

    def _why(self):
        tail = self.stderr_tail().strip()
        return f": {tail.splitlines()[-1]}" if tail else ""

    def alive(self):
        return self.proc.poll() is None

    def cpu_seconds(self):
        return cpu_seconds(self.pid)

    def rss_kb(self):
        return rss_kb(self.pid)

    def fd_count(self):
        return fd_count(self.pid)

    def stop(self, timeouts=(1.0, 5.0, 3.0)):
        """SIGTERM, SIGTERM again, then SIGKILL, each after a timeout; return status.

        SIGTERM, not SIGINT: a process started with SIGINT ignored (a shell's
        background job) passes SIG_IGN on, and a server may leave it so. The
        second SIGTERM ends a graceful shutdown's grace period at once (the
        pymux echo server serves open connections for up to --grace seconds).
        """
        signals = (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL)
        for sig, t in zip(signals, timeouts):
            if self.proc.poll() is not None:
                break
            # SIGKILL cannot be forwarded: kill the server's descendants too, by PID.
            for pid in process_tree(self.pid) if sig == signal.SIGKILL else [self.pid]:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(timeout=t)
            except subprocess.TimeoutExpired:
                continue
        rc = self.proc.wait(timeout=10)
        drainer = getattr(self, "_drainer", None)
        if drainer is not None:
            drainer.join(timeout=2)      # EOF once the server (and its children) exit
        if drainer is None or not drainer.is_alive():
            self.proc.stdout.close()
        self._stderr_at_exit = self.stderr_tail(STDERR_KEPT)
        self._errf.close()
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.returncode is None:
            self.stop()
