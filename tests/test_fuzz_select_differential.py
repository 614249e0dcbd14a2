"""Differential fuzzing of pymux.select and pymux.selectors against the stdlib.

hypothesis draws a scenario for one target (select(), poll, epoll, or one of
the three selector classes): the objects its calls will use (sockets, their
fd numbers, closed, negative and huge fds, objects whose fileno() raises,
returns a non-int, a negative or huge int, or changes between calls,
non-fd values) and a sequence of calls with arguments of every numeric type
(int, bool, float, nan, inf, -0.0, huge ints, Fraction, Decimal, complex,
None, str, objects with __index__, __float__ or __int__), mixed with socket
traffic (send, drain, half-close, close). The scenario runs on a stdlib
target and on a pymux one, call by call, each side with fresh equivalent
objects on the same fds: both must return equal results (types included)
or raise the same exception type (and errno), except for
DELIBERATE_DIFFERENCES, the one list of them (the README repeats it).

Nothing blocks for long. Every waiting target watches a sentinel socket for
reading; a watchdog thread makes it readable once the main thread has sat in
a wait system call for BLOCKED_S, so a wait the timeout lets block returns
at once with the sentinel, and one that ends by itself (timeout 0, or a
millisecond or two: timeouts between those and a second are not drawn)
returns without it. So both sides must agree on how they read every
timeout, "forever" included.

Budget: PYMUX_FUZZ_EXAMPLES scenarios per target (default 100: about 20 s
for the six targets), derandomized so that CI runs the same ones every time.
For a long run, raise it (PYMUX_FUZZ_EXAMPLES=100000); PYMUX_FUZZ_SEED=N
draws other scenarios, reproducibly.
"""
import errno
import faulthandler
import fcntl
import math
import os
import platform
import select as std_select
import selectors as std_selectors
import socket
import threading
import time
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, seed, settings
from hypothesis import strategies as st

import pymux.select as mux_select
import pymux.selectors as mux_selectors
from pypy_deviations import ON_PYPY

if ON_PYPY:
    # The reference is CPython's select module. PyPy's differs from it in the
    # ways tests/pypy_deviations.py names (and lacks constants drawn here), so
    # a PyPy stdlib side is no oracle; pymux on PyPy is held to CPython's
    # behaviour by the contract tests. CI runs this fuzzer on CPython.
    pytest.skip("PyPy's select module is not the CPython reference this fuzzer compares with "
                "(tests/pypy_deviations.py)", allow_module_level=True)

EXAMPLES = int(os.environ.get("PYMUX_FUZZ_EXAMPLES", "100"))
SEED = os.environ.get("PYMUX_FUZZ_SEED")    # other scenarios than CI's, reproducibly
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=SEED is None,
                    database=None, suppress_health_check=list(HealthCheck))
HANG_GUARD = 600 + EXAMPLES     # seconds; only a real hang trips it

