"""pymux.sys.epoll_create1/epoll_ctl/epoll_wait on loopback, compared with
the stdlib's select.epoll on the same fds."""
import errno
import os
import select as stdlib_select

import pytest

from pymux import sys as psys
from sys_helpers import closed_fd, pairs, retried  # noqa: F401 (fixtures)


@pytest.fixture
def epfd():
    fd = psys.epoll_create1(psys.EPOLL_CLOEXEC)
    yield fd
    os.close(fd)


def test_epoll_create1_gives_a_close_on_exec_fd(epfd):
    assert not os.get_inheritable(epfd)
    plain = psys.epoll_create1()
    try:
        assert os.get_inheritable(plain)       # no EPOLL_CLOEXEC: inherited, as in C
    finally:
        os.close(plain)


def test_epoll_wait_reports_what_the_stdlib_epoll_reports(epfd, pairs):
    servers = [server for _, server in pairs]
    stdlib_ep = stdlib_select.epoll()
    try:
        for s in servers:
            psys.epoll_ctl(epfd, psys.EPOLL_CTL_ADD, s.fileno(), psys.EPOLLIN)
            stdlib_ep.register(s.fileno(), stdlib_select.EPOLLIN)
        events = psys.epoll_events(8)
        n = psys.epoll_wait(epfd, events, 8, 0)
        ours = dict(events.ready(n))
        assert ours == dict(stdlib_ep.poll(0))
        assert ours == {events.fds[i]: events.events[i] for i in range(n)}
        assert set(ours) == {servers[0].fileno(), servers[2].fileno()}
    finally:
        stdlib_ep.close()


def test_mod_and_del_change_what_is_reported(epfd, pairs):
    ready = pairs[0][1].fileno()
    events = psys.epoll_events(4)
    psys.epoll_ctl(epfd, psys.EPOLL_CTL_ADD, ready, psys.EPOLLIN)
    assert psys.epoll_wait(epfd, events, 4, 0) == 1
    psys.epoll_ctl(epfd, psys.EPOLL_CTL_MOD, ready, psys.EPOLLOUT)
    assert psys.epoll_wait(epfd, events, 4, 0) == 1
    assert events.events[0] == psys.EPOLLOUT
    psys.epoll_ctl(epfd, psys.EPOLL_CTL_DEL, ready)
    assert retried(psys.epoll_wait, epfd, events, 4, 10) == 0


def test_maxevents_caps_one_wait(epfd, pairs):
    for _, server in pairs:
        psys.epoll_ctl(epfd, psys.EPOLL_CTL_ADD, server.fileno(), psys.EPOLLOUT)
    events = psys.epoll_events(8)
    assert psys.epoll_wait(epfd, events, 1, 0) == 1
    assert psys.epoll_wait(epfd, events, 8, 0) == 3


def test_edge_triggered_reports_an_edge_once(epfd, pairs):
    ready = pairs[0][1].fileno()
    events = psys.epoll_events(1)
    psys.epoll_ctl(epfd, psys.EPOLL_CTL_ADD, ready, psys.EPOLLIN | psys.EPOLLET)
    assert psys.epoll_wait(epfd, events, 1, 0) == 1
    assert psys.epoll_wait(epfd, events, 1, 0) == 0      # nothing new arrived


@pytest.mark.parametrize("call", ["ctl_fd", "ctl_epfd", "wait_epfd"])
def test_a_closed_fd_is_ebadf(epfd, closed_fd, call):
    with pytest.raises(OSError) as info:
        if call == "ctl_fd":
            psys.epoll_ctl(epfd, psys.EPOLL_CTL_ADD, closed_fd, psys.EPOLLIN)
        elif call == "ctl_epfd":
            psys.epoll_ctl(closed_fd, psys.EPOLL_CTL_ADD, 0, psys.EPOLLIN)
        else:
            psys.epoll_wait(closed_fd, psys.epoll_events(1), 1, 0)
    assert info.value.errno == errno.EBADF


def test_the_kernels_other_errors_are_raised_as_in_c(epfd, pairs):
    fd = pairs[0][1].fileno()
    with pytest.raises(OSError) as info:
        psys.epoll_ctl(epfd, 99, fd, psys.EPOLLIN)                # no such op
    assert info.value.errno == errno.EINVAL
    with pytest.raises(FileNotFoundError):
        psys.epoll_ctl(epfd, psys.EPOLL_CTL_DEL, fd)              # not registered
    psys.epoll_ctl(epfd, psys.EPOLL_CTL_ADD, fd, psys.EPOLLIN)
    with pytest.raises(FileExistsError):
        psys.epoll_ctl(epfd, psys.EPOLL_CTL_ADD, fd, psys.EPOLLIN)
    with pytest.raises(OSError) as info:
        psys.epoll_wait(fd, psys.epoll_events(1), 1, 0)           # not an epoll fd
    assert info.value.errno == errno.EINVAL


@pytest.mark.parametrize("maxevents", [0, -1, 5])
def test_maxevents_beyond_the_buffer_is_a_value_error(epfd, maxevents):
    with pytest.raises(ValueError):
        psys.epoll_wait(epfd, psys.epoll_events(4), maxevents, 0)


def test_arguments_are_type_checked(epfd):
    with pytest.raises(TypeError):
        psys.epoll_wait(epfd, [None] * 4, 4, 0)
    with pytest.raises(ValueError):
        psys.epoll_events(0)
    with pytest.raises(OverflowError):
        psys.epoll_ctl(epfd, psys.EPOLL_CTL_ADD, 0, 2**32)
    with pytest.raises(ValueError):
        psys.epoll_events(2).ready(3)
