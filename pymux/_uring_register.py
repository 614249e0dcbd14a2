"""io_uring_register(2)'s arguments, from Python objects to what
mux_uring_register (csrc/mux_uring_register.c) takes, for pymux.sys.

Each opcode's argument becomes one cffi array of exactly nr_args entries,
checked first with the stdlib's exception types; C checks them again. The
fixed buffers also come back as the views the ring must keep while they
are registered: the kernel pins their pages, and a fixed read writes into
them.
"""
import operator

from ._mux import ffi, lib
from .select import _fileno

REGISTER_BUFFERS = lib.MUX_URING_REGISTER_BUFFERS
UNREGISTER_BUFFERS = lib.MUX_URING_UNREGISTER_BUFFERS
REGISTER_FILES = lib.MUX_URING_REGISTER_FILES
UNREGISTER_FILES = lib.MUX_URING_UNREGISTER_FILES
REGISTER_EVENTFD = lib.MUX_URING_REGISTER_EVENTFD
UNREGISTER_EVENTFD = lib.MUX_URING_UNREGISTER_EVENTFD
REGISTER_PROBE = lib.MUX_URING_REGISTER_PROBE
REGISTER_PBUF_RING = lib.MUX_URING_REGISTER_PBUF_RING

_MAX_IO = lib.MUX_URING_MAX_IO


def _sequence(arg, what, most):
    try:
        items = list(arg)
    except TypeError:
        raise TypeError(f"{what} must be a sequence, not {type(arg).__name__!r}") from None
    if not 1 <= len(items) <= most:
        raise ValueError(f"{what}: 1 .. {most} of them, not {len(items)}")
    return items


def _fixed_view(buffer, pinning):
    """A view of memory the kernel may pin: writable, contiguous, and (where
    a view does not pin a buffer: PyPy) memory that cannot move."""
    if not pinning and not isinstance(buffer, ffi.buffer):
        raise TypeError("on this interpreter a buffer to register must be "
                        "pymux.uring.fixed_buffer() memory: a view does not stop "
                        f"a {type(buffer).__name__!r} from moving")
    try:
        view = ffi.from_buffer(buffer, require_writable=True)
    except BufferError as exc:   # read-only or not contiguous
        raise TypeError(f"a read-write, contiguous bytes-like object is required ({exc})") \
            from None
    if not 1 <= len(view) <= _MAX_IO:
        raise ValueError(f"a registered buffer holds 1 .. {_MAX_IO} bytes, not {len(view)}")
    return view


def _buffers(arg, pinning):
    views = tuple(_fixed_view(b, pinning)
                  for b in _sequence(arg, "buffers", lib.MUX_URING_MAX_FIXED_BUFFERS))
    iov = ffi.new("struct mux_uring_iovec[]", len(views))
    for entry, view in zip(iov, views):
        entry.base = view
        entry.len = len(view)
    return iov, len(views), views


def _files(arg, pinning):
    fds = [-1 if fd == -1 else _fileno(fd)
           for fd in _sequence(arg, "files", lib.MUX_URING_MAX_FIXED_FILES)]
    return ffi.new("int[]", fds), len(fds), None


def _eventfd(arg, pinning):
    return ffi.new("int *", _fileno(arg)), 1, None


def _probe(arg, pinning):
    _nothing(arg, pinning)
    n = lib.MUX_URING_MAX_PROBE_OPS
    return ffi.new("uint8_t[]", n), n, None


def _nothing(arg, pinning):
    if arg is not None:
        raise TypeError(f"this opcode takes no argument (None), not {type(arg).__name__!r}")
    return ffi.NULL, 0, None


_ARGUMENTS = {
    REGISTER_BUFFERS: _buffers,
    UNREGISTER_BUFFERS: _nothing,
    REGISTER_FILES: _files,
    UNREGISTER_FILES: _nothing,
    REGISTER_EVENTFD: _eventfd,
    UNREGISTER_EVENTFD: _nothing,
    REGISTER_PROBE: _probe,
}


def arguments(opcode, arg, pinning):
    """(C argument, nr_args, views to keep) for an opcode other than
    REGISTER_PBUF_RING; ValueError for an opcode pymux does not bind."""
    opcode = operator.index(opcode)
    try:
        build = _ARGUMENTS[opcode]
    except KeyError:
        raise ValueError(f"io_uring_register opcode {opcode} is not bound by pymux") from None
    return build(arg, pinning)


def supported_ops(probe, n):
    """The opcodes a probe's bytes mark as supported, ascending."""
    return [op for op, ok in enumerate(ffi.unpack(probe, n)) if ok]