# What pymux does differently on purpose (the README's "Use it" and
# "Selectors" list them too): name -> (reason, covers). covers(scenario,
# call, std, mux) says whether a compared call is the difference; the
# scenario stops there, the two sides being allowed to differ from then on.
DELIBERATE_DIFFERENCES = {
    "fds >= 2**20 in poll": (
        "poll.register() and PollSelector.register() refuse fds >= 2**20 (none can be "
        "open under the kernel's default fs.nr_open) with OSError(EBADF); the stdlib's "
        "take them and poll reports POLLNVAL",
        lambda scenario, call, std, mux: (
            call.name == "register" and std.ok and not mux.ok and mux.errno == errno.EBADF
            and any(2**20 <= fd <= 2**31 - 1 for fd in scenario.fds_of(call.subject())))),
    "selectors after close()": (
        "after close(), PollSelector and SelectSelector forget their fds; the stdlib's "
        "keep polling fds whose keys are gone (its SelectSelector raises EBADF once one "
        "is closed)",
        lambda scenario, call, std, mux: (
            call.name == "close" and scenario.target in ("PollSelector", "SelectSelector"))),
    "failed register() of a changing fileno()": (
        "PollSelector and EpollSelector roll a failed register() or modify() back by the "
        "fd they registered; the stdlib's look the object up again, so one whose fileno() "
        "changed meanwhile gets KeyError and leaves a stale key (or drops another's)",
        lambda scenario, call, std, mux: (
            scenario.target in ("PollSelector", "EpollSelector")
            and call.name in ("register", "modify") and not (std.ok and mux.ok)
            and scenario.changing(call.subject()))),
    "result order": (
        "poll.poll(), epoll.poll() and the selectors' select() list the ready fds in the "
        "backend's order (the stdlib leaves it unspecified): compared sorted",
        None),
    "maxevents": (
        "epoll.poll() reports at most 65,536 events per call where the stdlib allocates "
        "maxevents * 12 bytes up front: maxevents above 2**22 are not drawn",
        None),
    # Not met by the fuzzer's calls (one thread, the stdlib's arguments only):
    "select() from two threads": (
        "select() from two threads at once on one selector raises RuntimeError (the "
        "stdlib's PollSelector does too; its other selectors let both wait)",
        None),
    "edge_triggered": (
        "the selectors take a keyword-only edge_triggered (True: EpollSelector only)",
        None),
}

BLOCKED_S = 0.02        # in a wait syscall this long: the wait blocks
FALLBACK_S = 2.0        # no /proc syscall file: fire after this long anyway
# Wait system calls by machine (glibc's select() is pselect6, and so on).
WAIT_SYSCALLS = {
    "x86_64": {b"7", b"23", b"232", b"270", b"271", b"281", b"441"},
    "aarch64": {b"22", b"72", b"73", b"441"},
}.get(platform.machine(), set())

MODULES = {"stdlib": (std_select, std_selectors), "pymux": (mux_select, mux_selectors)}


# --- values -------------------------------------------------------------------

def _number_like(name, method):
    """A class whose instances turn into their value through `method` only."""
    return type(name, (), {
        "__init__": lambda self, value: setattr(self, "value", value),
        method: lambda self: self.value,
        "__repr__": lambda self: f"{name}({self.value!r})",
    })


Index = _number_like("Index", "__index__")
Floaty = _number_like("Floaty", "__float__")
Inty = _number_like("Inty", "__int__")


class FilenoError(Exception):
    pass


SPECIAL_INTS = [0, 1, -1, 2, 3, 4, 5, 7, 8, 16, 0x7FFF, 0xFFFF, 0x10000, 2**20, 2**29,
                2**31 - 1, 2**31, -2**31, -2**31 - 1, 2**32 - 1, 2**32, 2**63 - 1, 2**63,
                -2**63, 2**64, 10**30, -10**30]
SPECIAL_FLOATS = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 1.5, 1e-9, -1e-9, 0.0001, -0.0001, 0.001,
                  -0.001, 2147483.647, 2147483.648, 2147483647.0, 2147483648.0, 9.2e9, 9.3e9,
                  -9.223372036854776e9, 1e300, -1e300, math.inf, -math.inf, math.nan, 5e-324]

NUMBERS = st.one_of(
    st.sampled_from(SPECIAL_INTS),
    st.integers(min_value=-2**70, max_value=2**70),
    st.booleans(),
    st.sampled_from(SPECIAL_FLOATS),
    st.floats(),
    st.sampled_from([Fraction(0), Fraction(1, 2), Fraction(-1), Fraction(3), Decimal(0),
                     Decimal("-1"), Decimal("0.5"), Decimal("NaN"), 0j, 1j, complex(1, 0)]),
    st.sampled_from([None, "1", "", b"1", [], object()]),
    st.builds(Index, st.sampled_from(SPECIAL_INTS + [1.5, "1", None])),
    st.builds(Floaty, st.sampled_from(SPECIAL_FLOATS + [1, "1"])),
    st.builds(Inty, st.sampled_from(SPECIAL_INTS + [1.5])),
)


