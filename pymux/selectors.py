"""Drop-in for the stdlib ``selectors`` module on Linux, faster.

``import pymux.selectors as selectors`` and code written for the stdlib runs
unchanged: the same names (``SelectorKey``, ``BaseSelector``, ``EVENT_READ``
and ``EVENT_WRITE`` are the stdlib's own objects, so ``isinstance`` checks
keep working), the same methods, results and exceptions, and
``asyncio.SelectorEventLoop(pymux.selectors.DefaultSelector())`` works.

Where the speed comes from: a C table (csrc/mux_selector.c) knows each
registered fd's interest, so one C call per select() waits and leaves one
int code (fd * 4 + events, already translated and masked the stdlib's way)
per ready fd. Python maps each code with one dict index to a (key, events)
pair built when the fd was registered or modified: no per-event
arithmetic, lookups or tuple building. A modify() that changes only the
data makes no system call, and keys are built without namedtuple's
Python-level __new__.

Deliberate differences from the stdlib:
- ``EpollSelector(edge_triggered=True)`` registers every fd edge-triggered
  (see README: drain to EAGAIN). ``PollSelector`` and ``SelectSelector``
  refuse it with ValueError.
- Poll and epoll selectors refuse fd numbers >= 2**20 with OSError(EBADF)
  (none can be open under the kernel's default fs.nr_open), and one
  select() reports at most 65,536 fds (the rest stay ready for the next).
- select() from two threads at once on one selector raises RuntimeError
  (the stdlib's PollSelector does too; its other selectors let both
  wait). Registering, modifying and unregistering from another thread
  during a select() work, as in the stdlib; PollSelector and
  SelectSelector apply them from the next select() on (the stdlib's
  select and poll objects, too, wait on the fds they were given when the
  wait began; on PyPy these two selectors hand their changes to C only
  when select() starts).
- After close(), PollSelector and SelectSelector forget their fds entirely
  (the stdlib's keep polling fds whose keys are gone).
- The order of select()'s list may differ (the stdlib leaves it
  unspecified, and it follows the backend's internal order).
- PollSelector and EpollSelector roll a failed register() or modify() back
  by the fd they registered (the stdlib's call fileno() again: an object
  whose fileno() changed in between gets KeyError and leaves a stale key).
tests/test_fuzz_select_differential.py compares everything else with the
stdlib (its DELIBERATE_DIFFERENCES lists these).
"""
import errno
import math
import selectors as _std
import socket
import sys
import threading
import time
from collections.abc import Mapping

from ._clib import (JIT_INLINES_CFFI, mux_selector_close, mux_selector_codes, mux_selector_fileno,
                    mux_selector_free, mux_selector_modify, mux_selector_new,
                    mux_selector_poll, mux_selector_register, mux_selector_unregister,
                    mux_selector_wait)
from ._code_table import CodeTable
from ._errors import raise_errno
from ._mux import ffi, lib
from ._timeouts import INT_MAX, retry_on_eintr, to_ns

__all__ = ["BaseSelector", "SelectorKey", "EVENT_READ", "EVENT_WRITE",
           "SelectSelector", "PollSelector", "EpollSelector", "DefaultSelector"]

# The stdlib's own objects: keys and selectors from either module pass the
# other's isinstance checks.
EVENT_READ = _std.EVENT_READ
EVENT_WRITE = _std.EVENT_WRITE
SelectorKey = _std.SelectorKey
BaseSelector = _std.BaseSelector

# Bound once: a module global load beats an attribute chain on every call.
_tuple_new = tuple.__new__      # SelectorKey(...) without the ~100 ns of its Python __new__
_socket_type = socket.socket
_EINTR = -errno.EINTR
_EBADF = -errno.EBADF
_EBUSY = -errno.EBUSY
_ENOENT = -errno.ENOENT
_FD_SETSIZE = lib.FD_SETSIZE
# CPython's sets iterate in an order their whole add/discard history
# decides; PyPy's in insertion order (see SelectSelector._select_order).
_SETS_ITERATE_BY_HASH = sys.implementation.name != "pypy"
# Poll and select selectors hand their changes to C at the next select()
# (see _BaseSelectorImpl) where a C call costs more than Python's work.
_DEFERS = JIT_INLINES_CFFI
_monotonic_ns = time.monotonic_ns
_unpack = ffi.unpack


