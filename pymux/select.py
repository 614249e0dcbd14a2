"""Drop-in for the stdlib ``select`` module on Linux: select(), poll(), epoll().

Code written for the stdlib runs unchanged with ``import pymux.select as
select``: same functions, methods, constants and exceptions. The waiting
happens in C (csrc/mux_backend.c and its backends); one cffi call per wait
fills flat int arrays (poll and epoll: fds and events; select(): the
indexes of the ready objects) that Python turns into the result with
``ffi.unpack``, without touching a C struct per event.

Differences from the stdlib, all deliberate: epoll.poll() reports at most
65536 events per call (MUX_MAX_BATCH; the rest stay ready for the next
call), and poll() refuses fd numbers >= 2**20 (no such fd can be open under
the kernel's default fs.nr_open) with OSError(EBADF).
"""
import errno
import operator
import time

from ._clib import (mux_backend_adopt_epoll, mux_backend_close, mux_backend_ctl,
                    mux_backend_fileno, mux_backend_fired_events, mux_backend_fired_fds,
                    mux_backend_free, mux_backend_new, mux_backend_set_batch,
                    mux_backend_wait, mux_backend_wait_into, mux_select_once)
from ._errors import check, raise_errno
from ._mux import ffi, lib
from ._timeouts import INT_MAX, ns_to_wait_ms, retry_on_eintr, to_ns

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
_unpack = ffi.unpack
_monotonic_ns = time.monotonic_ns


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
    if not -INT_MAX - 1 <= fd <= INT_MAX:
        raise OverflowError("Python int too large to convert to C int")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return fd


def _epoll_timeout_us(timeout):
    ms = ns_to_wait_ms(to_ns(timeout, 1_000_000_000, "timeout must be an integer or None"))
    return ms * 1000 if ms >= 0 else -1


class _WaitSet:
    """A C backend plus its fired arrays: what poll and epoll objects share."""

    __slots__ = ("_b", "_fds", "_events", "_batch", "_waiting")

    def _own(self, b, err):
        if b == ffi.NULL:
            raise_errno(err[0])
        self._b = ffi.gc(b, mux_backend_free)
        self._fds = mux_backend_fired_fds(b)      # fixed: they never move
        self._events = mux_backend_fired_events(b)
        self._waiting = False
        self._set_batch(_FD_SETSIZE - 1)

    def _set_batch(self, maxevents):
        self._batch = mux_backend_set_batch(self._b, maxevents)

    def _wait_pairs(self, timeout_us):
        """One wait (retried per PEP 475) as a list of (fd, events) pairs."""
        if self._waiting:
            return self._wait_private(timeout_us)
        # The flag keeps another thread off the fired arrays until this one
        # has read them (set and cleared under the GIL: no cffi call).
        self._waiting = True
        try:
            b, fds, events = self._b, self._fds, self._events
            started = _monotonic_ns() if timeout_us > 0 else 0
            n = mux_backend_wait(b, timeout_us)
            if n == 1:  # the most common batch: indexing beats two unpack calls
                return [(fds[0], events[0])]
            if n < 0:
                n = retry_on_eintr(n, lambda us: mux_backend_wait(b, us), timeout_us,
                                   started + timeout_us * 1000)
            return list(zip(_unpack(fds, n), _unpack(events, n))) if n else []
        finally:
            self._waiting = False

    def _wait_private(self, timeout_us):
        """A second thread's wait on the same object, into arrays of its own:
        epoll allows it; poll raises RuntimeError like the stdlib."""
        b, batch = self._b, self._batch
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
    if type(obj) is list or type(obj) is tuple:
        return obj
    try:
        return list(obj)
    except TypeError:
        raise TypeError("arguments 1-3 must be sequences") from None


def _selectable_fd(obj):
    fd = _fileno(obj)
    if fd >= _FD_SETSIZE:
        raise ValueError("filedescriptor out of range in select()")
    return fd


def _fd_array(objs):
    """The fds of objs as a C int array, checked like the stdlib checks them.

    The common case (ints and sockets, all in range) costs one comprehension
    and two C-speed scans; anything else takes the object-by-object path,
    which raises the stdlib's exception for the first bad object.
    """
    try:
        fds = [o if type(o) is int else o.fileno() for o in objs]
        if min(fds) >= 0 and max(fds) < _FD_SETSIZE:
            return ffi.new("int[]", fds)   # TypeError for a non-int fileno()
    except (AttributeError, TypeError):
        pass
    return ffi.new("int[]", [_selectable_fd(o) for o in objs])