def _number(value):
    """value as a float, if it has one."""
    for convert in (float, lambda v: float(v.real)):
        try:
            return convert(value)
        except Exception:   # noqa: BLE001 - anything that is no number
            pass
    return None


def timeouts(unit_s):
    """Timeouts for a wait counting in units of unit_s seconds, usable ones
    first: none whose wait ends by itself between 2 ms and 1 s, where the
    watchdog could not tell "ends by itself" from "blocks"."""
    def clear(value):
        size = _number(value)
        return size is None or not 0.002 < size * unit_s < 1.0
    usable = [0, 0, 0.0, -1, -1.0, -0.5, 0.001 / unit_s, 5.0 / unit_s, int(5 / unit_s)]
    return st.one_of(st.sampled_from(usable), st.sampled_from(usable), NUMBERS).filter(clear)


EVENTS = st.one_of(st.sampled_from([1, 2, 3]), st.sampled_from([1, 2, 3]), NUMBERS)
DATA = st.sampled_from([None, 1, 1.0, True, "d", math.nan])
MASKS = st.one_of(
    st.sampled_from([std_select.POLLIN, std_select.POLLOUT, std_select.POLLIN | std_select.POLLOUT]),
    st.sampled_from([std_select.POLLIN, std_select.POLLOUT, std_select.POLLIN | std_select.POLLOUT,
                     std_select.POLLPRI, std_select.POLLRDHUP, std_select.EPOLLET | 1,
                     std_select.EPOLLONESHOT | 4, std_select.EPOLLEXCLUSIVE | 1,
                     std_select.EPOLLIN | std_select.EPOLLOUT]),
    NUMBERS)


def _huge_maxevents(value):
    """Whether the stdlib would allocate gigabytes for this maxevents."""
    n = value.value if isinstance(value, Index) else value
    return isinstance(n, int) and 2**22 < n < 2**31


MAXEVENTS = NUMBERS.filter(lambda v: not _huge_maxevents(v))   # DELIBERATE_DIFFERENCES["maxevents"]


# --- the objects a scenario's calls use ---------------------------------------

# Specs, materialized per side (so each side gets its own fresh objects):
#   ("sock", i)         pool socket i          ("int", i)  its fd number
#   ("closed",)         a closed fd number     ("high",)   an open fd >= FD_SETSIZE
#   ("file",)           a regular file         ("value", v) v itself
#   ("fileno", inner)   an object whose fileno() returns inner's value or raises
#   ("changing", a, b)  fileno() returns a, then b, then a...
#   ("no fileno",)      an object without fileno
N_SOCKS = 3
FD_INTS = st.one_of(st.tuples(st.just("int"), st.integers(0, N_SOCKS - 1)),
                    st.sampled_from([("closed",), ("high",), ("file",)]))
FILENO_RESULTS = st.one_of(
    FD_INTS,
    st.tuples(st.just("value"), st.sampled_from(
        [-1, -5, 2**20, 2**31 - 1, 2**31, 2**64, True, "3", 1.5, None, Index(3)])),
    st.tuples(st.just("raise"), st.sampled_from(
        [FilenoError, ValueError, TypeError, OSError, AttributeError])),
)
SOCKS = st.tuples(st.just("sock"), st.integers(0, N_SOCKS - 1))
OBJECTS = st.one_of(   # usable ones first
    SOCKS, SOCKS, SOCKS, FD_INTS, FD_INTS,
    st.tuples(st.just("value"), st.sampled_from(
        [-1, -2**31 - 1, 2**20, 2**31 - 1, 2**31, 2**63, 1.5, 3.0, "3", None, b"3", True])),
    st.tuples(st.just("fileno"), FILENO_RESULTS),
    st.tuples(st.just("changing"), FD_INTS, st.one_of(FD_INTS, st.tuples(
        st.just("value"), st.sampled_from([2**31, -1, 5000, "x"])))),
    st.just(("no fileno",)),
)


