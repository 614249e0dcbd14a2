"""Drop-in for the stdlib ``select`` module on Linux: select(), poll(), epoll().

Code written for the stdlib runs unchanged with ``import pymux.select as
select``: same functions, methods, constants and exceptions. The waiting
happens in C (csrc/mux_backend.c and its backends); one cffi call per wait
fills flat int arrays (poll and epoll: fds and events; select(): the
indexes of the ready objects) that Python turns into the result with
``ffi.unpack``, without touching a C struct per event.

Arguments are converted as the stdlib's C code converts them, in its order
and with its exceptions (tests/test_fuzz_select_differential.py compares
the two). Differences from the stdlib, all deliberate (that file's
DELIBERATE_DIFFERENCES): epoll.poll() reports at most 65536 events per call
(MUX_MAX_BATCH; the rest stay ready for the next call), poll() refuses fd
numbers >= 2**20 (no such fd can be open under the kernel's default
fs.nr_open) with OSError(EBADF), and the order of poll()'s and epoll.poll()'s
lists may differ (the stdlib does not specify it).
"""
import errno
import operator
import socket
import time

from ._clib import (JIT_INLINES_CFFI, mux_backend_adopt_epoll, mux_backend_close, mux_backend_ctl,
                    mux_backend_fileno, mux_backend_fired_events, mux_backend_fired_fds,
                    mux_backend_free, mux_backend_new, mux_backend_set_batch,
                    mux_backend_wait, mux_backend_wait_into, mux_select_once)
from ._errors import check, raise_errno
from ._mux import ffi, lib
from ._timeouts import INT_MAX, ns_to_wait_us, retry_on_eintr, to_ns

__all__ = ["error", "select", "poll", "epoll"]

error = OSError

POLLIN = lib.POLLIN
POLLPRI = lib.POLLPRI
POLLOUT = lib.POLLOUT
POLLERR = lib.POLLERR
POLLHUP = lib.POLLHUP
POLLNVAL = lib.POLLNVAL
POLLRDHUP = lib.POLLRDHUP
POLLRDNORM = lib.POLLRDNORM
POLLRDBAND = lib.POLLRDBAND
POLLWRNORM = lib.POLLWRNORM
POLLWRBAND = lib.POLLWRBAND
POLLMSG = lib.POLLMSG

EPOLLIN = lib.EPOLLIN
EPOLLPRI = lib.EPOLLPRI
EPOLLOUT = lib.EPOLLOUT
EPOLLERR = lib.EPOLLERR
EPOLLHUP = lib.EPOLLHUP
EPOLLET = lib.EPOLLET
EPOLLONESHOT = lib.EPOLLONESHOT
EPOLLEXCLUSIVE = lib.EPOLLEXCLUSIVE
EPOLLRDHUP = lib.EPOLLRDHUP
EPOLLRDNORM = lib.EPOLLRDNORM
EPOLLRDBAND = lib.EPOLLRDBAND
EPOLLWRNORM = lib.EPOLLWRNORM
EPOLLWRBAND = lib.EPOLLWRBAND
EPOLLMSG = lib.EPOLLMSG
EPOLL_CLOEXEC = lib.EPOLL_CLOEXEC

_FD_SETSIZE = lib.FD_SETSIZE
_MAX_BATCH = lib.MUX_MAX_BATCH
_DEFAULT_MAXEVENTS = _FD_SETSIZE - 1     # the stdlib's, for maxevents=-1
_INT_MIN = -INT_MAX - 1
_unpack = ffi.unpack
_monotonic_ns = time.monotonic_ns
_socket_type = socket.socket


def _c_int(value):
    """value as a C int argument of the stdlib's (its __index__; TypeError,
    OverflowError outside the range)."""
    value = operator.index(value)
    if not _INT_MIN <= value <= INT_MAX:
        raise OverflowError("Python int too large to convert to C int")
    return value


def _fileno(obj):
    """An fd from an int or an object with fileno(), as the stdlib select
    module takes it (PyObject_AsFileDescriptor: TypeError, OverflowError,
    ValueError; pymux.selectors has the selectors module's own rules)."""
    if isinstance(obj, int):
        fd = obj
    else:
        try:
            fileno = obj.fileno
        except AttributeError:
            raise TypeError("argument must be an int, or have a fileno() method.") from None
        fd = fileno()
        if not isinstance(fd, int):
            raise TypeError("fileno() returned a non-integer")
    if not _INT_MIN <= fd <= INT_MAX:
        raise OverflowError("Python int too large to convert to C int")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return fd