def _fileobj_to_fd(fileobj):
    """An fd from an int or an object with fileno(), exactly as the stdlib's
    selectors module: ValueError for anything unusable, int() of whatever
    fileno() returns. (pymux.select's _fileno follows the select module's
    different rules: TypeError, OverflowError.)"""
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError("Invalid file object: "
                             "{!r}".format(fileobj)) from None
    if fd < 0:
        raise ValueError("Invalid file descriptor: {}".format(fd))
    return fd


def _not_registered(fileobj):
    return KeyError("{!r} is not registered".format(fileobj))


def _check_events(events):
    """The stdlib's register() check, for anything but a plain int 1..3."""
    if (not events) or (events & ~(EVENT_READ | EVENT_WRITE)):
        raise ValueError("Invalid events: {!r}".format(events))


def _interest(events):
    """The two selector-event bits of `events`, as the stdlib derives the
    kernel mask from it (any type with &)."""
    return (EVENT_READ if events & EVENT_READ else 0) | (EVENT_WRITE if events & EVENT_WRITE else 0)


def _interest_of_key(events):
    """The interest of a key's events other than an int: something
    register() masked, or (after a modify() that changed only the data) a
    value equal to such events, 2.0 for 2, say: that one's int."""
    try:
        return _interest(events)
    except TypeError:
        return _interest(int(events))


# The masked events a wait can report for an interest (see _pairs_of), and
# for each (old, new) interest the masks whose pairs go stale.
_MASKS = ((0,), (1,), (2,), (1, 2, 3))
_STALE_MASKS = tuple(tuple(tuple(m for m in _MASKS[old] if m not in _MASKS[new])
                           for new in range(4)) for old in range(4))


def _pairs_of(key, fd, interest):
    """{code: (key, events)} for every code a wait can report for this key.

    The kernel reports only events inside the interest (plus ERR/HUP, which
    count as both), so the masked events are a non-empty part of the
    interest, or 0 when the interest is empty.
    """
    events = key[2]
    base = fd * 4
    return {base + m: (key, m & events) for m in _MASKS[interest]}


class _SelectorMapping(Mapping):
    """Read-only live mapping of file objects to selector keys."""

    def __init__(self, selector):
        self._selector = selector

    def __len__(self):
        return len(self._selector._fd_to_key)

    def __getitem__(self, fileobj):
        return self._selector._key_of(fileobj)

    def __iter__(self):
        return iter(self._selector._fd_to_key)