class FileNo:
    """fileno() gives the next of `results` (cycling): a value or an exception."""

    def __init__(self, results):
        self.results, self.calls = results, 0

    def fileno(self):
        result = self.results[self.calls % len(self.results)]
        self.calls += 1
        if isinstance(result, type):
            raise result("fileno")
        return result

    def __repr__(self):
        return f"FileNo({self.results!r})"


class NoFileno:
    def __repr__(self):
        return "NoFileno()"


class Pool:
    """The real fds a scenario uses, shared by both sides."""

    def __init__(self):
        self.made = []
        # Holds the number `closed` names until release_closed(): nothing
        # made before then (the targets) may get it.
        self.placeholder = socket.socket()
        self.closed = self.placeholder.fileno()
        self.sentinel, self.sentinel_peer = self._pair()
        self.socks, self.peers = [], []
        for _ in range(N_SOCKS):
            a, b = self._pair()
            self.socks.append(a)
            self.peers.append(b)
        self.ints = [s.fileno() for s in self.socks]
        self.file = open(__file__, "rb")    # noqa: SIM115 - closed in close()
        self.high = self._high_fd()

    def _pair(self):
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        self.made += [a, b]
        return a, b

    def _high_fd(self):
        """An open fd >= FD_SETSIZE if RLIMIT_NOFILE allows one, else -1."""
        try:
            fd = fcntl.fcntl(self.socks[0].fileno(), fcntl.F_DUPFD_CLOEXEC, 1100)
        except OSError:
            return -1
        self.made.append(socket.socket(fileno=fd))
        return fd

    def value(self, spec):
        kind = spec[0]
        if kind == "int":
            return self.ints[spec[1]]
        if kind == "closed":
            return self.closed
        if kind == "high":
            return self.high if self.high >= 0 else 2000
        if kind == "file":
            return self.file.fileno()
        if kind == "value":
            return spec[1]
        if kind == "raise":
            return spec[1]
        raise AssertionError(spec)

    def materialize(self, spec):
        """A fresh object for one side."""
        kind = spec[0]
        if kind == "sock":
            return self.socks[spec[1]]
        if kind == "fileno":
            return FileNo([self.value(spec[1])])
        if kind == "changing":
            return FileNo([self.value(spec[1]), self.value(spec[2])])
        if kind == "no fileno":
            return NoFileno()
        return self.value(spec)

    def release_closed(self):
        self.placeholder.close()

    def close(self):
        for sock in self.made:
            sock.close()
        self.placeholder.close()
        self.file.close()

    def drain_sentinel(self):
        try:
            while self.sentinel.recv(4096):
                pass
        except BlockingIOError:
            pass


# --- running one call on one side ----------------------------------------------

class Watchdog:
    """Runs a call in this thread; makes the sentinel readable once the
    call has sat in a wait system call for BLOCKED_S (or has run for
    FALLBACK_S)."""

    def __init__(self):
        self.pool = None
        self.fired = 0
        tid = threading.get_native_id()
        try:
            self.proc = os.open(f"/proc/self/task/{tid}/syscall", os.O_RDONLY | os.O_CLOEXEC)
            self.stat = os.open(f"/proc/self/task/{tid}/stat", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            if getattr(self, "proc", -1) >= 0:
                os.close(self.proc)
            self.proc = self.stat = -1

    def _in_wait_syscall(self):
        """Asleep (state S) in a wait system call. Not a wait whose timeout
        expired but whose thread has not run yet (state R, still in the
        call): the sentinel sent then could be seen by one side's final
        rescan and not by the other's."""
        if self.proc < 0:
            return False
        try:
            in_wait = os.pread(self.proc, 64, 0).split(b" ", 1)[0] in WAIT_SYSCALLS
            return in_wait and os.pread(self.stat, 512, 0).rpartition(b")")[2].split()[0] == b"S"
        except OSError:
            return False

    def _watch(self, done):
        started = time.monotonic()
        blocked_since = None
        while not done.wait(0.002):
            now = time.monotonic()
            if self._in_wait_syscall():
                blocked_since = blocked_since or now
            else:
                blocked_since = None
            if (blocked_since and now - blocked_since >= BLOCKED_S) or now - started >= FALLBACK_S:
                self.pool.sentinel_peer.send(b"!")
                self.fired += 1
                return

    def run(self, call):
        done = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(done,))
        watcher.start()
        try:
            return call()
        finally:
            done.set()
            watcher.join()
            self.pool.drain_sentinel()

    def close(self):
        if self.proc >= 0:
            os.close(self.proc)
            os.close(self.stat)


