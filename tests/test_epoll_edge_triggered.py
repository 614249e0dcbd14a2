"""Edge-triggered, level-triggered, one-shot and RDHUP semantics of epoll,
run against the stdlib and pymux (they must pass EPOLLET & co. to the kernel
unchanged and report exactly what the kernel reports)."""

import errno
import socket

import pytest

from pypy_deviations import pypy_stdlib_lacks


def _drain(sock):
    total = 0
    while True:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return total
        if not chunk:
            return total
        total += len(chunk)


@pytest.fixture
def watched(selectmod, make_epoll, socketpair):
    """watched(mask) -> (ep, a, b): a new epoll with socket a registered
    under mask; b is a's peer."""

    def watch(mask):
        a, b = socketpair()
        ep = make_epoll()
        ep.register(a, mask)
        return ep, a, b

    return watch


def _reports_readable(selectmod, ep, sock, timeout=1.0):
    return ep.poll(timeout) == [(sock.fileno(), selectmod.EPOLLIN)]


@pytest.mark.parametrize("read", [0, 1], ids=["nothing-read", "partial-read"])
def test_epollet_reports_readable_only_once_for_one_arrival(selectmod, watched, read):
    ep, a, b = watched(selectmod.EPOLLIN | selectmod.EPOLLET)
    b.send(b"hello")
    assert _reports_readable(selectmod, ep, a)
    assert a.recv(read) == b"hello"[:read]   # data left unread: no new edge
    assert ep.poll(0) == []


@pytest.mark.parametrize("flag,rearm", [
    pytest.param("EPOLLET", lambda m, ep, a, b: b.send(b"two"), id="epollet-by-new-data"),
    pytest.param("EPOLLONESHOT", lambda m, ep, a, b: ep.modify(a, m.EPOLLIN | m.EPOLLONESHOT),
                 id="epolloneshot-by-modify"),
])
def test_a_quiet_fd_is_reported_again_once_rearmed(selectmod, watched, flag, rearm):
    ep, a, b = watched(selectmod.EPOLLIN | getattr(selectmod, flag))
    b.send(b"one")
    assert _reports_readable(selectmod, ep, a)
    assert ep.poll(0) == []
    rearm(selectmod, ep, a, b)
    assert _reports_readable(selectmod, ep, a)
    assert ep.poll(0) == []


def test_epollet_reports_writable_only_once(selectmod, watched):
    ep, a, _ = watched(selectmod.EPOLLOUT | selectmod.EPOLLET)
    assert ep.poll(0) == [(a.fileno(), selectmod.EPOLLOUT)]
    assert ep.poll(0) == []


def test_level_triggered_keeps_reporting_until_drained(selectmod, watched):
    ep, a, b = watched(selectmod.EPOLLIN)
    b.send(b"hello")
    for _ in range(3):
        assert _reports_readable(selectmod, ep, a)
    assert a.recv(1) == b"h"
    assert _reports_readable(selectmod, ep, a, 0)


def test_level_triggered_stops_reporting_once_drained(selectmod, watched):
    ep, a, b = watched(selectmod.EPOLLIN)
    b.send(b"hello")
    assert _reports_readable(selectmod, ep, a)
    assert _drain(a) == 5
    assert ep.poll(0) == []


def test_epolloneshot_reports_once_then_disarms(selectmod, watched):
    ep, a, b = watched(selectmod.EPOLLIN | selectmod.EPOLLONESHOT)
    b.send(b"one")
    assert _reports_readable(selectmod, ep, a)
    b.send(b"two")  # still readable, and new data, but disarmed
    assert ep.poll(0) == []


def test_epolloneshot_disarmed_fd_is_still_registered(selectmod, watched):
    ep, a, b = watched(selectmod.EPOLLIN | selectmod.EPOLLONESHOT)
    b.send(b"one")
    assert _reports_readable(selectmod, ep, a)
    with pytest.raises(FileExistsError):
        ep.register(a, selectmod.EPOLLIN)


@pytest.mark.parametrize("rdhup", [True, False], ids=["requested", "not-requested"])
def test_epollrdhup_reported_after_peer_shuts_down_writing_only_if_requested(selectmod, watched,
                                                                             rdhup):
    if rdhup:
        pypy_stdlib_lacks(selectmod, "EPOLLRDHUP")
    extra = selectmod.EPOLLRDHUP if rdhup else 0
    ep, a, b = watched(selectmod.EPOLLIN | extra)
    b.shutdown(socket.SHUT_WR)
    assert ep.poll(1.0) == [(a.fileno(), selectmod.EPOLLIN | extra)]


def test_epollrdhup_reported_on_tcp_peer_shutdown(selectmod, make_epoll, socketpair):
    pypy_stdlib_lacks(selectmod, "EPOLLRDHUP")
    a, b = socketpair("tcp")
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLRDHUP | selectmod.EPOLLET)
    b.shutdown(socket.SHUT_WR)
    (fd, events), = ep.poll(2.0)
    assert fd == a.fileno()
    assert events & selectmod.EPOLLRDHUP


def test_epollexclusive_registration_cannot_be_modified(selectmod, watched):
    pypy_stdlib_lacks(selectmod, "EPOLLEXCLUSIVE")
    ep, a, _ = watched(selectmod.EPOLLIN | selectmod.EPOLLEXCLUSIVE)
    with pytest.raises(OSError) as info:
        ep.modify(a, selectmod.EPOLLIN)
    assert info.value.errno == errno.EINVAL
