"""pymux.sys.select with fd_set and FD_*: the kernel's answer on loopback,
compared with the stdlib's select.select on the same fds."""
import select as stdlib_select

import pytest

from pymux import sys as psys
from sys_helpers import closed_fd, pairs, retried  # noqa: F401 (fixtures)


def _set(*fds):
    s = psys.fd_set()
    for fd in fds:
        psys.FD_SET(fd, s)
    return s


def test_fd_set_bits_are_set_cleared_and_zeroed():
    s = psys.fd_set()
    assert not any(psys.FD_ISSET(fd, s) for fd in range(psys.FD_SETSIZE))
    psys.FD_SET(5, s)
    psys.FD_SET(psys.FD_SETSIZE - 1, s)
    assert [fd for fd in range(psys.FD_SETSIZE) if psys.FD_ISSET(fd, s)] == [
        5, psys.FD_SETSIZE - 1]
    psys.FD_CLR(5, s)
    assert not psys.FD_ISSET(5, s)
    psys.FD_ZERO(s)
    assert not psys.FD_ISSET(psys.FD_SETSIZE - 1, s)


def test_select_reports_what_the_stdlib_reports(pairs):
    servers = [server for _, server in pairs]
    clients = [client for client, _ in pairs[:2]]
    watched = servers + clients
    nfds = max(s.fileno() for s in watched) + 1
    r, w = _set(*servers), _set(*clients)
    n = psys.select(nfds, r, w, None, 0)
    ready_r = [s for s in servers if psys.FD_ISSET(s, r)]
    ready_w = [s for s in clients if psys.FD_ISSET(s, w)]
    sr, sw, _ = stdlib_select.select(servers, clients, [], 0)
    assert (set(ready_r), set(ready_w)) == (set(sr), set(sw))
    assert n == len(ready_r) + len(ready_w)
    assert set(ready_r) == {servers[0], servers[2]}     # data, EOF; not the idle one


def test_select_times_out_with_zero_and_empties_the_sets(pairs):
    idle = pairs[1][1]
    r = _set(idle)
    assert retried(psys.select, idle.fileno() + 1, r, None, None, 0.01) == 0
    assert not psys.FD_ISSET(idle, r)


def test_select_ignores_fds_at_or_above_nfds(pairs):
    ready = pairs[0][1]
    r = _set(ready)
    assert psys.select(ready.fileno(), r, None, None, 0) == 0


@pytest.mark.parametrize("fd", [-1, psys.FD_SETSIZE, psys.FD_SETSIZE + 5])
def test_an_fd_outside_the_set_is_a_value_error_like_the_stdlib(fd):
    s = psys.fd_set()
    for op in (psys.FD_SET, psys.FD_CLR, psys.FD_ISSET):
        with pytest.raises(ValueError, match="out of range"):
            op(fd, s)
    if fd >= 0:
        with pytest.raises(ValueError, match="out of range"):
            stdlib_select.select([fd], [], [], 0)


@pytest.mark.parametrize("nfds", [-1, psys.FD_SETSIZE + 1])
def test_nfds_beyond_the_set_is_a_value_error(nfds):
    with pytest.raises(ValueError):
        psys.select(nfds, psys.fd_set(), None, None, 0)


def test_a_closed_fd_is_ebadf_as_in_c(closed_fd):
    with pytest.raises(OSError) as info:
        psys.select(closed_fd + 1, _set(closed_fd), None, None, 0)
    assert info.value.errno == 9
    with pytest.raises(OSError) as stdlib_info:
        stdlib_select.select([closed_fd], [], [], 0)
    assert stdlib_info.value.errno == info.value.errno


def test_the_sets_and_timeout_are_type_checked():
    with pytest.raises(TypeError):
        psys.select(1, [0], None, None, 0)
    with pytest.raises(TypeError):
        psys.FD_SET(0, object())
    with pytest.raises(ValueError):
        psys.select(1, None, None, None, -1)
    with pytest.raises(TypeError):
        psys.select(1, None, None, None, "1")


@pytest.mark.parametrize("fd", [2**31, 2**70])
def test_an_fd_beyond_a_c_int_is_an_overflow_error_like_the_stdlib(fd):
    with pytest.raises(OverflowError):
        psys.FD_SET(fd, psys.fd_set())
    with pytest.raises(OverflowError):
        stdlib_select.select([fd], [], [], 0)


@pytest.mark.parametrize("fd", [1.5, "3", None])
def test_an_fd_that_is_not_an_int_is_a_type_error(fd):
    with pytest.raises(TypeError):
        psys.FD_SET(fd, psys.fd_set())
    with pytest.raises(TypeError):
        stdlib_select.select([fd], [], [], 0)
