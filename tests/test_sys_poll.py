"""pymux.sys.poll on a pollfd_array: revents compared with the stdlib's
select.poll on the same fds."""
import select as stdlib_select

import pytest

from pymux import sys as psys
from sys_helpers import closed_fd, pairs, retried  # noqa: F401 (fixtures)

BITS = psys.POLLIN | psys.POLLOUT | psys.POLLHUP | psys.POLLERR | psys.POLLNVAL


def test_poll_fills_revents_as_the_stdlib_reports_them(pairs, closed_fd):
    fds = [server.fileno() for _, server in pairs] + [closed_fd]
    array = psys.pollfd_array(len(fds))
    stdlib_poll = stdlib_select.poll()
    for i, fd in enumerate(fds):
        array[i].fd = fd
        array[i].events = psys.POLLIN
        stdlib_poll.register(fd, stdlib_select.POLLIN)
    n = psys.poll(array, len(fds), 0)
    ours = {array[i].fd: array[i].revents & BITS for i in range(len(fds)) if array[i].revents}
    theirs = {fd: ev & BITS for fd, ev in stdlib_poll.poll(0)}
    assert ours == theirs
    assert n == len(ours) == 3                     # data, EOF, and the closed fd
    assert ours[closed_fd] == psys.POLLNVAL       # a bad fd is reported, not raised
    assert pairs[1][1].fileno() not in ours


def test_poll_looks_at_the_first_nfds_entries_only(pairs):
    array = psys.pollfd_array(2)
    array[0].fd, array[0].events = pairs[1][1].fileno(), psys.POLLIN
    array[1].fd, array[1].events = pairs[0][1].fileno(), psys.POLLIN
    assert psys.poll(array, 1, 0) == 0
    assert array[1].revents == 0
    assert psys.poll(array, 2, 0) == 1
    assert array[1].revents & psys.POLLIN


def test_poll_times_out(pairs):
    array = psys.pollfd_array(1)
    array[0].fd, array[0].events = pairs[1][1].fileno(), psys.POLLIN
    assert retried(psys.poll, array, 1, 10) == 0


@pytest.mark.parametrize("nfds", [-1, 3])
def test_nfds_beyond_the_array_is_a_value_error(nfds):
    with pytest.raises(ValueError):
        psys.poll(psys.pollfd_array(2), nfds, 0)


def test_only_a_pollfd_array_is_accepted():
    with pytest.raises(TypeError):
        psys.poll([1, 2], 1, 0)
    with pytest.raises(TypeError):
        psys.poll(bytearray(16), 1, 0)