class _WaitSet:
    """A C backend plus its fired arrays: what poll and epoll objects share.

    `_live` is (backend, fired fds, fired events) while the object is open
    and None once it is closed: one attribute, read once per call, so a
    call that found the object open keeps the backend (and so the arrays)
    alive to its end, even if another thread closes the object meanwhile.
    """

    __slots__ = ("_live", "_batch", "_waiting")

    def _own(self, b, err):
        if b == ffi.NULL:
            raise_errno(err[0])
        b = ffi.gc(b, mux_backend_free)
        self._live = (b, mux_backend_fired_fds(b), mux_backend_fired_events(b))
        self._waiting = False
        self._set_batch(b, _DEFAULT_MAXEVENTS)

    def _set_batch(self, b, maxevents):
        self._batch = mux_backend_set_batch(b, maxevents)

    def _wait_pairs(self, live, timeout_us):
        """One wait (retried per PEP 475) as a list of (fd, events) pairs."""
        b, fds, events = live
        if self._waiting:
            return self._wait_private(b, timeout_us)
        # The flag keeps another thread off the fired arrays until this one
        # has read them (set and cleared under the GIL: no cffi call).
        self._waiting = True
        try:
            started = _monotonic_ns() if timeout_us > 0 else 0
            n = mux_backend_wait(b, timeout_us)
            if n == 1:  # the most common batch: indexing beats two unpack calls
                return [(fds[0], events[0])]
            if n < 0:
                n = retry_on_eintr(n, lambda us: mux_backend_wait(b, us), timeout_us,
                                   started + timeout_us * 1000)
            if JIT_INLINES_CFFI:     # reads from the arrays, no lists in between
                return [(fds[i], events[i]) for i in range(n)]
            return list(zip(_unpack(fds, n), _unpack(events, n))) if n else []
        finally:
            self._waiting = False

    def _wait_private(self, b, timeout_us):
        """A second thread's wait on the same object, into arrays of its own:
        epoll allows it; poll raises RuntimeError like the stdlib."""
        batch = self._batch
        fds, events = ffi.new("int[]", batch), ffi.new("uint32_t[]", batch)

        def wait(us):
            return mux_backend_wait_into(b, fds, events, batch, us)

        started = _monotonic_ns() if timeout_us > 0 else 0
        n = wait(timeout_us)
        if n == -errno.EBUSY:
            raise RuntimeError("concurrent poll() invocation")
        if n < 0:
            n = retry_on_eintr(n, wait, timeout_us, started + timeout_us * 1000)
        return list(zip(_unpack(fds, n), _unpack(events, n))) if n else []


# --- select() ---------------------------------------------------------------

def _as_sequence(obj):
    """One select() argument as a list or tuple (PySequence_Fast)."""
    if type(obj) is list or type(obj) is tuple:
        return obj
    try:
        it = iter(obj)
    except TypeError:
        raise TypeError("arguments 1-3 must be sequences") from None
    return list(it)


def _selectable_fds(obj):
    """(objects, fds) of one select() argument, converted and checked
    object by object in the stdlib's order, raising its exceptions."""
    objs = _as_sequence(obj)
    fds = []
    for o in objs:
        fd = _fileno(o)
        if fd >= _FD_SETSIZE:
            raise ValueError("filedescriptor out of range in select()")
        if len(fds) == _FD_SETSIZE:
            raise ValueError("too many file descriptors in select()")
        fds.append(fd)
    return objs, fds


def _fast_fds(rlist, wlist, xlist):
    """The fds of three lists or tuples of ints and sockets, all fine for
    select(2), or None: anything else takes the stdlib's object-by-object
    path, which calls each fileno() once and raises its exceptions in its
    order (so this path calls fileno() only on sockets, which cannot fail
    or change)."""
    if (len(rlist) > _FD_SETSIZE or len(wlist) > _FD_SETSIZE or len(xlist) > _FD_SETSIZE):
        return None
    fds = [o if type(o) is int else o.fileno() if type(o) is _socket_type else -1
           for o in (*rlist, *wlist, *xlist)]
    if min(fds) >= 0 and max(fds) < _FD_SETSIZE:
        return fds
    return None


