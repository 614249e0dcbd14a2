"""A thin binding of io_uring: Linux's completion-based (asynchronous) I/O.

For study, and for driving a ring from Python: prepare operations, each
tagged with a ``user_data`` int, submit them, and wait for their
completions::

    with Ring() as ring:
        ring.prep_accept(listener, user_data=1)
        for user_data, res, flags in ring.wait():
            ...   # res: the new fd, or -errno

The ring is csrc/mux_uring.c: the raw system calls, no liburing.
``wait()`` is one C call per batch (submit what was prepared, wait, copy
the ready completions into one flat int64 array) plus one ``ffi.unpack``,
and returns a list of ``(user_data, res, flags)`` tuples, the shape
``epoll.poll()`` returns: building the tuples in Python costs about what
unpacking three separate arrays would, and the caller gets one object per
completion to unpack in a ``for``. ``res`` is the operation's result or a
negative errno, as the kernel reports it; nothing is raised for it.

Memory. The kernel writes a recv's data and reads a send's data whenever
the operation runs, after prep_*() returned. So the ring keeps a reference
to each buffer (a cffi view that also pins a bytearray's size) until the
operation's final completion (the one without ``CQE_F_MORE``), whatever
the caller drops. (On PyPy, where a view does not stop a bytearray from
being resized and moved, the kernel uses ring-owned copies instead: a
send's data is copied at prep_send(), a recv's into the caller's buffer
when wait() returns its completion.) Provided buffers (setup_buffers(),
prep_recv_multishot(), received()) are the ring's own memory: the kernel
picks one when data arrives, and wait() gives it back at its next call.
Registered buffers (pymux.sys.io_uring_register, for prep_read_fixed()
and prep_write_fixed()) are held by the ring while registered, and by each
fixed operation until its final completion. close() cancels every
operation in flight and collects its completion
before it lets the buffers go (in the rare case the kernel does not answer
within a second, they are kept for the life of the process). A user_data may be in flight only once at a time (ValueError
otherwise), so a completion and a cancellation always name one operation.

Errors: a closed ring raises ValueError, like a closed epoll object; bad
arguments raise ValueError, TypeError or OverflowError at prep_*(), as
the stdlib's select module does for fds (an fd >= 2**20, which cannot be
open under the default fs.nr_open: OSError(EBADF)); an fd that is not open
fails in its completion (res == -errno.EBADF). A full submission queue raises
OSError(EBUSY): submit() or wait(), then prepare again. A ring belongs to
one thread at a time (RuntimeError for a call while another thread is in
one), and to the process that made it: in a child forked after, every
method but close() raises RuntimeError.

``available()`` tells whether this kernel lets the process make a ring;
``Ring()`` raises OSError naming the cause where it does not (no io_uring
in the kernel, kernel.io_uring_disabled, a seccomp filter, a missing
feature).
"""
import errno
import operator
import platform
import socket
import time
import warnings

from ._clib import (mux_uring_buffer_pool, mux_uring_close, mux_uring_completions,
                    mux_uring_cq_entries, mux_uring_features, mux_uring_fileno, mux_uring_free,
                    mux_uring_new, mux_uring_prep_accept, mux_uring_prep_cancel,
                    mux_uring_prep_nop, mux_uring_prep_poll, mux_uring_prep_read_fixed,
                    mux_uring_prep_recv, mux_uring_prep_recv_multishot, mux_uring_prep_send,
                    mux_uring_prep_timeout, mux_uring_prep_write_fixed, mux_uring_register,
                    mux_uring_setup_buffers, mux_uring_sq_entries, mux_uring_sqe_set_flags,
                    mux_uring_submit, mux_uring_supports, mux_uring_wait)
from ._errors import oserror
from ._mux import ffi, lib
from ._timeouts import retry_on_eintr, to_ns
from ._uring_register import (REGISTER_BUFFERS, REGISTER_PBUF_RING, REGISTER_PROBE,
                              UNREGISTER_BUFFERS, arguments, supported_ops)
from .select import _fileno