class Outcome:
    """What one call did: a normalized result, or an exception's type and errno."""

    def __init__(self, ok, value=None, exc=None):
        self.ok, self.value = ok, value
        self.exc_type = type(exc) if exc is not None else None
        self.errno = getattr(exc, "errno", None) if isinstance(exc, OSError) else None
        self.exc = exc

    def __eq__(self, other):
        if self.ok or other.ok:
            return self.ok == other.ok and self.value == other.value
        return (self.exc_type, self.errno) == (other.exc_type, other.errno)

    def __repr__(self):
        return f"returned {self.value!r}" if self.ok else f"raised {self.exc!r}"


class Call:
    """One call of a scenario: method name, positional and keyword arguments
    (as specs: ("obj", index) for a scenario object, else the value)."""

    def __init__(self, name, args=(), kwargs=None, waits=False):
        self.name, self.args, self.kwargs = name, tuple(args), dict(kwargs or {})
        self.waits = waits

    def subject(self):
        """The first argument, in a list: what register() and the like act on."""
        return list(self.args[:1]) or list(self.kwargs.values())[:1]

    def __repr__(self):
        args = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(args)})"


class Side:
    """One side of a scenario: a module pair, its target and its objects."""

    def __init__(self, name, pool, object_specs):
        self.name = name
        self.select, self.selectors = MODULES[name]
        self.pool = pool
        self.objects = [pool.materialize(spec) for spec in object_specs]
        self.target = None

    def resolve(self, arg):
        if isinstance(arg, tuple) and len(arg) == 2 and arg[0] == "obj":
            return self.objects[arg[1]]
        if isinstance(arg, SelectList):
            return arg.build(self)
        return arg

    def normalize(self, value):
        """value with objects replaced by stable names, numbers tagged with
        their type (1 and 1.0 and True differ), floats by repr (nan)."""
        if value is self.target:
            return "<target>"
        if value is self.pool.sentinel:
            return "<sentinel>"
        for i, obj in enumerate(self.objects):
            if value is obj and not isinstance(obj, (int, float, str, bytes)) and obj is not None:
                return ("obj", i)
        if isinstance(value, std_selectors.SelectorKey):
            return ("key",) + tuple(self.normalize(v) for v in value)
        if isinstance(value, (list, tuple)):
            return type(value).__name__, [self.normalize(v) for v in value]
        if isinstance(value, (bool, int)):
            return type(value).__name__, value
        if isinstance(value, float):
            return "float", repr(value)
        return value

    def outcome(self, call, watchdog):
        args = [self.resolve(a) for a in call.args]
        kwargs = {k: self.resolve(v) for k, v in call.kwargs.items()}
        method = getattr(self, f"call_{call.name}", None)
        if method is not None:
            run = lambda: method(*args, **kwargs)    # noqa: E731
        else:
            run = lambda: getattr(self.target, call.name)(*args, **kwargs)    # noqa: E731
        try:
            value = watchdog.run(run) if call.waits else run()
        except Exception as exc:    # noqa: BLE001 - compared with the other side's
            return Outcome(False, exc=exc)
        if call.name in ("poll", "select") and isinstance(value, list):
            return Outcome(True, sorted(map(repr, self.normalize(value)[1])))
        return Outcome(True, self.normalize(value))

    # Calls that are not a target method.
    def call_select_function(self, *args, **kwargs):
        return self.select.select(*args, **kwargs)

    def call_fromfd(self, *args, **kwargs):
        self.select.epoll.fromfd(*args, **kwargs).close()
        return "<a new epoll>"

    def call_closed(self):
        return self.target.closed

    def call_fileno(self):
        fd = self.target.fileno()
        return "<an fd>" if type(fd) is int and fd >= 0 else fd

    def call_get_map_items(self):
        mapping = self.target.get_map()
        return None if mapping is None else [(k, v) for k, v in mapping.items()]

    def call_map_lookup(self, fileobj):
        return self.target.get_map()[fileobj]


