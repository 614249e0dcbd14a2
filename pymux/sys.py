"""The multiplexing system calls themselves, by their C names.

For study, and for porting C code line by line: ``select`` with ``fd_set``
and FD_ZERO/FD_SET/FD_CLR/FD_ISSET, ``poll`` on an array of ``struct
pollfd``, ``epoll_create1``/``epoll_ctl``/``epoll_wait``, and io_uring's
setup, enter and register over pymux.uring's mapped ring::

    epfd = epoll_create1(EPOLL_CLOEXEC)
    epoll_ctl(epfd, EPOLL_CTL_ADD, sock.fileno(), EPOLLIN)
    events = epoll_events(64)
    n = epoll_wait(epfd, events, 64, -1)
    for i in range(n):
        fd, ev = events.fds[i], events.events[i]

Each function is one C call that makes the system call once, and raises
OSError (its errno's subclass) where C would return -1. Nothing is retried:
a signal that interrupts a wait raises InterruptedError, and recomputing
the timeout is the caller's, as in C. That is the deliberate difference
from pymux.select and the stdlib select module, which retry as PEP 475
says; use those for the stdlib's behaviour. (The kernel may also end a
wait with EINTR and no signal at all: seen on Linux 6.18 in an epoll_wait
right after the thread closed an io_uring ring, whose task work
interrupts the next sleep. C servers loop on EINTR for that reason too.)
The raw fds are the caller's to close (os.close), as in C.

What C would let the kernel read or write out of bounds is checked in C
first: an fd outside 0 .. FD_SETSIZE-1 for an fd_set raises ValueError
(the stdlib select()'s message), nfds above FD_SETSIZE ValueError, an
nfds or maxevents beyond its array ValueError. A bad or closed fd gets
the kernel's answer: OSError(EBADF) from select, epoll_ctl and epoll_wait,
POLLNVAL in its revents from poll.

Timeouts are C's units: select takes seconds (a float, or None to wait
forever: the struct timeval), poll and epoll_wait milliseconds (-1:
forever).
"""
import errno
import operator

from ._clib import (mux_sys_epoll_create1, mux_sys_epoll_ctl, mux_sys_epoll_wait,
                    mux_sys_fd_clr, mux_sys_fd_isset, mux_sys_fd_set, mux_sys_fd_zero,
                    mux_sys_poll, mux_sys_select)
from ._errors import oserror
from ._mux import ffi, lib
from ._timeouts import INT_MAX, to_ns
from .select import (EPOLL_CLOEXEC, EPOLLERR, EPOLLET, EPOLLEXCLUSIVE, EPOLLHUP, EPOLLIN,
                     EPOLLONESHOT, EPOLLOUT, EPOLLPRI, EPOLLRDHUP, POLLERR, POLLHUP, POLLIN,
                     POLLNVAL, POLLOUT, POLLPRI, POLLRDHUP)
from .uring import Ring

__all__ = ["select", "fd_set", "FD_ZERO", "FD_SET", "FD_CLR", "FD_ISSET", "FD_SETSIZE",
           "poll", "pollfd_array", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_events",
           "io_uring_setup", "io_uring_enter", "io_uring_register",
           "IORING_REGISTER_PROBE", "IORING_REGISTER_BUFFERS", "IORING_UNREGISTER_BUFFERS",
           "IORING_REGISTER_FILES", "IORING_UNREGISTER_FILES", "IORING_REGISTER_EVENTFD",
           "IORING_UNREGISTER_EVENTFD", "IORING_REGISTER_PBUF_RING", "IOSQE_FIXED_FILE",
           "EPOLL_CTL_ADD", "EPOLL_CTL_MOD", "EPOLL_CTL_DEL", "EPOLL_CLOEXEC",
           "EPOLLIN", "EPOLLOUT", "EPOLLPRI", "EPOLLERR", "EPOLLHUP", "EPOLLRDHUP", "EPOLLET",
           "EPOLLONESHOT", "EPOLLEXCLUSIVE",
           "POLLIN", "POLLOUT", "POLLPRI", "POLLERR", "POLLHUP", "POLLNVAL", "POLLRDHUP"]

FD_SETSIZE = lib.FD_SETSIZE
EPOLL_CTL_ADD = lib.EPOLL_CTL_ADD
EPOLL_CTL_MOD = lib.EPOLL_CTL_MOD
EPOLL_CTL_DEL = lib.EPOLL_CTL_DEL
IORING_REGISTER_PROBE = lib.MUX_URING_REGISTER_PROBE
IORING_REGISTER_BUFFERS = lib.MUX_URING_REGISTER_BUFFERS
IORING_UNREGISTER_BUFFERS = lib.MUX_URING_UNREGISTER_BUFFERS
IORING_REGISTER_FILES = lib.MUX_URING_REGISTER_FILES
IORING_UNREGISTER_FILES = lib.MUX_URING_UNREGISTER_FILES
IORING_REGISTER_EVENTFD = lib.MUX_URING_REGISTER_EVENTFD
IORING_UNREGISTER_EVENTFD = lib.MUX_URING_UNREGISTER_EVENTFD
IORING_REGISTER_PBUF_RING = lib.MUX_URING_REGISTER_PBUF_RING
IOSQE_FIXED_FILE = lib.MUX_URING_SQE_FIXED_FILE