__all__ = ["Ring", "available", "unavailable_reason", "fixed_buffer", "CQE_F_MORE",
           "CQE_F_BUFFER", "SQE_FIXED_FILE", "MAX_ENTRIES", "MAX_BUFFERS",
           "OP_NOP", "OP_READ_FIXED", "OP_WRITE_FIXED", "OP_POLL_ADD", "OP_TIMEOUT",
           "OP_ACCEPT", "OP_ASYNC_CANCEL", "OP_SEND", "OP_RECV"]

OP_NOP = lib.MUX_URING_OP_NOP
OP_READ_FIXED = lib.MUX_URING_OP_READ_FIXED
OP_WRITE_FIXED = lib.MUX_URING_OP_WRITE_FIXED
OP_POLL_ADD = lib.MUX_URING_OP_POLL_ADD
OP_TIMEOUT = lib.MUX_URING_OP_TIMEOUT
OP_ACCEPT = lib.MUX_URING_OP_ACCEPT
OP_ASYNC_CANCEL = lib.MUX_URING_OP_ASYNC_CANCEL
OP_SEND = lib.MUX_URING_OP_SEND
OP_RECV = lib.MUX_URING_OP_RECV
CQE_F_MORE = lib.MUX_URING_CQE_F_MORE
CQE_F_BUFFER = lib.MUX_URING_CQE_F_BUFFER
SQE_FIXED_FILE = lib.MUX_URING_SQE_FIXED_FILE
MAX_ENTRIES = lib.MUX_URING_MAX_ENTRIES
MAX_BUFFERS = lib.MUX_URING_MAX_BUFFERS

_INTS = lib.MUX_URING_CQE_INTS
_BUFFER_SHIFT = lib.MUX_URING_CQE_BUFFER_SHIFT
_MAX_IO = lib.MUX_URING_MAX_IO
# CPython pins a buffer's memory while a view of it exists (a bytearray
# with one cannot be resized: BufferError), so the kernel may use the
# caller's memory itself. PyPy moves a resized bytearray regardless, so
# there the kernel reads and writes ring-owned copies instead.
_PINNING = platform.python_implementation() == "CPython"
_USER_DATA_LIMIT = 2**63
_unpack = ffi.unpack

# What mux_uring_new's `missing` mask names.
_NEEDS = (
    (lib.MUX_URING_NEED_NODROP, "IORING_FEAT_NODROP (Linux 5.5)"),
    (lib.MUX_URING_NEED_EXT_ARG, "IORING_FEAT_EXT_ARG (Linux 5.11)"),
    (lib.MUX_URING_NEED_PROBE, "IORING_REGISTER_PROBE (Linux 5.6)"),
    (lib.MUX_URING_NEED_OPS, "one of the operations nop, poll, timeout, accept, cancel, "
                             "send, recv (Linux 5.6)"),
)

# Buffers of operations a closed ring could not collect: the kernel may
# still use them, so they live as long as the process.
_UNCOLLECTED = []

_FORKED = ("this io_uring ring was created before fork(), in the parent process: "
           "a child may only close() it, and must make its own")


def _disabled_setting():
    try:
        with open("/proc/sys/kernel/io_uring_disabled") as f:
            return f.read().strip()
    except OSError:
        return None


def _refusal(rc, missing):
    """The OSError for a ring the kernel would not make, naming the cause."""
    err = -rc
    if err == errno.ENOSYS:
        cause = "this kernel has no io_uring (io_uring_setup: ENOSYS)"
    elif err == errno.EPERM:
        setting = _disabled_setting()
        if setting not in (None, "0"):
            cause = f"io_uring is disabled by sysctl kernel.io_uring_disabled={setting}"
        else:
            cause = ("io_uring_setup was refused (EPERM) although kernel.io_uring_disabled "
                     f"is {setting or 'absent'}: a seccomp filter or an LSM denies it")
    elif err == errno.EOPNOTSUPP:
        lacks = [name for bit, name in _NEEDS if missing & bit]
        cause = "this kernel's io_uring lacks " + ", ".join(lacks)
    else:
        return oserror(rc)
    return OSError(err, cause)


def _make(entries):
    err = ffi.new("int *")
    missing = ffi.new("unsigned *")
    r = mux_uring_new(entries, err, missing)
    if r == ffi.NULL:
        raise _refusal(err[0], missing[0])
    return ffi.gc(r, mux_uring_free)


