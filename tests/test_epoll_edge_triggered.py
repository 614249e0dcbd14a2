"""Edge-triggered, level-triggered, one-shot and RDHUP semantics of epoll,
run against the stdlib and pymux (they must pass EPOLLET & co. to the kernel
unchanged and report exactly what the kernel reports)."""

import errno
import socket

import pytest


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


def test_epollet_reports_readable_only_once_for_one_arrival(selectmod, make_epoll, socketpair):
    a, b = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN | selectmod.EPOLLET)
    b.send(b"hello")
    assert ep.poll(1.0) == [(a.fileno(), selectmod.EPOLLIN)]
    assert ep.poll(0) == []


def test_epollet_stays_silent_after_partial_read(selectmod, make_epoll, socketpair):
    a, b = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN | selectmod.EPOLLET)
    b.send(b"hello")
    assert ep.poll(1.0) == [(a.fileno(), selectmod.EPOLLIN)]
    assert a.recv(1) == b"h"  # data left unread: no new edge
    assert ep.poll(0) == []


def test_epollet_reports_again_after_new_data_arrives(selectmod, make_epoll, socketpair):
    a, b = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN | selectmod.EPOLLET)
    b.send(b"one")
    assert ep.poll(1.0) == [(a.fileno(), selectmod.EPOLLIN)]
    assert ep.poll(0) == []
    b.send(b"two")
    assert ep.poll(1.0) == [(a.fileno(), selectmod.EPOLLIN)]


def test_epollet_reports_writable_only_once(selectmod, make_epoll, socketpair):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLOUT | selectmod.EPOLLET)
    assert ep.poll(0) == [(a.fileno(), selectmod.EPOLLOUT)]
    assert ep.poll(0) == []


def test_level_triggered_keeps_reporting_until_drained(selectmod, make_epoll, socketpair):
    a, b = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN)
    b.send(b"hello")
    for _ in range(3):
        assert ep.poll(1.0) == [(a.fileno(), selectmod.EPOLLIN)]
    assert a.recv(1) == b"h"
    assert ep.poll(0) == [(a.fileno(), selectmod.EPOLLIN)]


def test_level_triggered_stops_reporting_once_drained(selectmod, make_epoll, socketpair):
    a, b = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN)
    b.send(b"hello")
    assert ep.poll(1.0) == [(a.fileno(), selectmod.EPOLLIN)]
    assert _drain(a) == 5
    assert ep.poll(0) == []


def test_epolloneshot_reports_once_then_disarms(selectmod, make_epoll, socketpair):
    a, b = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN | selectmod.EPOLLONESHOT)
    b.send(b"one")
    assert ep.poll(1.0) == [(a.fileno(), selectmod.EPOLLIN)]
    b.send(b"two")  # still readable, and new data, but disarmed
    assert ep.poll(0) == []


def test_epolloneshot_is_rearmed_by_modify(selectmod, make_epoll, socketpair):
    a, b = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN | selectmod.EPOLLONESHOT)
    b.send(b"one")
    assert ep.poll(1.0) == [(a.fileno(), selectmod.EPOLLIN)]
    assert ep.poll(0) == []
    ep.modify(a, selectmod.EPOLLIN | selectmod.EPOLLONESHOT)
    assert ep.poll(0) == [(a.fileno(), selectmod.EPOLLIN)]
    assert ep.poll(0) == []


def test_epolloneshot_disarmed_fd_is_still_registered(selectmod, make_epoll, socketpair):
    a, b = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN | selectmod.EPOLLONESHOT)
    b.send(b"one")
    assert ep.poll(1.0) == [(a.fileno(), selectmod.EPOLLIN)]
    with pytest.raises(FileExistsError):
        ep.register(a, selectmod.EPOLLIN)


def test_epollrdhup_reported_after_peer_shuts_down_writing(selectmod, make_epoll, socketpair):
    a, b = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN | selectmod.EPOLLRDHUP)
    b.shutdown(socket.SHUT_WR)
    assert ep.poll(1.0) == [(a.fileno(), selectmod.EPOLLIN | selectmod.EPOLLRDHUP)]


def test_epollrdhup_not_reported_unless_requested(selectmod, make_epoll, socketpair):
    a, b = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN)
    b.shutdown(socket.SHUT_WR)
    assert ep.poll(1.0) == [(a.fileno(), selectmod.EPOLLIN)]


def test_epollrdhup_reported_on_tcp_peer_shutdown(selectmod, make_epoll, socketpair):
    a, b = socketpair("tcp")
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLRDHUP | selectmod.EPOLLET)
    b.shutdown(socket.SHUT_WR)
    (fd, events), = ep.poll(2.0)
    assert fd == a.fileno()
    assert events & selectmod.EPOLLRDHUP


def test_epollexclusive_registration_cannot_be_modified(selectmod, make_epoll, socketpair):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN | selectmod.EPOLLEXCLUSIVE)
    with pytest.raises(OSError) as info:
        ep.modify(a, selectmod.EPOLLIN)
    assert info.value.errno == errno.EINVAL