class SelectList:
    """A select() argument: a list, tuple, iterator or non-sequence of
    scenario objects (plus the sentinel, in rlist)."""

    def __init__(self, kind, items, sentinel=False):
        self.kind, self.items, self.sentinel = kind, items, sentinel

    def build(self, side):
        if self.kind == "not a sequence":
            return 3
        objs = [side.resolve(i) for i in self.items]
        if self.kind == "many":
            objs *= 1025
        if self.sentinel:
            objs.append(side.pool.sentinel)
        if self.kind == "tuple":
            return tuple(objs)
        if self.kind == "iterator":
            return iter(objs)
        return objs

    def __repr__(self):
        return f"{self.kind}{self.items!r}{' + sentinel' if self.sentinel else ''}"


# --- scenarios ----------------------------------------------------------------

TARGETS = ["select", "poll", "epoll", "SelectSelector", "PollSelector", "EpollSelector"]
TRAFFIC = ["send", "drain", "shut_down_peer", "close_sock"]


def _obj(n):
    return st.integers(0, n - 1).map(lambda i: ("obj", i))


def _maybe_keyword(draw, name, positional, keyword_names):
    """Call `name` with its arguments, now and then as keywords (which the
    stdlib refuses for some)."""
    if positional and draw(st.integers(0, 9)) == 0:
        return Call(name, (), dict(zip(keyword_names, positional)))
    return Call(name, positional)


@st.composite
def select_calls(draw, n):
    def a_list(sentinel):
        kind = draw(st.sampled_from(["list", "list", "tuple", "iterator", "many",
                                     "not a sequence"]))
        items = draw(st.lists(_obj(n), max_size=4))
        return SelectList(kind, items, sentinel)
    args = [a_list(True), a_list(False), a_list(False)]
    if draw(st.booleans()):
        args.append(draw(timeouts(1.0)))
    call = _maybe_keyword(draw, "select_function", args, ["rlist", "wlist", "xlist", "timeout"])
    call.waits = True
    return call


def _fd_call(draw, name, n):
    """register(), modify() or unregister() of a poll or epoll object."""
    args = [draw(_obj(n))]
    if name == "modify" or name == "register" and draw(st.booleans()):
        args.append(draw(MASKS))
    return _maybe_keyword(draw, name, args, ["fd", "eventmask"])


@st.composite
def poll_calls(draw, n):
    name = draw(st.sampled_from(["register", "register", "modify", "unregister", "poll", "poll"]))
    if name != "poll":
        return _fd_call(draw, name, n)
    args = [draw(timeouts(0.001))] if draw(st.booleans()) else []
    call = _maybe_keyword(draw, "poll", args, ["timeout"])
    call.waits = True
    return call