def unavailable_reason():
    """None where this process can make an io_uring ring, else why not."""
    try:
        mux_uring_close(_make(1))
    except OSError as exc:
        return str(exc)
    return None


def available():
    """True where this process can make an io_uring ring. Never raises."""
    return unavailable_reason() is None


def _failure(rc):
    """The exception for a negative return of the ring's C functions."""
    if rc == -errno.EINPROGRESS:
        return RuntimeError("this io_uring ring is in use by another thread")
    if rc == -errno.ECHILD:
        return RuntimeError(_FORKED)
    return oserror(rc)


def _user_data(value):
    value = operator.index(value)
    if not 0 <= value < _USER_DATA_LIMIT:
        raise OverflowError(f"user_data must be in range(0, 2**63), not {value}")
    return value


def _copy_received(keep, nbytes):
    """Where buffers are not pinned: a recv's data, from the ring's copy
    into the caller's buffer (as much as it still holds)."""
    copy, buffer = keep
    try:
        target = memoryview(buffer).cast("B")
    except (ValueError, BufferError):   # released or closed since: the data has no home
        return
    nbytes = min(nbytes, len(target))
    target[:nbytes] = ffi.buffer(copy, nbytes)


def _flag(value):
    return 1 if value else 0


def fixed_buffer(size):
    """`size` zeroed bytes that never move: memory to register with
    pymux.sys.io_uring_register(ring, IORING_REGISTER_BUFFERS, ...) on any
    interpreter (CPython also pins a bytearray while it is registered)."""
    size = operator.index(size)
    if not 1 <= size <= _MAX_IO:
        raise ValueError(f"size must be in 1 .. {_MAX_IO}, not {size}")
    return ffi.buffer(ffi.new("char[]", size))