class _BaseSelectorImpl(BaseSelector):
    """What the three selectors share: the poll-like selectors' semantics
    (SelectSelector overrides the few places where the stdlib differs).

    State: `_fd_to_key` (fd -> SelectorKey, as in the stdlib) and `_pairs`
    (code -> (key, events) for select(); a CodeTable on PyPy), always
    updated together; the C selector `_sel` holds the same fds with their
    interest, except the fds in `_pending`.

    Poll and select keep no kernel state between waits, and their waits
    poll a copy of the registrations taken when the wait starts (a change
    made during a wait shows in the next one). So for fds below
    `_DEFER_BELOW` register, modify and unregister change only Python's
    state and add the fd to `_pending`; the next select() hands each
    pending fd's state as it is then to C (_apply_pending): one C call per
    changed fd per wait instead of one per change. Epoll registers at once
    (the kernel wakes a waiting epoll_wait for a new fd). Only on PyPy
    (_DEFERS): on CPython the bookkeeping costs what the C call saves, and
    asyncio's modify, select, modify on the same fd saves no call.
    """

    _KIND = None
    _DEFER_BELOW = 0    # fds below this wait in _pending for the next select()

    def __init__(self, *, edge_triggered=False):
        if edge_triggered and self._KIND != lib.MUX_BACKEND_EPOLL:
            raise ValueError(f"{type(self).__name__} cannot be edge-triggered; "
                             "only EpollSelector can")
        err = ffi.new("int *")
        sel = mux_selector_new(self._KIND, lib.MUX_SEL_EDGE if edge_triggered else 0, err)
        if sel == ffi.NULL:
            self._raise(err[0])
        self._sel = ffi.gc(sel, mux_selector_free)
        # The C codes array as a memoryview of ints: iterating a slice of
        # it feeds map() ~8 ns/int cheaper than ffi.unpack's list. The
        # array lives (and never moves) as long as self._sel.
        codes = mux_selector_codes(sel)
        self._codes = memoryview(ffi.buffer(codes, lib.MUX_MAX_BATCH * ffi.sizeof("int"))).cast("i")
        # The same array as a cdata for ffi.unpack, which PyPy's JIT turns
        # into a copy (its memoryview reads are calls).
        self._codes_ptr = codes
        self._edge_triggered = bool(edge_triggered)
        self._fd_to_key = {}
        self._pairs = CodeTable() if JIT_INLINES_CFFI else {}
        self._pair = self._pairs.__getitem__
        self._map = _SelectorMapping(self)
        self._pending = set()
        # One thread hands _pending to C at a time: two could apply an
        # fd's states out of order.
        self._applying = threading.Lock()

    @property
    def edge_triggered(self):
        """True when every registration is edge-triggered (see README)."""
        return self._edge_triggered

    def _fileobj_lookup(self, fileobj):
        """fd of fileobj, as the stdlib finds it: ints and plain sockets (what
        asyncio and most callers pass) at once, other objects through
        _fileobj_to_fd; for an object that no longer has an fd (a closed
        socket, say), the fd it was registered with."""
        cls = fileobj.__class__
        fd = fileobj if cls is int else fileobj.fileno() if cls is _socket_type else -1
        if fd >= 0:
            return fd
        try:
            return _fileobj_to_fd(fileobj)
        except ValueError:
            for key in self._fd_to_key.values():
                if key.fileobj is fileobj:
                    return key.fd
            raise

    def _key_of(self, fileobj):
        """fileobj's key; KeyError when it is not registered."""
        try:
            return self._fd_to_key[self._fileobj_lookup(fileobj)]
        except KeyError:
            raise _not_registered(fileobj) from None

    def _key_from_fd(self, fd):
        return self._fd_to_key.get(fd)

    def _raise(self, rc):
        raise_errno(rc)

    def _register_failed(self, rc, fd):
        """The C side refused fd: roll back and raise as the stdlib's poll
        and epoll objects do."""
        self._fd_to_key.pop(fd, None)   # gone already if unregistered before _apply_pending
        self._drop_pairs(fd)
        if fd > INT_MAX:
            raise OverflowError("Python int too large to convert to C int")
        self._raise(rc)

    # The pair updates are inlined for a plain int interest other than
    # READ|WRITE (one code); other cases call the helpers.

    def register(self, fileobj, events, data=None):
        if events.__class__ is int and 0 < events < 4:
            interest = events
        else:
            _check_events(events)
            interest = _interest(events)
        fd = self._fileobj_lookup(fileobj)
        fd_to_key = self._fd_to_key
        if fd in fd_to_key:
            raise KeyError("{!r} (FD {}) is already registered".format(fileobj, fd))
        key = _tuple_new(SelectorKey, (fileobj, fd, events, data))
        # Python's state first, as in the stdlib: a select() running in
        # another thread may be woken by the kernel registration and must
        # find the key. Rolled back if the C side refuses the fd.
        fd_to_key[fd] = key
        if events.__class__ is not int:
            self._pairs.update(_pairs_of(key, fd, interest))
        elif interest != 3:
            self._pairs[fd * 4 + interest] = (key, interest)
        else:
            pairs = self._pairs
            base = fd * 4
            pairs[base + 1] = (key, 1)
            pairs[base + 2] = (key, 2)
            pairs[base + 3] = (key, 3)
        if _DEFERS and fd < self._DEFER_BELOW:
            self._pending.add(fd)   # after the Python state: see _apply_pending
            return key
        try:
            rc = mux_selector_register(self._sel, fd * 4 + interest)
        except OverflowError:   # fd >= 2**29: the code does not fit a C int
            rc = _EBADF
        if rc:
            self._register_failed(rc, fd)
        return key

    def unregister(self, fileobj):
        fd = self._fileobj_lookup(fileobj)
        if _DEFERS and fd < self._DEFER_BELOW:
            key = self._fd_to_key.pop(fd, None)
            if key is None:
                raise _not_registered(fileobj)
            self._pending.add(fd)   # after the Python state: see _apply_pending
        else:
            key = self._fd_to_key.get(fd)
            if key is None:
                raise _not_registered(fileobj)
            # Errors are ignored, as in the stdlib (the fd may be closed already).
            try:
                mux_selector_unregister(self._sel, fd)
            except OverflowError:   # an fd only SelectSelector accepts, never in C
                pass
            self._fd_to_key.pop(fd, None)
        events = key[2]
        if events.__class__ is int and events & 3 != 3:
            try:
                del self._pairs[fd * 4 + (events & 3)]
            except KeyError:    # only if another thread raced us on this fd
                pass
        else:
            self._drop_pairs(fd)
        return key

    def _drop_pairs(self, fd):
        pop = self._pairs.pop
        for code in range(fd * 4, fd * 4 + 4):
            pop(code, None)

    def _apply_pending(self):
        """Gives C the current state of every fd in _pending (select() calls
        it before waiting).

        Each change adds its fd after changing Python's state, and an fd is
        taken out (atomically) before its state is read: a change made
        meanwhile by another thread leaves it pending for the next select().
        """
        if not self._applying.acquire(False):
            return      # another thread is applying (and its select() waits)
        try:
            pending, fd_to_key, sel = self._pending, self._fd_to_key, self._sel
            while True:
                try:
                    fd = pending.pop()
                except KeyError:    # empty (close() in another thread may empty it)
                    break
                key = fd_to_key.get(fd)
                if key is None:
                    mux_selector_unregister(sel, fd)    # -ENOENT if C never had it
                    continue
                events = key[2]
                code = fd * 4 + (events & 3 if events.__class__ is int else _interest_of_key(events))
                rc = mux_selector_modify(sel, code)
                if rc == _ENOENT:
                    rc = mux_selector_register(sel, code)
                if rc:
                    self._register_failed(rc, fd)
        finally:
            self._applying.release()

    def modify(self, fileobj, events, data=None):
        key = self._key_of(fileobj)
        fd = key[1]
        # Like the stdlib, modify() does not validate events, and only an
        # events change reaches the kernel.
        old = key[2]
        if events != old:
            interest = events & 3 if events.__class__ is int else _interest(events)
            deferred = _DEFERS and fd < self._DEFER_BELOW
            if not deferred:
                rc = mux_selector_modify(self._sel, fd * 4 + interest)
                if rc:
                    # The stdlib forgets the key (the C side already did).
                    del self._fd_to_key[fd]
                    self._drop_pairs(fd)
                    self._raise(rc)
        elif data != key[3]:
            deferred = False
        else:
            return key
        key = _tuple_new(SelectorKey, (key[0], key[1], events, data))
        self._fd_to_key[fd] = key
        self._replace_pairs(fd, old, key)
        if deferred:
            self._pending.add(fd)
        return key

    def _replace_pairs(self, fd, old_events, key):
        """The pairs of fd's new key replace those of its previous events."""
        events = key[2]
        if old_events.__class__ is int and events.__class__ is int:
            pairs = self._pairs
            base = fd * 4
            new = events & 3
            for m in _STALE_MASKS[old_events & 3][new]:
                pairs.pop(base + m, None)
            if new != 3:
                pairs[base + new] = (key, new)
            else:
                pairs[base + 1] = (key, 1)
                pairs[base + 2] = (key, 2)
                pairs[base + 3] = (key, 3)
        else:
            self._drop_pairs(fd)
            try:
                self._pairs.update(_pairs_of(key, fd, _interest(events)))
            except TypeError:
                # Events that equal the old ones but cannot be masked (2.0
                # after 2, say): the stdlib stores them and fails in the
                # select() that reports fd. Without pairs, select() takes
                # _ready_slow, which fails the same way.
                pass

    def _timeout_us(self, timeout):
        """A positive timeout in seconds as the stdlib's poll and epoll
        selectors round it: up to whole milliseconds."""
        ms = math.ceil(timeout * 1e3)
        if ms > INT_MAX:
            self._check_open()      # the stdlib's epoll.poll() looks first
            raise OverflowError("timeout is too large")
        return ms * 1000

    def _check_open(self):
        """Raise what a closed selector's kernel object would."""

    def select(self, timeout=None):
        try:
            if timeout is None:
                n = mux_selector_wait(self._sel, -1)
            elif timeout <= 0:
                n = mux_selector_poll(self._sel)
            else:
                n = self._wait_positive(self._timeout_us(timeout))
            if n < 0:
                n = self._finish_wait(n, -1 if timeout is None else 0, 0)
        except InterruptedError:    # a signal handler raised it (stdlib: [])
            return []
        if JIT_INLINES_CFFI:        # the JIT inlines the call
            return self._ready(n)
        # self._ready(n) inlined: on CPython, select(0) with one ready fd is
        # the call whose every nanosecond counts.
        try:
            if n == 1:
                return [self._pairs[self._codes[0]]]
            return list(map(self._pair, self._codes[:n])) if n else []
        except KeyError:
            return self._ready_slow(n)

    def _ready(self, n):
        """The (key, events) list for the n codes a wait left."""
        try:
            if JIT_INLINES_CFFI:
                if n == 1:  # straight-line: no list to unpack, no loop to enter
                    return [self._pairs[self._codes_ptr[0]]]
                return self._pairs.ready(_unpack(self._codes_ptr, n))
            if n == 1:  # the most common batch: one index beats slice + map
                return [self._pairs[self._codes[0]]]
            return list(map(self._pair, self._codes[:n])) if n else []
        except KeyError:
            # A code without a prebuilt pair: another thread changed the
            # registrations during the wait. Do what the stdlib does.
            return self._ready_slow(n)

    def _wait_positive(self, timeout_us):
        started = _monotonic_ns()
        n = mux_selector_wait(self._sel, timeout_us)
        if n < 0:
            n = self._finish_wait(n, timeout_us, started + timeout_us * 1000)
        return n

    def _finish_wait(self, rc, timeout_us, deadline_ns):
        """A wait that returned rc < 0: PEP 475 retry, or the exception."""
        if rc == _EINTR:
            sel = self._sel
            try:
                rc = retry_on_eintr(rc, lambda us: mux_selector_wait(sel, us),
                                    timeout_us, deadline_ns)
            except OSError as exc:
                rc = -exc.errno
        if rc < 0:
            if rc == _EBUSY:
                raise RuntimeError("select() is already running in another thread")
            self._raise(rc)
        return rc

    def _ready_slow(self, n):
        fd_to_key = self._fd_to_key
        ready = []
        for code in self._codes[:n]:
            key = fd_to_key.get(code >> 2)
            if key:
                ready.append((key, (code & 3) & key[2]))
        return ready

    def close(self):
        rc = self._close_c()
        if rc:
            self._raise(rc)
        self._fd_to_key.clear()
        self._pairs.clear()
        self._pending.clear()
        self._map = None

    def _close_c(self):
        return mux_selector_close(self._sel, 0)

    def get_map(self):
        return self._map

    def get_key(self, fileobj):
        if self._map is None:
            raise RuntimeError('Selector is closed')
        return self._key_of(fileobj)