@st.composite
def epoll_calls(draw, n):
    name = draw(st.sampled_from(["register", "register", "modify", "unregister", "poll", "poll",
                                 "close", "closed", "fileno", "__enter__", "fromfd"]))
    if name in ("register", "modify", "unregister"):
        return _fd_call(draw, name, n)
    if name == "poll":
        args = []
        if draw(st.booleans()):
            args.append(draw(timeouts(1.0)))
            if draw(st.booleans()):
                args.append(draw(MAXEVENTS))
        call = _maybe_keyword(draw, name, args, ["timeout", "maxevents"])
        call.waits = True
        return call
    if name == "fromfd":
        # Never a real fd: the new object would own (and close) it.
        value = draw(st.sampled_from([-1, -1, "3", 1.5, None, 2**31, -2**31 - 1, Index(-1)]))
        return _maybe_keyword(draw, name, [value], ["fd"])
    return Call(name)


@st.composite
def selector_calls(draw, n, epoll):
    names = ["register", "register", "modify", "modify", "unregister", "select", "select",
             "get_key", "get_map_items", "map_lookup", "close"] + (["fileno"] if epoll else [])
    name = draw(st.sampled_from(names))
    if name in ("register", "modify"):
        args = [draw(_obj(n)), draw(EVENTS)]
        if draw(st.booleans()):
            args.append(draw(DATA))
        return _maybe_keyword(draw, name, args, ["fileobj", "events", "data"])
    if name in ("unregister", "get_key", "map_lookup"):
        return Call(name, [draw(_obj(n))])
    if name == "select":
        args = [draw(timeouts(1.0))] if draw(st.booleans()) else []
        call = _maybe_keyword(draw, name, args, ["timeout"])
        call.waits = True
        return call
    return Call(name)


CALLS = {"select": lambda n: select_calls(n), "poll": lambda n: poll_calls(n),
         "epoll": lambda n: epoll_calls(n),
         "SelectSelector": lambda n: selector_calls(n, epoll=False),
         "PollSelector": lambda n: selector_calls(n, epoll=False),
         "EpollSelector": lambda n: selector_calls(n, epoll=True)}


@st.composite
def scenarios(draw, target):
    objects = draw(st.lists(OBJECTS, min_size=1, max_size=6))
    n = len(objects)
    traffic = st.tuples(st.sampled_from(TRAFFIC), st.integers(0, N_SOCKS - 1))
    steps = draw(st.lists(st.one_of(CALLS[target](n), CALLS[target](n), traffic),
                          min_size=1, max_size=15))
    constructor = ()
    if target == "epoll" and draw(st.integers(0, 3)) == 0:
        constructor = tuple(draw(st.lists(NUMBERS, max_size=2)))
    return Scenario(target, objects, steps, constructor)


