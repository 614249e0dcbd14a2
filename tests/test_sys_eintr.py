"""pymux.sys retries nothing: a signal during a wait raises
InterruptedError, as -1/EINTR in C (tests/test_eintr_retry.py checks the
opposite, PEP 475, for pymux.select and the stdlib)."""
import os
import select as stdlib_select
import time

import pytest

from pymux import sys as psys
from sys_helpers import pairs  # noqa: F401 (fixture)
from uring_helpers import ring  # noqa: F401 (fixture)

HANG_GUARD = 5.0      # seconds; each wait would otherwise last this long


def _select(idle):
    r = psys.fd_set()
    psys.FD_SET(idle, r)
    return psys.select(idle.fileno() + 1, r, None, None, HANG_GUARD)


def _poll(idle):
    array = psys.pollfd_array(1)
    array[0].fd, array[0].events = idle.fileno(), psys.POLLIN
    return psys.poll(array, 1, int(HANG_GUARD * 1000))


def _epoll_wait(idle):
    epfd = psys.epoll_create1(psys.EPOLL_CLOEXEC)
    try:
        psys.epoll_ctl(epfd, psys.EPOLL_CTL_ADD, idle.fileno(), psys.EPOLLIN)
        return psys.epoll_wait(epfd, psys.epoll_events(1), 1, int(HANG_GUARD * 1000))
    finally:
        os.close(epfd)


def _interrupted_by_the_signal(wait, calls):
    """wait() until it raises InterruptedError with the handler run: an
    EINTR with no signal (io_uring task work of an earlier test's ring, see
    sys_helpers.retried) is not the one tested."""
    while True:
        try:
            wait()
        except InterruptedError:
            if calls:
                raise


@pytest.mark.parametrize("wait", [_select, _poll, _epoll_wait])
def test_a_signal_during_a_wait_raises_interrupted_error(pairs, alarm, wait):
    calls = []
    alarm(lambda signum, frame: calls.append(signum), 0.05)
    start = time.monotonic()
    with pytest.raises(InterruptedError):
        _interrupted_by_the_signal(lambda: wait(pairs[1][1]), calls)
    assert calls
    assert time.monotonic() - start < HANG_GUARD / 2


def test_the_stdlib_retries_where_pymux_sys_raises(pairs, alarm):
    calls = []
    alarm(lambda signum, frame: calls.append(signum), 0.05)
    assert stdlib_select.select([pairs[1][1]], [], [], 0.3) == ([], [], [])
    assert calls


def test_io_uring_enter_raises_interrupted_error(ring, alarm):
    calls = []
    alarm(lambda signum, frame: calls.append(signum), 0.05)
    with pytest.raises(InterruptedError):
        _interrupted_by_the_signal(lambda: psys.io_uring_enter(ring, 1, HANG_GUARD), calls)
    assert calls