_INT_MIN = -INT_MAX - 1
_POLLFD_ARRAY = ffi.typeof("struct pollfd[]")
_unpack = ffi.unpack


def _int(value, what="an fd"):
    """A C int from an int (or, for fds, an object with fileno())."""
    if type(value) is int and _INT_MIN <= value <= INT_MAX:
        return value
    if what == "an fd" and not isinstance(value, int) and hasattr(value, "fileno"):
        value = value.fileno()
    value = operator.index(value)
    if not _INT_MIN <= value <= INT_MAX:
        raise OverflowError(f"{what} must fit a C int, not {value}")
    return value


def _checked(rc):
    if rc < 0:
        raise oserror(rc)
    return rc


# --- select(2) ------------------------------------------------------------

class fd_set:
    """An fd_set: FD_SETSIZE bits, empty when made (FD_ZERO's state)."""

    __slots__ = ("_set",)

    def __init__(self):
        self._set = ffi.new("fd_set *")


def _set_of(s):
    try:
        return s._set
    except AttributeError:
        raise TypeError(f"an fd_set is required, not {type(s).__name__!r}") from None


def _bit(rc):
    """rc of an FD_* call that failed."""
    if rc == -errno.EINVAL:   # outside the fd_set
        raise ValueError("filedescriptor out of range in select()")
    raise oserror(rc)


# The FD_* macros run once per fd per wait in a select() loop: an int fd
# goes straight to C, which checks its range.

def FD_ZERO(s):
    """Clear every bit."""
    mux_sys_fd_zero(_set_of(s))


def FD_SET(fd, s):
    """Set fd's bit (ValueError for fd outside 0 .. FD_SETSIZE-1)."""
    rc = mux_sys_fd_set(fd if type(fd) is int else _int(fd), _set_of(s))
    if rc:
        _bit(rc)


def FD_CLR(fd, s):
    """Clear fd's bit."""
    rc = mux_sys_fd_clr(fd if type(fd) is int else _int(fd), _set_of(s))
    if rc:
        _bit(rc)


def FD_ISSET(fd, s):
    """True if fd's bit is set."""
    rc = mux_sys_fd_isset(fd if type(fd) is int else _int(fd), _set_of(s))
    if rc < 0:
        _bit(rc)
    return rc == 1