class SelectSelector(_BaseSelectorImpl):
    """Select-based selector."""

    _KIND = lib.MUX_BACKEND_SELECT
    # (the C select backend refuses the others)
    _DEFER_BELOW = _FD_SETSIZE if _DEFERS else 0

    def __init__(self, *, edge_triggered=False):
        super().__init__(edge_triggered=edge_triggered)
        # The stdlib registers fds >= FD_SETSIZE and raises in select();
        # they never reach the C select backend (which refuses them).
        self._unselectable = set()
        # On CPython, the stdlib's sets of fds to select() for reading and
        # for writing, changed by the same operations in the same order
        # (see _select_order).
        self._readers, self._writers = set(), set()

    def _register_failed(self, rc, fd):
        if fd >= _FD_SETSIZE:
            self._unselectable.add(fd)
        else:
            super()._register_failed(rc, fd)

    def register(self, fileobj, events, data=None):
        key = _BaseSelectorImpl.register(self, fileobj, events, data)
        if _SETS_ITERATE_BY_HASH:
            self._add_to_sets(key[1], events)
        return key

    def _add_to_sets(self, fd, events):
        if events & EVENT_READ:
            self._readers.add(fd)
        if events & EVENT_WRITE:
            self._writers.add(fd)

    def unregister(self, fileobj):
        key = _BaseSelectorImpl.unregister(self, fileobj)
        fd = key[1]
        if _SETS_ITERATE_BY_HASH:
            self._readers.discard(fd)
            self._writers.discard(fd)
        if fd >= _FD_SETSIZE:
            self._unselectable.discard(fd)
        return key

    def _select_order(self):
        """The registered fds in the order the stdlib's select() checks them:
        its reader set, then its writer set, so that with several
        unselectable fds select() raises for the one the stdlib meets first
        (ValueError, or OverflowError above INT_MAX). On PyPy, where sets
        iterate in insertion order, that is _fd_to_key's order, which the
        same operations change in the same order."""
        if _SETS_ITERATE_BY_HASH:
            return (*self._readers, *self._writers)
        keys = self._fd_to_key.values()
        return ([key[1] for key in keys if key[2] & EVENT_READ]
                + [key[1] for key in keys if key[2] & EVENT_WRITE])

    def modify(self, fileobj, events, data=None):
        # The stdlib's generic modify: an events change is unregister plus
        # register, so invalid events leave the object unregistered, the
        # new key holds the object passed here, and the fd moves to the end
        # of get_map(). Done in place when that is all it would do.
        key = self._key_of(fileobj)
        fd = key[1]
        fd_to_key = self._fd_to_key
        if events != key[2]:
            # Invalid events, selectors whose register or unregister was
            # overridden or replaced (a mock, say: the stdlib would call
            # them), and objects other than ints and open sockets (the
            # stdlib's path calls their fileno() twice more, and a closed
            # socket's register fails) take the stdlib's path.
            if (events.__class__ is not int or not 0 < events < 4
                    or getattr(self.register, "__func__", None) is not SelectSelector.register
                    or getattr(self.unregister, "__func__", None) is not SelectSelector.unregister
                    or not (fileobj.__class__ is int
                            or fileobj.__class__ is _socket_type and fileobj.fileno() >= 0)):
                self.unregister(fileobj)
                return self.register(fileobj, events, data)
            new = _tuple_new(SelectorKey, (fileobj, fd, events, data))
            deferred = _DEFERS and fd < self._DEFER_BELOW
            if not deferred and fd not in self._unselectable:
                rc = mux_selector_modify(self._sel, fd * 4 + events)
                if rc:
                    self._raise(rc)
            del fd_to_key[fd]
            if _SETS_ITERATE_BY_HASH:
                self._readers.discard(fd)     # the stdlib's unregister and register
                self._writers.discard(fd)
                self._add_to_sets(fd, events)
        elif data != key[3]:
            new = _tuple_new(SelectorKey, (key[0], key[1], key[2], data))
            deferred = False
        else:
            return key
        fd_to_key[fd] = new
        self._replace_pairs(fd, key[2], new)
        if deferred:
            self._pending.add(fd)
        return new

    def close(self):
        super().close()
        self._unselectable.clear()
        self._readers.clear()
        self._writers.clear()

    def select(self, timeout=None):
        # select(2) takes microseconds: the stdlib rounds seconds up to them,
        # after max(timeout, 0) (so a Fraction(0) fails as select() fails).
        if timeout is None:
            timeout_us = -1
        elif (type(timeout) is int or type(timeout) is float) and timeout <= 0:
            timeout_us = 0
        else:
            ns = to_ns(max(timeout, 0), 1_000_000_000, "timeout must be a float or None")
            timeout_us = -(-ns // 1000)
        if self._unselectable:
            for fd in self._select_order():
                if fd > INT_MAX:
                    raise OverflowError("Python int too large to convert to C int")
                if fd >= _FD_SETSIZE:
                    raise ValueError("filedescriptor out of range in select()")
        if self._pending:
            self._apply_pending()
        try:
            started = _monotonic_ns() if timeout_us > 0 else 0
            n = mux_selector_wait(self._sel, timeout_us)
            if n < 0:
                n = self._finish_wait(n, timeout_us, started + timeout_us * 1000)
        except InterruptedError:
            return []
        return self._ready(n)


class PollSelector(_BaseSelectorImpl):
    """Poll-based selector."""

    _KIND = lib.MUX_BACKEND_POLL
    # (the C poll backend refuses the others with EBADF)
    _DEFER_BELOW = lib.MUX_MAX_FD if _DEFERS else 0

    if _DEFERS:     # (the JIT inlines the call; CPython's select() stays as it was)
        def select(self, timeout=None):
            if self._pending:
                self._apply_pending()
            return _BaseSelectorImpl.select(self, timeout)


class EpollSelector(_BaseSelectorImpl):
    """Epoll-based selector; EpollSelector(edge_triggered=True) registers
    every fd edge-triggered."""

    _KIND = lib.MUX_BACKEND_EPOLL
    _closed = False

    def fileno(self):
        rc = mux_selector_fileno(self._sel)
        if rc < 0:
            self._raise(rc)
        return rc

    def _raise(self, rc):
        self._check_open()
        super()._raise(rc)

    def _check_open(self):
        if self._closed:
            raise ValueError("I/O operation on closed epoll object")

    def _close_c(self):
        self._closed = True
        return mux_selector_close(self._sel, 1)


DefaultSelector = EpollSelector