def select(rlist, wlist, xlist, timeout=None):
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
    r, w, x = _as_sequence(rlist), _as_sequence(wlist), _as_sequence(xlist)
    nr, nw, nx = len(r), len(w), len(x)
    objs = [*r, *w, *x]
    fds = _fd_array(objs) if objs else ffi.NULL
    ready = ffi.new("int[]", len(objs)) if objs else ffi.NULL

    def wait(us):
        return mux_select_once(fds, nr, nw, nx, ready, us)

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
    value = operator.index(value)
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

    def register(self, fd, eventmask=POLLIN | POLLPRI | POLLOUT):
        """Register fd, or change its mask when it is already registered."""
        fd = _fileno(fd)
        mask = _unsigned_short(eventmask)
        rc = mux_backend_ctl(self._b, lib.MUX_CTL_ADD, fd, mask)
        if rc == -errno.EEXIST:
            rc = mux_backend_ctl(self._b, lib.MUX_CTL_MOD, fd, mask)
        elif rc == 0:
            self._count += 1
        check(rc)

    def modify(self, fd, eventmask):
        """Change fd's mask; FileNotFoundError when it is not registered."""
        check(mux_backend_ctl(self._b, lib.MUX_CTL_MOD, _fileno(fd), _unsigned_short(eventmask)))

    def unregister(self, fd):
        """Remove fd; KeyError when it is not registered."""
        fd = _fileno(fd)
        rc = mux_backend_ctl(self._b, lib.MUX_CTL_DEL, fd, 0)
        if rc == -errno.ENOENT:
            raise KeyError(fd)
        check(rc)
        self._count -= 1

    def poll(self, timeout=None):
        """List of (fd, events) pairs; timeout in milliseconds, None blocks."""
        if timeout is None:
            timeout_us = -1
        else:
            ms = ns_to_wait_ms(to_ns(timeout, 1_000_000, "timeout must be an integer or None"))
            timeout_us = ms * 1000 if ms >= 0 else -1
        if self._count > self._batch:
            self._set_batch(self._count)
        return self._wait_pairs(timeout_us)


# --- epoll() ----------------------------------------------------------------

def _closed_error():
    return ValueError("I/O operation on closed epoll object")


class epoll(_WaitSet):
    """select.epoll twin: an edge- or level-triggered epoll(7) interest set.

    The epoll fd is always created with EPOLL_CLOEXEC. poll() takes a timeout
    in seconds (None or negative blocks) and maxevents (-1: FD_SETSIZE - 1).
    """

    __slots__ = ()

    def __init__(self, sizehint=-1, flags=0):
        sizehint = operator.index(sizehint)
        flags = operator.index(flags)
        if sizehint != -1 and sizehint <= 0:
            raise ValueError("negative sizehint")
        if flags and flags != EPOLL_CLOEXEC:
            raise OSError("invalid flags")   # the stdlib's, errno None
        self._b = None
        err = ffi.new("int *")
        self._own(mux_backend_new(lib.MUX_BACKEND_EPOLL, err), err)

    @classmethod
    def fromfd(cls, fd):
        """Wrap an existing epoll fd; the new object owns (and closes) it."""
        self = cls.__new__(cls)
        self._b = None
        err = ffi.new("int *")
        self._own(mux_backend_adopt_epoll(operator.index(fd), err), err)
        return self

    def _backend(self):
        b = self._b
        if b is None:
            raise _closed_error()
        return b

    @property
    def closed(self):
        """True once close() was called."""
        return self._b is None

    def close(self):
        """Close the epoll fd. Calling it again does nothing."""
        b = self._b
        if b is not None:
            # Only the kernel object goes now; the memory goes with the last
            # reference, which a poll() in another thread may still hold.
            self._b = None
            mux_backend_close(b)

    def fileno(self):
        """The epoll file descriptor."""
        return check(mux_backend_fileno(self._backend()))

    def _ctl(self, op, fd, eventmask):
        b = self._b
        if type(fd) is not int or not 0 <= fd <= INT_MAX or b is None:
            fd = _fileno(fd)
            b = self._backend()
        rc = mux_backend_ctl(b, op, fd, operator.index(eventmask) & 0xFFFFFFFF)
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
        if self._b is None:
            raise _closed_error()
        if timeout is None:
            timeout_us = -1
        elif timeout == 0:
            timeout_us = 0
        else:
            timeout_us = _epoll_timeout_us(timeout)
        if maxevents == -1:
            maxevents = _FD_SETSIZE - 1
        else:
            maxevents = _check_maxevents(maxevents)
        if maxevents != self._batch:
            self._set_batch(maxevents)
        return self._wait_pairs(timeout_us)

    def __enter__(self):
        self._backend()
        return self

    def __exit__(self, *exc_info):
        self.close()


def _check_maxevents(maxevents):
    maxevents = operator.index(maxevents)
    if maxevents < 1:
        raise ValueError(f"maxevents must be greater than 0, got {maxevents}")
    if maxevents > INT_MAX:
        raise OverflowError("Python int too large to convert to C int")
    return min(maxevents, lib.MUX_MAX_BATCH)