def select(nfds, readfds, writefds, exceptfds, timeout=None):
    """select(2): waits until an fd below nfds in one of the sets is ready,
    leaves only the ready fds' bits set, returns their count (0: timeout).
    A set may be None (C's NULL). timeout in seconds, None: forever.
    Not retried on EINTR (InterruptedError)."""
    nfds = _int(nfds, "nfds")
    if not 0 <= nfds <= FD_SETSIZE:
        raise ValueError(f"nfds must be in 0 .. FD_SETSIZE ({FD_SETSIZE}), not {nfds}")
    sets = [ffi.NULL if s is None else _set_of(s) for s in (readfds, writefds, exceptfds)]
    timeout_us = -1
    if timeout is not None:
        ns = to_ns(timeout, 1_000_000_000, "timeout must be a float or None")
        if ns < 0:
            raise ValueError("timeout must be non-negative")
        timeout_us = -(-ns // 1000)
    return _checked(mux_sys_select(nfds, *sets, timeout_us))


# --- poll(2) --------------------------------------------------------------

def pollfd_array(n):
    """``struct pollfd fds[n]``, zeroed: set ``fds[i].fd`` and
    ``fds[i].events``, read ``fds[i].revents`` after poll()."""
    return ffi.new("struct pollfd[]", operator.index(n))


def poll(fds, nfds, timeout):
    """poll(2) on the first nfds entries of a pollfd_array(): fills each
    revents, returns how many are non-zero (0: timeout). timeout in ms,
    -1: forever. A bad fd is not an error: its revents is POLLNVAL.
    Not retried on EINTR (InterruptedError)."""
    if ffi.typeof(fds) is not _POLLFD_ARRAY:
        raise TypeError("fds must be a pollfd_array()")
    nfds = _int(nfds, "nfds")
    if not 0 <= nfds <= len(fds):
        raise ValueError(f"nfds must be in 0 .. {len(fds)} (the array's length), not {nfds}")
    return _checked(mux_sys_poll(fds, len(fds), nfds, _int(timeout, "timeout")))


# --- epoll(7) -------------------------------------------------------------

def epoll_create1(flags=0):
    """epoll_create1(2): a new epoll fd (0 or EPOLL_CLOEXEC); os.close() it."""
    return _checked(mux_sys_epoll_create1(_int(flags, "flags")))


def epoll_ctl(epfd, op, fd, events=0):
    """epoll_ctl(2): EPOLL_CTL_ADD, _MOD or _DEL fd for `events` (EPOLLIN
    ...); the event's data is the fd, as with the stdlib's epoll."""
    events = operator.index(events)
    if not 0 <= events < 2**32:
        raise OverflowError(f"events must fit a uint32_t, not {events}")
    _checked(mux_sys_epoll_ctl(_int(epfd), _int(op, "op"), _int(fd), events))


class epoll_events:
    """A reusable buffer for `maxevents` epoll events, read as two flat
    arrays after epoll_wait() returned n: ``fds[i]`` (the event's data.fd)
    and ``events[i]`` (its EPOLL* bits), for i < n; ``ready(n)`` gives them
    as a list of (fd, events) pairs."""

    __slots__ = ("_raw", "fds", "events", "maxevents")

    def __init__(self, maxevents):
        maxevents = operator.index(maxevents)
        if not 1 <= maxevents <= INT_MAX // 16:
            raise ValueError(f"maxevents must be at least 1, not {maxevents}")
        self.maxevents = maxevents
        self._raw = ffi.new("struct epoll_event[]", maxevents)
        self.fds = ffi.new("int[]", maxevents)
        self.events = ffi.new("uint32_t[]", maxevents)

    def ready(self, n):
        """The first n events as (fd, events) pairs."""
        n = operator.index(n)
        if not 0 <= n <= self.maxevents:
            raise ValueError(f"n must be in 0 .. {self.maxevents}")
        return list(zip(_unpack(self.fds, n), _unpack(self.events, n)))


def epoll_wait(epfd, events, maxevents, timeout):
    """epoll_wait(2) into an epoll_events buffer: returns n, the number of
    ready fds (0: timeout), readable as events.fds[i] and events.events[i].
    maxevents: 1 .. the buffer's size. timeout in ms, -1: forever.
    Not retried on EINTR (InterruptedError)."""
    if not isinstance(events, epoll_events):
        raise TypeError(f"events must be an epoll_events buffer, not {type(events).__name__!r}")
    maxevents = _int(maxevents, "maxevents")
    if not 1 <= maxevents <= events.maxevents:
        raise ValueError(f"maxevents must be in 1 .. {events.maxevents} (the buffer's size), "
                         f"not {maxevents}")
    return _checked(mux_sys_epoll_wait(_int(epfd), events._raw, events.fds, events.events,
                                       events.maxevents, maxevents, _int(timeout, "timeout")))


# --- io_uring(7) ----------------------------------------------------------

def io_uring_setup(entries):
    """io_uring_setup(2) with the rings mapped: a pymux.uring.Ring, whose
    prep_*() methods fill SQEs. (Its fd is ring.fileno(); close it with
    ring.close(), which also collects what is in flight.)"""
    return Ring(entries)


def io_uring_enter(ring, min_complete=1, timeout=None):
    """io_uring_enter(2) with IORING_ENTER_GETEVENTS: submits every prepared
    SQE, waits for min_complete completions (timeout in seconds, None:
    forever) and returns the CQEs that are ready as (user_data, res, flags)
    tuples, advancing the CQ head past them. Unlike Ring.wait() it raises
    InterruptedError when a signal ends a wait that found nothing."""
    if not isinstance(ring, Ring):
        raise TypeError(f"ring must be a pymux.uring.Ring, not {type(ring).__name__!r}")
    return ring._wait(min_complete, timeout, retry_eintr=False)


def io_uring_register(ring, opcode, arg=None):
    """io_uring_register(2) on the ring's fd; nr_args is len(arg):

    IORING_REGISTER_PROBE, arg None: the supported IORING_OP_* numbers, a
    list (what Ring.supports() answers one at a time).
    IORING_REGISTER_BUFFERS, arg a sequence of writable buffers (the
    iovecs; pymux.uring.fixed_buffer(n) memory on any interpreter, any
    contiguous buffer on CPython): for ring.prep_read_fixed() and
    prep_write_fixed(). The kernel pins their pages, so the ring keeps the
    buffers alive (a bytearray cannot be resized) until
    IORING_UNREGISTER_BUFFERS or close.
    IORING_REGISTER_FILES, arg a sequence of fds (-1: an empty slot): after
    ring.sqe_set_flags(IOSQE_FIXED_FILE), an operation's fd is an index
    into them. The kernel holds its own references to the files.
    IORING_REGISTER_EVENTFD, arg an eventfd: signalled on each completion.
    IORING_UNREGISTER_BUFFERS, _FILES, _EVENTFD: arg None.
    IORING_REGISTER_PBUF_RING, arg (count, size): the kernel keeps the
    buffer ring's address, so it is ring-owned memory: ring.setup_buffers().

    Returns the kernel's result (0). Raises OSError for its errors (EBUSY:
    already registered, ENXIO: nothing to unregister), ValueError for an
    opcode not listed here or an array out of range, TypeError for an
    argument of the wrong type."""
    if not isinstance(ring, Ring):
        raise TypeError(f"ring must be a pymux.uring.Ring, not {type(ring).__name__!r}")
    return ring._register(opcode, arg)
