"""Contract of ``select(rlist, wlist, xlist[, timeout])``, run against the
stdlib and pymux.  Bad arguments live in test_bad_input.py."""

import errno
import os
import socket
import time

import pytest


def test_select_reports_writable_socket_in_wlist(selectmod, socketpair):
    a, _ = socketpair()
    assert selectmod.select([], [a], [], 0) == ([], [a], [])


def test_select_does_not_report_idle_socket_as_readable(selectmod, socketpair):
    a, _ = socketpair()
    assert selectmod.select([a], [], [], 0) == ([], [], [])


def test_select_reports_readable_socket_after_peer_sends(selectmod, socketpair):
    a, b = socketpair()
    b.send(b"x")
    assert selectmod.select([a], [], [], 1.0) == ([a], [], [])


def test_select_returns_the_same_objects_it_was_given(selectmod, socketpair):
    a, b = socketpair()
    b.send(b"x")
    r, w, x = selectmod.select([a], [a], [], 1.0)
    assert r[0] is a
    assert w[0] is a


def test_select_accepts_int_fds_and_returns_ints(selectmod, socketpair):
    a, b = socketpair()
    b.send(b"x")
    r, w, x = selectmod.select([a.fileno()], [a.fileno()], [], 1.0)
    assert r == [a.fileno()] and type(r[0]) is int
    assert w == [a.fileno()]


def test_select_returns_lists_when_given_tuples(selectmod, socketpair):
    a, _ = socketpair()
    result = selectmod.select((), (a,), (), 0)
    assert type(result) is tuple and len(result) == 3
    assert all(type(part) is list for part in result)
    assert result[1] == [a]


def test_select_accepts_any_iterable(selectmod, socketpair):
    a, _ = socketpair()
    assert selectmod.select(iter([]), iter([a]), iter([]), 0) == ([], [a], [])


def test_select_preserves_input_order(selectmod, socketpair):
    socks = [socketpair()[0] for _ in range(5)]
    order = [socks[3], socks[0], socks[4], socks[1], socks[2]]
    _, w, _ = selectmod.select([], order, [], 0)
    assert w == order


def test_select_reports_only_ready_fds_among_many(selectmod, socketpair):
    pairs = [socketpair() for _ in range(6)]
    for i in (1, 4):
        pairs[i][1].send(b"x")
    r, _, _ = selectmod.select([a for a, _ in pairs], [], [], 1.0)
    assert r == [pairs[1][0], pairs[4][0]]


def test_select_reports_out_of_band_data_in_xlist(selectmod, socketpair):
    a, b = socketpair("tcp")
    b.send(b"!", socket.MSG_OOB)
    _, _, x = selectmod.select([], [], [a], 2.0)
    assert x == [a]


def test_select_reports_peer_closed_socket_as_readable(selectmod, socketpair):
    a, b = socketpair()
    b.close()
    assert selectmod.select([a], [], [], 1.0)[0] == [a]


def test_select_with_zero_timeout_returns_empty_lists_when_nothing_ready(selectmod):
    assert selectmod.select([], [], [], 0) == ([], [], [])


@pytest.mark.parametrize("args", [(), (None,)], ids=["no-timeout", "None"])
def test_select_absent_or_none_timeout_blocks_until_ready(selectmod, socketpair,
                                                          wait_for_late_data, args):
    a, b = socketpair()
    (r, _, _), elapsed = wait_for_late_data(lambda: selectmod.select([a], [], [], *args), b)
    assert r == [a]
    assert elapsed >= 0.03


def test_select_timeout_waits_at_least_the_requested_time(selectmod, socketpair):
    a, _ = socketpair()
    start = time.monotonic()
    result = selectmod.select([a], [], [], 0.05)
    elapsed = time.monotonic() - start
    assert result == ([], [], [])
    assert 0.05 <= elapsed < 2.0


def test_select_sub_millisecond_timeout_is_not_rounded_down(selectmod, socketpair):
    a, _ = socketpair()
    start = time.perf_counter()
    selectmod.select([a], [], [], 0.0001)
    assert time.perf_counter() - start >= 0.0001


def test_select_accepts_integer_timeout(selectmod, socketpair):
    a, _ = socketpair()
    assert selectmod.select([], [a], [], 1) == ([], [a], [])


def test_select_accepts_fd_1023(selectmod, socketpair):
    a, b = socketpair()
    try:
        os.fstat(1023)
    except OSError:
        pass
    else:
        pytest.fail("fd 1023 is already open in the test process")
    os.dup2(a.fileno(), 1023)
    try:
        b.send(b"x")
        assert selectmod.select([1023], [], [], 1.0) == ([1023], [], [])
    finally:
        os.close(1023)


def test_select_closed_fd_raises_ebadf(selectmod, socketpair):
    a, _ = socketpair()
    fd = a.fileno()
    a.close()
    with pytest.raises(OSError) as info:
        selectmod.select([fd], [], [], 0)
    assert info.value.errno == errno.EBADF
