"""pymux.select's epoll.poll() builds a batch of events one way on PyPy and
another on CPython (pymux._clib.JIT_INLINES_CFFI): both ways run here, on
either interpreter, against the stdlib's epoll on the same fds."""
import select as std_select

import pytest

import pymux.select as mux_select


@pytest.mark.parametrize("jit_path", [False, True])
@pytest.mark.parametrize("ready", [0, 1, 2, 7])
def test_poll_reports_what_the_stdlib_reports_on_either_path(monkeypatch, socketpair, jit_path,
                                                             ready):
    monkeypatch.setattr(mux_select, "JIT_INLINES_CFFI", jit_path)
    pairs = [socketpair() for _ in range(8)]
    for a, b in pairs[:ready]:
        b.send(b"x")
    with std_select.epoll() as std_ep, mux_select.epoll() as mux_ep:
        for a, b in pairs:
            std_ep.register(a.fileno(), std_select.EPOLLIN)
            mux_ep.register(a.fileno(), mux_select.EPOLLIN)
        got = mux_ep.poll(0)
        assert sorted(got) == sorted(std_ep.poll(0))
        assert len(got) == ready
        assert all(type(fd) is int and type(events) is int for fd, events in got)
