"""Signals a server must shrug off, sent often while it runs (bench/soak.py).

``Signaller`` is a thread that sends, every ``every`` seconds, the next of
SHRUGGED: signals whose default action is to ignore them. A process that
leaves them at their default never sees them (the kernel drops them when
they are sent); one that catches them runs its handler, which interrupts
its wait. So every ``pause_every`` seconds it also stops the process
(SIGSTOP) and continues it (SIGCONT) once it is stopped: on Linux that makes
epoll_wait() fail with EINTR even with no handler installed (signal(7),
"Interruption of system calls and library functions by stop signals";
poll() and select() are restarted by the kernel instead), so a server that
catches none of these still has its waits interrupted. Signals go through a
pidfd, so they can never reach a process that took over a recycled PID.
"""
import itertools
import os
import signal
import threading
import time
from collections import Counter

from harness.proc import is_stopped, signal_disposition

SHRUGGED = (signal.SIGWINCH, signal.SIGURG, signal.SIGCHLD, signal.SIGCONT)
STOP_WAIT_S = 1.0               # how long a SIGSTOP may take to stop the process


class Signaller(threading.Thread):
    """Sends SHRUGGED signals and SIGSTOP/SIGCONT pairs to ``pid`` until stop()."""

    def __init__(self, pid, every=0.01, pause_every=0.2):
        super().__init__(name="signaller", daemon=True)
        self.pid, self.every, self.pause_every = pid, every, pause_every
        self.pidfd = os.pidfd_open(pid)
        self.sent = Counter()           # signal name -> count (pauses not included)
        self.pauses = 0                 # SIGSTOP/SIGCONT pairs
        self.done = threading.Event()

    def dispositions(self):
        """What the process does with each signal sent: {name: 'default', 'caught', ...}."""
        sigs = SHRUGGED + ((signal.SIGSTOP, signal.SIGCONT) if self.pause_every else ())
        return {sig.name: signal_disposition(self.pid, sig) for sig in sigs}

    def run(self):
        next_pause = time.monotonic() + (self.pause_every or float("inf"))
        for sig in itertools.cycle(SHRUGGED):
            if self.done.wait(self.every) or not self._send(sig):
                return
            self.sent[sig.name] += 1
            if time.monotonic() >= next_pause:
                if not self._pause():
                    return
                next_pause = time.monotonic() + self.pause_every

    def stop(self):
        self.done.set()
        self.join()
        os.close(self.pidfd)

    def _send(self, sig):
        try:
            signal.pidfd_send_signal(self.pidfd, sig)
        except ProcessLookupError:      # it exited: the soak notices and says why
            return False
        return True

    def _pause(self):
        """SIGSTOP, wait until the process is stopped, SIGCONT (whatever happened)."""
        if not self._send(signal.SIGSTOP):
            return False
        try:
            deadline = time.monotonic() + STOP_WAIT_S
            while not is_stopped(self.pid) and time.monotonic() < deadline:
                time.sleep(0.0005)
        finally:
            alive = self._send(signal.SIGCONT)
        self.pauses += 1
        return alive
