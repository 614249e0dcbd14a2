"""The C loop's backends by name, one table for pymux.reactor and pymux.aio,
and a new C loop on one of them."""
from ._clib import mux_loop_new
from ._errors import raise_errno
from ._mux import ffi, lib

# name -> (backend kind, edge-triggered streams). Watchers (add_reader,
# add_writer) stay level-triggered on every backend.
BACKENDS = {
    "epoll": (lib.MUX_BACKEND_EPOLL, 0),
    "epoll-et": (lib.MUX_BACKEND_EPOLL, 1),
    "poll": (lib.MUX_BACKEND_POLL, 0),
    "select": (lib.MUX_BACKEND_SELECT, 0),
}


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
        raise_errno(err[0])
    return cloop
