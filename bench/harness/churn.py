"""Connection churn against an echo server, every echoed byte checked: the
load of bench/soak.py.

Up to ``max_conns`` connections at once, each of one kind:

- ``exchange``: 1-5 request/response messages of 1 B to 1 MiB (log-uniform:
  most are small, some large), then close; a third of them half-close
  instead (shutdown(SHUT_WR) after the last message) and expect every echo,
  then EOF.
- ``slow``: 256 KiB to 4 MiB sent at once, nothing read for 0.5-3 s: the
  server's write queue fills, so it must stop reading this peer
  (backpressure), then resume and deliver everything once it is read.
- ``reset``: one 64 KiB to 2 MiB message, reading deferred 0-1 s, reset
  (SO_LINGER 0: close() sends RST) once 10-90% of it is sent.
- ``idle`` (a quarter of the slots): sends nothing for 1-10 s, then echoes
  1-100 B and closes.

A connection sends one slice of a random PATTERN, cut into its messages, so
checking an echo is one comparison with the same slice. A wrong or extra
byte is ``fatal`` (the run stops); the other errors (the server resets or
closes a connection early, a connection stalls, a connect fails) are
counted. Stdlib ``selectors`` only: the load must not run on the code under
test.
"""
import bisect
import errno
import itertools
import math
import selectors
import socket
import struct
import time
from collections import Counter

PATTERN_SIZE = 8 << 20          # every connection sends a slice of this
MiB = 1 << 20
RECV_SIZE = 64 << 10            # below malloc's mmap threshold: no mmap/munmap per recv
STALL_S = 60.0                  # no progress this long while free to progress: an error
TICK_S = 0.05                   # deferred sends and reads and stalls are checked this often
OPEN_PER_TICK = 50              # new connections per loop pass, so events are not starved
IDLE_SHARE = 4                  # one slot in IDLE_SHARE holds an idle connection
BUSY_KINDS = (("exchange", 0.6), ("slow", 0.2), ("reset", 0.2))
KINDS = ("exchange", "slow", "reset", "idle")
LINGER_0 = struct.pack("ii", 1, 0)


def log_uniform(rng, lo, hi):
    """An int in [lo, hi], uniform in log scale."""
    return min(hi, int(math.exp(rng.uniform(math.log(lo), math.log(hi + 1)))))


class Plan:
    """What one connection does: its messages, when it may send and read, how it ends."""

    def __init__(self, kind, sizes, pipelined=False, half_close=False, send_delay=0.0,
                 read_delay=0.0, reset_fraction=None):
        self.kind, self.sizes = kind, sizes
        self.pipelined = pipelined              # send everything without waiting for echoes
        self.half_close = half_close            # shutdown(SHUT_WR) after the last byte, expect EOF
        self.send_delay, self.read_delay = send_delay, read_delay
        self.reset_fraction = reset_fraction    # RST once this part of the bytes is sent


def first_difference(a, b):
    """Index of the first byte where a and b differ (they do, and have the same length)."""
    lo, hi = 0, len(a)
    while hi - lo > 1:                          # halve: compare slices, not bytes one by one
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if a[lo:mid] == b[lo:mid] else (lo, mid)
    return lo


def plan_busy(rng):
    kind = rng.choices([k for k, _ in BUSY_KINDS], [w for _, w in BUSY_KINDS])[0]
    if kind == "exchange":
        sizes = [log_uniform(rng, 1, MiB) for _ in range(rng.randint(1, 5))]
        return Plan(kind, sizes, half_close=rng.random() < 1 / 3)
    if kind == "slow":
        return Plan(kind, [log_uniform(rng, 256 << 10, 4 * MiB)], pipelined=True,
                    read_delay=rng.uniform(0.5, 3.0))
    return Plan(kind, [log_uniform(rng, 64 << 10, 2 * MiB)], pipelined=True,
                read_delay=rng.uniform(0.0, 1.0), reset_fraction=rng.uniform(0.1, 0.9))


def plan_idle(rng):
    return Plan("idle", [rng.randint(1, 100)], send_delay=rng.uniform(1.0, 10.0))


