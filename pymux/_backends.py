"""The C loop's backends by name, one table for pymux.reactor and pymux.aio,
and a new C loop on one of them."""
import errno

from ._clib import mux_loop_new
from ._errors import raise_errno
from ._mux import ffi, lib

# name -> (backend kind, edge-triggered streams). Watchers (add_reader,
# add_writer) stay level-triggered on every backend. "uring" serves streams
# and listeners by io_uring completions (Linux 6.0+, where the kernel
# allows io_uring: pymux.uring.available()); never the default.
BACKENDS = {
    "epoll": (lib.MUX_BACKEND_EPOLL, 0),
    "epoll-et": (lib.MUX_BACKEND_EPOLL, 1),
    "poll": (lib.MUX_BACKEND_POLL, 0),
    "select": (lib.MUX_BACKEND_SELECT, 0),
    "uring": (lib.MUX_BACKEND_URING, 0),
}
# Where the kernel refuses io_uring, mux_loop_new says only the errno; the
# OSError then names the cause, as pymux.uring.Ring() does.
_REFUSALS = (errno.ENOSYS, errno.EPERM, errno.EOPNOTSUPP)


def backend_kind(backend):
    """BACKENDS[backend]; ValueError for a name not in BACKENDS."""
    try:
        return BACKENDS[backend]
    except KeyError:
        raise ValueError(f"unknown backend {backend!r}; choose from {sorted(BACKENDS)}") from None


def new_c_loop(backend):
    """A new mux_loop_t * on the named backend, which the caller frees with
    mux_loop_free; ValueError for a name not in BACKENDS."""
    kind, edge = backend_kind(backend)
    err = ffi.new("int *")
    cloop = mux_loop_new(kind, edge, err)
    if cloop == ffi.NULL:
        if kind == lib.MUX_BACKEND_URING and -err[0] in _REFUSALS:
            from .uring import unavailable_reason
            reason = unavailable_reason()
            if -err[0] == errno.EOPNOTSUPP and reason is None:
                reason = ("this kernel's io_uring lacks multishot recv into provided-buffer "
                          "rings (Linux 6.0)")
            raise OSError(-err[0], f"backend 'uring' is unavailable: {reason}")
        raise_errno(err[0])
    return cloop