def select(rlist, wlist, xlist, timeout=None, /):
    """Wait until one or more file descriptors are ready for some kind of I/O.

    Same contract as select.select(): returns three lists with the ready
    objects among those passed in.
    """
    if timeout is None:
        timeout_us = -1
    else:
        ns = to_ns(timeout, 1_000_000_000, "timeout must be a float or None")
        if ns < 0:
            raise ValueError("timeout must be non-negative")
        timeout_us = -(-ns // 1000)
    fds = None
    if ((type(rlist) is list or type(rlist) is tuple)
            and (type(wlist) is list or type(wlist) is tuple)
            and (type(xlist) is list or type(xlist) is tuple)):
        r, w, x = rlist, wlist, xlist
        if r or w or x:
            fds = _fast_fds(r, w, x)
        else:
            fds = ()
    if fds is None:
        r, rfds = _selectable_fds(rlist)
        w, wfds = _selectable_fds(wlist)
        x, xfds = _selectable_fds(xlist)
        fds = rfds + wfds + xfds
    nr, nw, nx = len(r), len(w), len(x)
    objs = [*r, *w, *x]
    cfds = ffi.new("int[]", fds) if objs else ffi.NULL
    ready = ffi.new("int[]", len(objs)) if objs else ffi.NULL

    def wait(us):
        return mux_select_once(cfds, nr, nw, nx, ready, us)

    started = _monotonic_ns() if timeout_us > 0 else 0
    n = wait(timeout_us)
    if n < 0:
        n = retry_on_eintr(n, wait, timeout_us, started + timeout_us * 1000)
    result = ([], [], [])
    for idx in _unpack(ready, n) if n else ():
        result[0 if idx < nr else 1 if idx < nr + nw else 2].append(objs[idx])
    return result


# --- poll() -----------------------------------------------------------------

def _unsigned_short(value):
    """poll's eventmask as CPython 3.11's unsigned short converter takes it:
    an int (no __index__), ValueError below 0, OverflowError above 0xFFFF."""
    if not isinstance(value, int):
        raise TypeError("an integer is required")
    if value < 0:
        raise ValueError("value must be positive")
    if value > 0xFFFF:
        raise OverflowError("Python int too large for C unsigned short")
    return value


class poll(_WaitSet):
    """select.poll() twin: register/modify/unregister/poll(timeout in ms)."""

    __slots__ = ("_count",)

    def __init__(self):
        self._count = 0
        err = ffi.new("int *")
        self._own(mux_backend_new(lib.MUX_BACKEND_POLL, err), err)

    def register(self, fd, eventmask=POLLIN | POLLPRI | POLLOUT, /):
        """Register fd, or change its mask when it is already registered."""
        fd = _fileno(fd)
        mask = _unsigned_short(eventmask)
        b = self._live[0]
        rc = mux_backend_ctl(b, lib.MUX_CTL_ADD, fd, mask)
        if rc == -errno.EEXIST:
            rc = mux_backend_ctl(b, lib.MUX_CTL_MOD, fd, mask)
        elif rc == 0:
            self._count += 1
        check(rc)

    def modify(self, fd, eventmask, /):
        """Change fd's mask; FileNotFoundError when it is not registered."""
        fd = _fileno(fd)
        check(mux_backend_ctl(self._live[0], lib.MUX_CTL_MOD, fd, _unsigned_short(eventmask)))

    def unregister(self, fd, /):
        """Remove fd; KeyError when it is not registered."""
        fd = _fileno(fd)
        rc = mux_backend_ctl(self._live[0], lib.MUX_CTL_DEL, fd, 0)
        if rc == -errno.ENOENT:
            raise KeyError(fd)
        check(rc)
        self._count -= 1

    def poll(self, timeout=None, /):
        """List of (fd, events) pairs; timeout in milliseconds, None or
        negative blocks."""
        if timeout is None:
            timeout_us = -1
        elif type(timeout) is int and _INT_MIN <= timeout <= INT_MAX:
            timeout_us = timeout * 1000 if timeout >= 0 else -1
        else:
            ns = to_ns(timeout, 1_000_000, "timeout must be an integer or None")
            timeout_us = ns_to_wait_us(ns, away_from_zero=True)
        live = self._live
        if self._count > self._batch:
            self._set_batch(live[0], self._count)
        return self._wait_pairs(live, timeout_us)


# --- epoll() ----------------------------------------------------------------

def _closed_error():
    return ValueError("I/O operation on closed epoll object")


class epoll(_WaitSet):
    """select.epoll twin: an edge- or level-triggered epoll(7) interest set.

    The epoll fd is always created with EPOLL_CLOEXEC. poll() takes a timeout
    in seconds (None or negative blocks) and maxevents (-1: FD_SETSIZE - 1).
    Like the stdlib's, every method converts the arguments the stdlib parses
    on entry (fds, masks, maxevents) before it looks at whether the object
    is closed, and poll() its timeout after.
    """

    __slots__ = ()

    def __init__(self, sizehint=-1, flags=0):
        sizehint = _c_int(sizehint)
        flags = _c_int(flags)
        if sizehint != -1 and sizehint <= 0:
            raise ValueError("negative sizehint")
        if flags and flags != EPOLL_CLOEXEC:
            raise OSError("invalid flags")   # the stdlib's, errno None
        self._live = None
        err = ffi.new("int *")
        self._own(mux_backend_new(lib.MUX_BACKEND_EPOLL, err), err)

    @classmethod
    def fromfd(cls, fd, /):
        """Wrap an existing epoll fd; the new object owns (and closes) it.
        As in the stdlib, -1 makes a new epoll."""
        fd = _c_int(fd)
        if fd == -1:
            return cls()
        self = cls.__new__(cls)
        self._live = None
        err = ffi.new("int *")
        self._own(mux_backend_adopt_epoll(fd, err), err)
        return self

    def _backend(self):
        live = self._live
        if live is None:
            raise _closed_error()
        return live[0]

    @property
    def closed(self):
        """True once close() was called."""
        return self._live is None

    def close(self):
        """Close the epoll fd. Calling it again does nothing."""
        live = self._live
        if live is not None:
            # Only the kernel object goes now; the memory goes with the last
            # reference, which a call in another thread may still hold.
            self._live = None
            mux_backend_close(live[0])

    def fileno(self):
        """The epoll file descriptor."""
        return check(mux_backend_fileno(self._backend()))

    def _ctl(self, op, fd, eventmask):
        if type(fd) is not int or not 0 <= fd <= INT_MAX:
            fd = _fileno(fd)
        mask = operator.index(eventmask) & 0xFFFFFFFF
        rc = mux_backend_ctl(self._backend(), op, fd, mask)
        if rc:
            raise_errno(rc)

    def register(self, fd, eventmask=EPOLLIN | EPOLLPRI | EPOLLOUT):
        """Add fd; FileExistsError when it is already registered."""
        self._ctl(lib.MUX_CTL_ADD, fd, eventmask)

    def modify(self, fd, eventmask):
        """Change fd's mask; FileNotFoundError when it is not registered."""
        self._ctl(lib.MUX_CTL_MOD, fd, eventmask)

    def unregister(self, fd):
        """Remove fd; FileNotFoundError when it is not registered."""
        self._ctl(lib.MUX_CTL_DEL, fd, 0)

    def poll(self, timeout=None, maxevents=-1):
        """Wait for events: a list of (fd, events) pairs."""
        # The hot path: the common arguments (None or 0, maxevents=-1) skip
        # the general conversions.
        if type(maxevents) is int and maxevents == -1:
            maxevents = _DEFAULT_MAXEVENTS
        else:   # a C int now; its value is checked after the timeout
            maxevents = min(_c_int(maxevents), _MAX_BATCH)
        live = self._live
        if live is None:
            raise _closed_error()
        if timeout is None:
            timeout_us = -1
        elif (type(timeout) is int or type(timeout) is float) and timeout == 0:
            timeout_us = 0
        else:
            ns = to_ns(timeout, 1_000_000_000, "timeout must be an integer or None")
            timeout_us = ns_to_wait_us(ns)
        if maxevents != self._batch:
            if maxevents < 1:
                raise ValueError(f"maxevents must be greater than 0, got {maxevents}")
            self._set_batch(live[0], maxevents)
        return self._wait_pairs(live, timeout_us)

    def __enter__(self):
        self._backend()
        return self

    def __exit__(self, *exc_info):
        self.close()