class Scenario:
    def __init__(self, target, objects, steps, constructor):
        self.target, self.objects, self.steps = target, objects, steps
        self.constructor = constructor

    def __repr__(self):
        return (f"Scenario({self.target}{self.constructor!r}, objects={self.objects!r}, "
                f"steps={self.steps!r})")

    def _make_target(self, side):
        """Makes the side's target, watching the sentinel for reading."""
        if self.target == "select":
            return Outcome(True)
        try:
            if self.target == "poll":
                side.target = side.select.poll()
                side.target.register(side.pool.sentinel, std_select.POLLIN)
            elif self.target == "epoll":
                side.target = side.select.epoll(*self.constructor)
                side.target.register(side.pool.sentinel, std_select.EPOLLIN)
            else:
                side.target = getattr(side.selectors, self.target)()
                side.target.register(side.pool.sentinel, std_selectors.EVENT_READ, "sentinel")
        except Exception as exc:    # noqa: BLE001 - compared with the other side's
            return Outcome(False, exc=exc)
        return Outcome(True)

    def fds_of(self, args):
        """Every int fd the objects among args may stand for."""
        fds = set()
        for arg in args:
            if isinstance(arg, tuple) and arg[0] == "obj":
                fds |= self._spec_fds(self.objects[arg[1]])
        return fds

    def changing(self, args):
        """Whether an object among args has a fileno() that changes."""
        return any(isinstance(arg, tuple) and arg[0] == "obj"
                   and self.objects[arg[1]][0] == "changing" for arg in args)

    def _spec_fds(self, spec):
        kind = spec[0]
        if kind == "value":
            return {spec[1]} if type(spec[1]) is int else set()
        if kind in ("fileno", "changing"):
            return set().union(*(self._spec_fds(inner) for inner in spec[1:]))
        return set()    # the pool's fds are all below 2**20

    def run(self):
        watchdog = Watchdog()   # opens its /proc file before the pool's fds
        pool = watchdog.pool = Pool()
        sides = [Side(name, pool, self.objects) for name in MODULES]
        try:
            made = [self._make_target(side) for side in sides]
            pool.release_closed()
            assert made[0] == made[1], f"constructor: stdlib {made[0]!r}, pymux {made[1]!r}"
            if not made[0].ok:
                _event("constructor raised")
                return
            for step in self.steps:
                if isinstance(step, tuple):
                    self._traffic(pool, *step)
                    continue
                std, mux = (side.outcome(step, watchdog) for side in sides)
                difference = _deliberate(self, step, std, mux)
                if difference:
                    _event(f"stopped: {difference}")
                    return
                assert std == mux, f"{step!r}: stdlib {std!r}, pymux {mux!r}"
                _event(f"{step.name}: {'returned' if std.ok else std.exc_type.__name__}")
        finally:
            _event(f"blocking waits: {watchdog.fired}")
            for side in sides:
                if side.target is not None and hasattr(side.target, "close"):
                    side.target.close()
            watchdog.close()
            pool.close()

    @staticmethod
    def _traffic(pool, action, i):
        sock, peer = pool.socks[i], pool.peers[i]
        try:
            if action == "send":
                peer.send(b"x")
            elif action == "drain":
                while sock.recv(4096):
                    pass
            elif action == "shut_down_peer":
                peer.shutdown(socket.SHUT_WR)
            else:
                sock.close()
        except OSError:     # closed, shut down, nothing to read
            pass


def _event(text):
    """A line of --hypothesis-show-statistics (when hypothesis runs us)."""
    if currently_in_test_context():
        event(text)


def _deliberate(scenario, call, std, mux):
    """The name of the deliberate difference this call's outcomes are, if any."""
    for name, (_, covers) in DELIBERATE_DIFFERENCES.items():
        if covers is not None and covers(scenario, call, std, mux):
            return name
    return None


# --- the tests ----------------------------------------------------------------

@pytest.fixture
def hang_guard():
    faulthandler.dump_traceback_later(HANG_GUARD, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def _seeded(test):
    return seed(int(SEED))(test) if SEED is not None else test


@pytest.mark.parametrize("target", TARGETS)
@_seeded
@SETTINGS
@given(data=st.data())
def test_pymux_matches_the_stdlib_on_random_calls(hang_guard, target, data):
    data.draw(scenarios(target), label="scenario").run()


# --- the harness itself -------------------------------------------------------

def test_the_watchdog_ends_a_blocking_wait_and_leaves_a_short_one_alone(hang_guard):
    watchdog = Watchdog()
    watchdog.pool = pool = Pool()
    try:
        sentinel = pool.sentinel
        assert watchdog.run(lambda: std_select.select([sentinel], [], [])) == ([sentinel], [], [])
        assert watchdog.fired == 1
        assert watchdog.run(lambda: std_select.select([sentinel], [], [], 0.001)) == ([], [], [])
        assert watchdog.fired == 1
        assert std_select.select([sentinel], [], [], 0) == ([], [], [])     # drained
    finally:
        watchdog.close()
        pool.close()


def test_the_comparison_catches_a_different_result(monkeypatch):
    monkeypatch.setattr(mux_select.poll, "poll", lambda self, *args: [])
    scenario = Scenario("poll", [("sock", 0)], [
        ("send", 0), Call("register", [("obj", 0), std_select.POLLIN]), Call("poll", [0], waits=True)
    ], ())
    with pytest.raises(AssertionError, match="poll"):
        scenario.run()