class Conn:
    """One client connection: its slice of PATTERN, cut into messages, and how far it got."""

    def __init__(self, plan, base, family, now):
        self.plan = plan
        self.base = base                        # its bytes are PATTERN[base:base + total]
        self.bounds = list(itertools.accumulate(plan.sizes))   # message ends
        self.total = self.bounds[-1]
        self.reset_after = (max(1, int(self.total * plan.reset_fraction))
                            if plan.reset_fraction is not None else None)
        self.sent = self.received = 0
        self.send_at, self.read_at = now + plan.send_delay, now + plan.read_delay
        self.progress_at = now
        self.connected = self.shut = False
        self.events = 0                         # interest registered with the selector
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setblocking(False)

    def send_limit(self):
        """Bytes it may have sent by now: all if pipelined, else up to the message being echoed."""
        limit = self.total
        if not self.plan.pipelined and self.received < self.total:
            limit = self.bounds[bisect.bisect_right(self.bounds, self.received)]
        if self.reset_after is not None:
            limit = min(limit, self.reset_after)
        return limit

    def interest(self, now):
        if not self.connected:
            return selectors.EVENT_WRITE
        events = selectors.EVENT_READ if now >= self.read_at else 0
        if now >= self.send_at and self.sent < self.send_limit():
            events |= selectors.EVENT_WRITE
        return events

    def stalled(self, now):
        return now - max(self.progress_at, self.send_at, self.read_at) > STALL_S

    def hurry(self, now):
        """Send and read from now on: the load is draining."""
        self.send_at, self.read_at = min(self.send_at, now), min(self.read_at, now)


class ChurnStats:
    """Counts of the whole run (read by other threads: plain ints and fixed keys)."""

    def __init__(self):
        self.connections = 0                    # connects that succeeded
        self.opened = Counter(dict.fromkeys(KINDS, 0))
        self.finished = Counter(dict.fromkeys(KINDS, 0))    # every byte echoed
        self.resets = 0                         # connections we reset on purpose
        self.sent = self.verified = 0
        self.errors = Counter()                 # kind of error -> count
        self.examples = {}                      # kind of error -> its first message

    def as_dict(self):
        return {"connections": self.connections, "opened": dict(self.opened),
                "finished": dict(self.finished), "resets": self.resets,
                "bytes_sent": self.sent, "bytes_verified": self.verified,
                "errors": dict(self.errors), "error_examples": self.examples}


