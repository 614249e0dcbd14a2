"""``[ 7/45  15%  eta 2m10s] label`` on stderr: where a long benchmark run is."""
import sys
import time


class Progress:
    """``[ 7/45  15%  eta 2m10s] label`` on stderr; redraws in place on a tty."""

    def __init__(self, total, stream=None):
        # sys.stderr when the run starts, not when this module was imported
        self.stream = stream or sys.stderr
        self.total, self.done = max(total, 1), 0
        self.t0 = time.monotonic()
        self.tty = self.stream.isatty()

    def show(self, label):
        el = time.monotonic() - self.t0
        eta = el / self.done * (self.total - self.done) if self.done else 0
        eta_s = f"eta {int(eta // 60)}m{int(eta % 60):02d}s" if self.done else "eta ?"
        line = f"[{self.done:>3}/{self.total} {100 * self.done // self.total:3d}%  {eta_s}] {label}"
        if self.tty:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def step(self, n=1):
        self.done = min(self.total, self.done + n)

    def note(self, msg):
        """A message that stays on screen."""
        self.stream.write(("\r\033[K" if self.tty else "") + msg + "\n")
        self.stream.flush()

    def close(self):
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(f"done in {time.monotonic() - self.t0:.0f}s\n")
        self.stream.flush()
