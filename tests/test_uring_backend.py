"""The loop core's "uring" backend by name: offered everywhere the other
backends are (Reactor, pymux.aio, python -m pymux.echo), never the default,
and refused with an OSError naming the cause where the kernel refuses
io_uring. (What it does is tested by the reactor, echo and aio suites,
which run on it, and by tests/c/test_loop_uring.c.)"""
import errno

import pytest

import pymux.aio
import pymux.reactor
from pymux import _backends
from pymux._mux import ffi
from pymux.echo._cli import build_parser
from uring_helpers import require_backend


def test_uring_is_offered_by_the_reactor_aio_and_echo_but_never_the_default():
    assert "uring" in pymux.reactor.BACKENDS
    assert build_parser().parse_args(["--backend", "uring"]).backend == "uring"
    assert build_parser().parse_args([]).backend == "epoll"
    reactor = pymux.reactor.Reactor()
    try:
        assert reactor.backend == "epoll"
    finally:
        reactor.close()


def test_a_uring_reactor_and_aio_loop_run_where_the_kernel_allows_io_uring():
    require_backend("uring")
    reactor = pymux.reactor.Reactor("uring")
    try:
        assert reactor.backend == "uring"
        fired = []
        reactor.call_later(0.001, fired.append, True)
        assert reactor.run_until(lambda: fired, timeout=10)
    finally:
        reactor.close()
    loop = pymux.aio.Loop("uring")
    try:
        assert loop.run_until_complete(_answer()) == 42
    finally:
        loop.close()


async def _answer():
    return 42


@pytest.mark.parametrize("err", [errno.ENOSYS, errno.EPERM, errno.EOPNOTSUPP])
def test_a_kernel_that_refuses_io_uring_gets_an_oserror_naming_the_cause(monkeypatch, err):
    def refused(kind, edge, err_out):
        err_out[0] = -err
        return ffi.NULL

    reason = "io_uring is disabled by sysctl kernel.io_uring_disabled=2"
    monkeypatch.setattr(_backends, "mux_loop_new", refused)
    monkeypatch.setattr("pymux.uring.unavailable_reason", lambda: reason)
    for make in (pymux.reactor.Reactor, pymux.aio.Loop):
        with pytest.raises(OSError) as info:
            make("uring")
        assert info.value.errno == err
        assert "uring" in str(info.value) and reason in str(info.value)


def test_a_kernel_with_rings_but_no_multishot_recv_is_told_so(monkeypatch):
    # Linux 5.19: rings and provided-buffer rings work (pymux.uring says
    # available), multishot recv does not: mux_loop_new probes it and says
    # EOPNOTSUPP.
    def refused(kind, edge, err_out):
        err_out[0] = -errno.EOPNOTSUPP
        return ffi.NULL

    monkeypatch.setattr(_backends, "mux_loop_new", refused)
    monkeypatch.setattr("pymux.uring.unavailable_reason", lambda: None)
    for make in (pymux.reactor.Reactor, pymux.aio.Loop):
        with pytest.raises(OSError) as info:
            make("uring")
        assert info.value.errno == errno.EOPNOTSUPP
        assert "multishot recv" in str(info.value) and "6.0" in str(info.value)