class Churn:
    """Keeps up to ``max_conns`` connections to ``addr`` busy; see the module docstring."""

    def __init__(self, addr, max_conns, rng):
        self.addr, self.rng = addr, rng
        self.family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.max_idle = max_conns // IDLE_SHARE
        self.max_busy = max_conns - self.max_idle
        self.pattern = rng.randbytes(PATTERN_SIZE)
        self.view = memoryview(self.pattern)
        self.sel = selectors.DefaultSelector()
        self.conns = set()
        self.idle = 0                           # of them, idle kind
        self.stats = ChurnStats()
        self.fatal = None                       # the first wrong byte, if any

    def run_until(self, deadline, should_stop):
        """Keep every slot busy until ``deadline`` (monotonic), a fatal error or
        should_stop() (asked every TICK_S)."""
        self._loop(deadline, should_stop, top_up=True)

    def drain(self, timeout, should_stop):
        """Start nothing new; let every connection finish (within ``timeout`` s).

        A connection still open after ``timeout`` counts as stalled and is closed.
        """
        now = time.monotonic()
        for c in self.conns:
            c.hurry(now)
        self._loop(now + timeout, lambda: not self.conns or should_stop(), top_up=False)
        if self.fatal is None and not should_stop():
            for c in list(self.conns):
                self._fail(c, "stalled", f"{c.plan.kind}: not finished {timeout:.0f} s after "
                                         f"the drain began ({c.received}/{c.total} B echoed)")

    def close(self):
        for c in list(self.conns):
            self._close(c)
        self.sel.close()

    # --- the loop ------------------------------------------------------------

    def _loop(self, deadline, should_stop, top_up):
        next_tick = 0.0
        while self.fatal is None:
            now = time.monotonic()
            if now >= deadline:
                return
            if now >= next_tick:
                if should_stop():
                    return
                self._tick(now)
                next_tick = now + TICK_S
            if top_up:
                self._top_up(now)
            if not self.sel.get_map():
                time.sleep(min(TICK_S, deadline - now))
                continue
            for key, mask in self.sel.select(min(TICK_S, deadline - now)):
                self._on_event(key.data, mask)

    def _tick(self, now):
        """Deferred sends and reads that fall due; stalls."""
        for c in list(self.conns):
            if c.stalled(now):
                what = "connect" if not c.connected else f"{c.received}/{c.total} B echoed"
                self._fail(c, "stalled", f"{c.plan.kind}: no progress for {STALL_S:.0f} s ({what})")
            else:
                self._update(c, now)

    def _top_up(self, now):
        for _ in range(min(OPEN_PER_TICK, self.max_busy - (len(self.conns) - self.idle))):
            self._open(plan_busy(self.rng), now)
        for _ in range(min(OPEN_PER_TICK, self.max_idle - self.idle)):
            self._open(plan_idle(self.rng), now)

    def _open(self, plan, now):
        c = Conn(plan, self.rng.randrange(PATTERN_SIZE - sum(plan.sizes) + 1), self.family, now)
        self.conns.add(c)
        self.idle += plan.kind == "idle"
        err = c.sock.connect_ex(self.addr)
        if err not in (0, errno.EINPROGRESS):
            return self._fail(c, "connect failed", errno.errorcode.get(err, str(err)))
        self._update(c, now)

    def _on_event(self, c, mask):
        if c not in self.conns:                 # closed earlier in this batch
            return
        now = time.monotonic()
        if not c.connected:
            self._connected(c, now)
        else:
            if mask & selectors.EVENT_READ:
                self._read(c, now)
            if c in self.conns and mask & selectors.EVENT_WRITE:
                self._write(c, now)
        if c in self.conns:
            self._update(c, now)

    def _connected(self, c, now):
        err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            return self._fail(c, "connect failed", errno.errorcode.get(err, str(err)))
        c.connected, c.progress_at = True, now
        self.stats.connections += 1
        self.stats.opened[c.plan.kind] += 1

    def _read(self, c, now):
        try:
            data = c.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return
        except ConnectionResetError:
            return self._fail(c, "reset by server", self._where(c))
        if not data:
            if c.plan.half_close and c.received == c.total:
                return self._finish(c)
            return self._fail(c, "early EOF", self._where(c))
        if len(data) > c.sent - c.received:
            self.fatal = f"{c.plan.kind}: echoed {len(data)} B, only {c.sent - c.received} B outstanding"
            return self._fail(c, "extra bytes", self.fatal)
        start = c.base + c.received
        expected = self.pattern[start:start + len(data)]
        if data != expected:
            i = first_difference(data, expected)
            self.fatal = (f"{c.plan.kind}: byte {c.received + i} of the stream is "
                          f"{data[i]:#04x}, sent {expected[i]:#04x}")
            return self._fail(c, "wrong bytes", self.fatal)
        c.received += len(data)
        c.progress_at = now
        self.stats.verified += len(data)
        if c.received == c.total and not c.plan.half_close:
            self._finish(c)

    def _write(self, c, now):
        start = c.base + c.sent
        try:
            n = c.sock.send(self.view[start:c.base + c.send_limit()])
        except BlockingIOError:
            return
        except (ConnectionResetError, BrokenPipeError):
            return self._fail(c, "reset by server", self._where(c))
        c.sent += n
        c.progress_at = now
        self.stats.sent += n
        if c.reset_after is not None and c.sent >= c.reset_after:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_0)
            self.stats.resets += 1
            self._close(c)
        elif c.plan.half_close and c.sent == c.total and not c.shut:
            c.sock.shutdown(socket.SHUT_WR)
            c.shut = True

    # --- bookkeeping -----------------------------------------------------------

    def _update(self, c, now):
        """Register the interest ``c`` has now with the selector."""
        events = c.interest(now)
        if events == c.events:
            return
        if not c.events:
            self.sel.register(c.sock, events, c)
        elif not events:
            self.sel.unregister(c.sock)
        else:
            self.sel.modify(c.sock, events, c)
        c.events = events

    def _where(self, c):
        return f"{c.plan.kind}: {c.sent}/{c.total} B sent, {c.received} B echoed"

    def _finish(self, c):
        self.stats.finished[c.plan.kind] += 1
        self._close(c)

    def _fail(self, c, kind, detail):
        self.stats.errors[kind] += 1
        self.stats.examples.setdefault(kind, detail)
        self._close(c)

    def _close(self, c):
        if c.events:
            self.sel.unregister(c.sock)
        c.sock.close()
        self.conns.remove(c)
        self.idle -= c.plan.kind == "idle"