class Ring:
    """An io_uring instance: `entries` submission slots (1 .. MAX_ENTRIES,
    rounded up to a power of two) and twice as many completion slots."""

    __slots__ = ("_live", "_inflight", "_pool", "_fixed", "sq_entries", "cq_entries",
                 "features", "__weakref__")

    def __init__(self, entries=256):
        self._live = None
        entries = operator.index(entries)
        if not 1 <= entries <= MAX_ENTRIES:
            raise ValueError(f"entries must be in 1 .. {MAX_ENTRIES}, not {entries}")
        r = _make(entries)
        # One attribute read once per call: a call that found the ring open
        # keeps it, and so its completion array, alive to its end.
        self._live = (r, mux_uring_completions(r))
        self._inflight = {}   # user_data -> what the kernel may use, till its final completion
        self._pool = None     # (ring, view of the provided buffers, buffer size) once set up
        self._fixed = None    # views of the registered buffers, while registered
        self.sq_entries = mux_uring_sq_entries(r)
        self.cq_entries = mux_uring_cq_entries(r)
        self.features = mux_uring_features(r)   # IORING_FEAT_* bits

    # --- lifetime ---------------------------------------------------------

    @property
    def closed(self):
        """True once close() was called."""
        return self._live is None

    def _ring(self):
        live = self._live
        if live is None:
            raise ValueError("I/O operation on closed io_uring ring")
        return live[0]

    def close(self):
        """Cancel what is in flight, collect its completions, release the
        ring. Prepared, unsubmitted operations are dropped. Idempotent."""
        live = self._live
        if live is None:
            return
        rc = mux_uring_close(live[0])
        if rc < 0:
            raise _failure(rc)
        self._live = self._pool = self._fixed = None
        if rc > 0:
            _UNCOLLECTED.append(self._inflight)
        self._inflight = {}

    def __enter__(self):
        self._ring()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self, _warn=warnings.warn):
        # Closing here, before any buffer it pins is freed, is what keeps
        # the kernel from writing into freed memory; and an unclosed ring
        # is worth a warning, as an unclosed file is.
        if getattr(self, "_live", None) is not None:
            _warn(f"unclosed io_uring ring {self!r}", ResourceWarning, source=self)
            self.close()

    def fileno(self):
        """The ring's file descriptor."""
        rc = mux_uring_fileno(self._ring())
        if rc < 0:
            raise _failure(rc)
        return rc

    def supports(self, op):
        """Whether the kernel has the operation (OP_*; IORING_REGISTER_PROBE)."""
        return mux_uring_supports(self._ring(), operator.index(op)) == 1

    # --- preparation ------------------------------------------------------

    def _claim(self, user_data):
        user_data = _user_data(user_data)
        if user_data in self._inflight:
            raise ValueError(f"user_data {user_data} is already in flight")
        return user_data

    def _prepared(self, rc, user_data, keep=None):
        if rc < 0:
            if rc == -errno.EBUSY:
                raise OSError(errno.EBUSY, "the submission queue is full: submit() or "
                                           "wait() first")
            raise _failure(rc)
        self._inflight[user_data] = keep

    def prep_nop(self, user_data):
        """An operation that does nothing: completes with res 0."""
        r = self._ring()
        ud = self._claim(user_data)
        self._prepared(mux_uring_prep_nop(r, ud), ud)

    def prep_accept(self, sock, user_data, *, nonblocking=False, multishot=False):
        """accept4() on a listening socket: res is the new fd (close-on-exec;
        non-blocking if asked). multishot: one completion per connection,
        with CQE_F_MORE while more will come (Linux 5.19)."""
        r = self._ring()
        fd = _fileno(sock)
        ud = self._claim(user_data)
        flags = socket.SOCK_NONBLOCK if nonblocking else 0
        self._prepared(mux_uring_prep_accept(r, fd, flags, _flag(multishot), ud), ud)

    def prep_recv(self, sock, buffer, user_data, nbytes=0, flags=0):
        """recv() into a writable buffer (its first nbytes, all if 0), as
        socket.recv_into(); res is the byte count, 0 at end of stream."""
        r = self._ring()
        fd = _fileno(sock)
        try:
            view = ffi.from_buffer(buffer, require_writable=True)
        except BufferError:   # socket.recv_into's exception for read-only buffers
            raise TypeError("a read-write bytes-like object is required, "
                            f"not '{type(buffer).__name__}'") from None
        nbytes = operator.index(nbytes)
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        if nbytes > len(view):
            raise ValueError("buffer too small for requested bytes")
        ud = self._claim(user_data)
        if _PINNING:
            target = keep = view
        else:   # the kernel writes into a copy of ours, copied over at completion
            target = ffi.new("char[]", len(view))
            keep = (target, buffer)
        rc = mux_uring_prep_recv(r, fd, target, nbytes or len(view), operator.index(flags), ud)
        self._prepared(rc, ud, keep)

    def prep_send(self, sock, data, user_data, flags=0):
        """send() of a bytes-like object (MSG_NOSIGNAL always); res is the
        byte count sent, which may be short."""
        r = self._ring()
        fd = _fileno(sock)
        view = ffi.from_buffer(data)
        nbytes = len(view)
        ud = self._claim(user_data)
        if not _PINNING:   # the kernel reads a copy of ours
            copy = ffi.new("char[]", nbytes)
            ffi.memmove(copy, view, nbytes)
            view = copy
        rc = mux_uring_prep_send(r, fd, view, nbytes, operator.index(flags), ud)
        self._prepared(rc, ud, view)

    def prep_poll(self, sock, events, user_data, *, multishot=False):
        """Readiness of an fd (poll(2) bits, select.POLLIN ...): res is the
        ready mask. multishot: a completion each time it becomes ready,
        with CQE_F_MORE (Linux 5.13)."""
        r = self._ring()
        fd = _fileno(sock)
        ud = self._claim(user_data)
        rc = mux_uring_prep_poll(r, fd, operator.index(events), _flag(multishot), ud)
        self._prepared(rc, ud)

    def prep_timeout(self, seconds, user_data, count=0):
        """Completes with res -ETIME after `seconds`, or with 0 once `count`
        (> 0) other operations have completed."""
        r = self._ring()
        ns = to_ns(seconds, 1_000_000_000, "seconds must be a number")
        if ns < 0:
            raise ValueError("seconds must be non-negative")
        ud = self._claim(user_data)
        rc = mux_uring_prep_timeout(r, ns, operator.index(count), ud)
        self._prepared(rc, ud)

    def prep_cancel(self, target, user_data):
        """Cancels the operation with user_data `target`: res 0 (it then
        completes with -ECANCELED), -ENOENT (none) or -EALREADY (running)."""
        r = self._ring()
        target = _user_data(target)
        ud = self._claim(user_data)
        self._prepared(mux_uring_prep_cancel(r, target, ud), ud)

    # --- provided buffers -------------------------------------------------

    def setup_buffers(self, count, size):
        """Give the kernel `count` (a power of two, up to MAX_BUFFERS)
        buffers of `size` bytes, owned by the ring, for prep_recv_multishot:
        memory is taken when data arrives, not per waiting connection
        (Linux 5.19). Once per ring."""
        r = self._ring()
        count, size = operator.index(count), operator.index(size)
        if not 1 <= count <= MAX_BUFFERS or count & (count - 1):
            raise ValueError(f"count must be a power of two in 1 .. {MAX_BUFFERS}")
        if not 1 <= size or count * size > _MAX_IO:
            raise ValueError(f"size must be >= 1, with count * size <= {_MAX_IO}")
        if self._pool is not None:
            raise ValueError("this ring's buffers are already set up")
        rc = mux_uring_setup_buffers(r, count, size)
        if rc < 0:
            raise _failure(rc)
        # The ring in the tuple keeps the pool's memory alive with the view.
        self._pool = (r, ffi.buffer(mux_uring_buffer_pool(r), count * size), size)

    def prep_recv_multishot(self, sock, user_data):
        """recv() each time data arrives, into a buffer of setup_buffers():
        a completion per arrival with CQE_F_BUFFER (read it with
        received()) and CQE_F_MORE while more will come. It ends at end of
        stream (res 0), on an error, and with -ENOBUFS when every buffer is
        taken: prepare it again then (Linux 6.0)."""
        r = self._ring()
        fd = _fileno(sock)
        if self._pool is None:
            raise ValueError("setup_buffers() first: a multishot recv takes provided buffers")
        ud = self._claim(user_data)
        self._prepared(mux_uring_prep_recv_multishot(r, fd, ud), ud)

    def received(self, res, flags):
        """The bytes a completion of prep_recv_multishot brought, from its
        provided buffer. Call it before the next wait(), which gives the
        buffer back to the kernel."""
        self._ring()
        pool = self._pool
        if pool is None or not flags & CQE_F_BUFFER:
            raise ValueError("this completion has no provided buffer")
        _, view, size = pool
        start = (flags >> _BUFFER_SHIFT) * size
        if not 0 <= res <= size or not 0 <= start < len(view):
            raise ValueError(f"no such buffer or length: res={res}, flags={flags:#x}")
        return view[start:start + res]

    # --- registered resources (pymux.sys.io_uring_register) ---------------

    def _register(self, opcode, arg):
        """io_uring_register(2) with opcode's argument (see pymux.sys). The
        ring keeps the registered buffers' views until they are
        unregistered or the ring is closed."""
        r = self._ring()
        opcode = operator.index(opcode)
        if opcode == REGISTER_PBUF_RING:   # the kernel keeps its address: ring-owned
            count, size = arg
            self.setup_buffers(count, size)
            return 0
        c_arg, nr_args, views = arguments(opcode, arg, _PINNING)
        rc = mux_uring_register(r, opcode, c_arg, nr_args)
        if rc < 0:
            raise _failure(rc)
        if opcode == REGISTER_BUFFERS:
            self._fixed = views
        elif opcode == UNREGISTER_BUFFERS:
            self._fixed = None   # a fixed operation in flight keeps its own
        elif opcode == REGISTER_PROBE:
            return supported_ops(c_arg, nr_args)
        return rc

    def _prep_fixed(self, prep, sock, index, user_data, nbytes, offset, file_offset):
        r = self._ring()
        fd = _fileno(sock)
        index, offset = operator.index(index), operator.index(offset)
        fixed = self._fixed
        if fixed is None or not 0 <= index < len(fixed):
            raise ValueError(f"no registered buffer {index}")
        view = fixed[index]
        if not 0 <= offset <= len(view):
            raise ValueError(f"offset must be in 0 .. {len(view)}, not {offset}")
        nbytes = len(view) - offset if nbytes is None else operator.index(nbytes)
        if not 0 <= nbytes <= len(view) - offset:
            raise ValueError(f"nbytes must be in 0 .. {len(view) - offset}, not {nbytes}")
        file_offset = operator.index(file_offset)
        if not -1 <= file_offset < _USER_DATA_LIMIT:
            raise ValueError("file_offset must be -1 (the file's position) or >= 0")
        ud = self._claim(user_data)
        rc = prep(r, fd, index, offset, nbytes, file_offset, ud)
        self._prepared(rc, ud, view)

    def prep_read_fixed(self, sock, index, user_data, nbytes=None, offset=0, file_offset=-1):
        """read() into registered buffer `index` (pymux.sys.io_uring_register),
        nbytes (default: to its end) from byte `offset` of it, at file_offset
        (-1: the file's position, as read(2), and what sockets and pipes
        use); res is the byte count."""
        self._prep_fixed(mux_uring_prep_read_fixed, sock, index, user_data, nbytes, offset,
                         file_offset)

    def prep_write_fixed(self, sock, index, user_data, nbytes=None, offset=0, file_offset=-1):
        """write() from registered buffer `index`, as prep_read_fixed()."""
        self._prep_fixed(mux_uring_prep_write_fixed, sock, index, user_data, nbytes, offset,
                         file_offset)

    def sqe_set_flags(self, flags):
        """liburing's io_uring_sqe_set_flags on the operation prepared last
        (not yet submitted): SQE_FIXED_FILE makes its fd an index into the
        registered files."""
        flags = operator.index(flags)
        if flags & ~SQE_FIXED_FILE:
            raise ValueError(f"flags must be SQE_FIXED_FILE or 0, not {flags:#x}")
        rc = mux_uring_sqe_set_flags(self._ring(), flags)
        if rc == -errno.EINVAL:
            raise ValueError("no operation was prepared since the last submit")
        if rc < 0:
            raise _failure(rc)

    # --- submission and completion ----------------------------------------

    def submit(self):
        """Hand the prepared operations to the kernel; returns how many it took."""
        rc = mux_uring_submit(self._ring())
        if rc < 0:
            raise _failure(rc)
        return rc

    def wait(self, min_complete=1, timeout=None):
        """Submit what was prepared, wait until at least min_complete
        completions are ready (or `timeout` seconds passed; None or
        negative: no limit), and return every ready completion as a list
        of (user_data, res, flags) tuples. A signal is handled as PEP 475
        says: its handler runs, then the wait goes on."""
        return self._wait(min_complete, timeout, retry_eintr=True)

    def _wait(self, min_complete, timeout, retry_eintr):
        """wait(); without retry_eintr (pymux.sys.io_uring_enter), a signal
        that ends a wait which found nothing raises InterruptedError."""
        live = self._live
        if live is None:
            raise ValueError("I/O operation on closed io_uring ring")
        r, out = live
        min_complete = operator.index(min_complete)
        if not 0 <= min_complete <= self.cq_entries:
            raise ValueError(f"min_complete must be in 0 .. {self.cq_entries}")
        timeout_us = -1
        if timeout is not None:
            ns = to_ns(timeout, 1_000_000_000, "timeout must be a number or None")
            if ns >= 0:
                timeout_us = -(-ns // 1000)
        started = time.monotonic_ns() if timeout_us > 0 else 0
        n = mux_uring_wait(r, min_complete, timeout_us)
        if n < 0:
            if n != -errno.EINTR or not retry_eintr:
                raise _failure(n)
            n = retry_on_eintr(n, lambda us: mux_uring_wait(r, min_complete, us),
                               timeout_us, started + timeout_us * 1000)
        if n == 0:
            return []
        it = iter(_unpack(out, _INTS * n))
        done = list(zip(it, it, it))
        inflight = self._inflight
        for user_data, res, flags in done:
            if not flags & CQE_F_MORE:
                keep = inflight.pop(user_data, None)
                if type(keep) is tuple and res > 0:
                    _copy_received(keep, res)
        return done

    def __repr__(self):
        state = "closed" if self._live is None else f"{len(self._inflight)} in flight"
        return f"<pymux.uring.Ring sq_entries={getattr(self, 'sq_entries', 0)} {state}>"
