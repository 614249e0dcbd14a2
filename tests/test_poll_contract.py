"""Contract of ``poll()`` objects, run against the stdlib and pymux.
Bad arguments live in test_bad_input.py."""

import errno
import socket
import time

import pytest

from pypy_deviations import POLL_TRUNCATES_TIMEOUT, pypy_stdlib_deviates, pypy_stdlib_lacks


def test_poll_default_mask_reports_pollout_for_writable_socket(selectmod, socketpair):
    a, _ = socketpair()
    p = selectmod.poll()
    p.register(a)
    assert p.poll(0) == [(a.fileno(), selectmod.POLLOUT)]


def test_poll_reports_pollin_after_peer_sends(selectmod, socketpair):
    a, b = socketpair()
    p = selectmod.poll()
    p.register(a, selectmod.POLLIN)
    b.send(b"x")
    assert p.poll(1000) == [(a.fileno(), selectmod.POLLIN)]


def test_poll_result_is_list_of_int_tuples(selectmod, socketpair):
    a, _ = socketpair()
    p = selectmod.poll()
    p.register(a, selectmod.POLLOUT)
    result = p.poll(0)
    assert type(result) is list
    (fd, events), = result
    assert type(fd) is int and type(events) is int


def test_poll_reports_int_fd_for_object_registered_by_fileno(selectmod, socketpair):
    a, _ = socketpair()
    p = selectmod.poll()
    p.register(a, selectmod.POLLOUT)
    assert p.poll(0)[0][0] == a.fileno()


def test_poll_returns_empty_list_when_nothing_ready(selectmod, socketpair):
    a, _ = socketpair()
    p = selectmod.poll()
    p.register(a, selectmod.POLLIN)
    assert p.poll(0) == []


def test_poll_with_nothing_registered_returns_empty_list(selectmod):
    assert selectmod.poll().poll(0) == []


def test_poll_reports_only_ready_fds_among_many(selectmod, socketpair):
    pairs = [socketpair() for _ in range(6)]
    p = selectmod.poll()
    for a, _ in pairs:
        p.register(a, selectmod.POLLIN)
    for i in (2, 5):
        pairs[i][1].send(b"x")
    got = sorted(p.poll(1000))
    assert got == sorted((pairs[i][0].fileno(), selectmod.POLLIN) for i in (2, 5))


def test_poll_register_twice_replaces_the_mask(selectmod, socketpair):
    a, _ = socketpair()
    p = selectmod.poll()
    p.register(a, selectmod.POLLIN | selectmod.POLLOUT)
    p.register(a, selectmod.POLLIN)
    assert p.poll(0) == []


def test_poll_modify_changes_reported_events(selectmod, socketpair):
    a, _ = socketpair()
    p = selectmod.poll()
    p.register(a, selectmod.POLLIN)
    p.modify(a, selectmod.POLLOUT)
    assert p.poll(0) == [(a.fileno(), selectmod.POLLOUT)]


def test_poll_unregister_stops_reports(selectmod, socketpair):
    a, _ = socketpair()
    p = selectmod.poll()
    p.register(a, selectmod.POLLOUT)
    p.unregister(a)
    assert p.poll(0) == []


def test_poll_unregister_by_int_of_object_registration(selectmod, socketpair):
    a, _ = socketpair()
    p = selectmod.poll()
    p.register(a, selectmod.POLLOUT)
    p.unregister(a.fileno())
    assert p.poll(0) == []


def test_poll_modify_unknown_fd_raises_file_not_found_error(selectmod, socketpair):
    a, _ = socketpair()
    p = selectmod.poll()
    with pytest.raises(FileNotFoundError) as info:
        p.modify(a, selectmod.POLLIN)
    assert info.value.errno == errno.ENOENT


def test_poll_unregister_unknown_fd_raises_key_error(selectmod, socketpair):
    a, _ = socketpair()
    p = selectmod.poll()
    with pytest.raises(KeyError):
        p.unregister(a)


def test_poll_unregister_twice_raises_key_error(selectmod, socketpair):
    a, _ = socketpair()
    p = selectmod.poll()
    p.register(a)
    p.unregister(a)
    with pytest.raises(KeyError):
        p.unregister(a)


def test_poll_reports_pollnval_for_closed_fd(selectmod, socketpair):
    a, _ = socketpair()
    fd = a.fileno()
    p = selectmod.poll()
    p.register(fd, selectmod.POLLIN)
    a.close()
    assert p.poll(0) == [(fd, selectmod.POLLNVAL)]


def test_poll_reports_pollhup_after_peer_closes(selectmod, socketpair):
    a, b = socketpair()
    p = selectmod.poll()
    p.register(a, selectmod.POLLIN)
    b.close()
    (fd, events), = p.poll(1000)
    assert fd == a.fileno()
    assert events & selectmod.POLLHUP
    assert events & selectmod.POLLIN


def test_poll_reports_pollrdhup_after_peer_shuts_down_writing(selectmod, socketpair):
    pypy_stdlib_lacks(selectmod, "POLLRDHUP")
    a, b = socketpair()
    p = selectmod.poll()
    p.register(a, selectmod.POLLIN | selectmod.POLLRDHUP)
    b.shutdown(socket.SHUT_WR)
    assert p.poll(1000) == [(a.fileno(), selectmod.POLLIN | selectmod.POLLRDHUP)]


@pytest.mark.parametrize("args", [(None,), (), (-1,), (-1000,), (-0.5,), (-1e-9,)],
                         ids=["None", "no-argument", "minus-1", "minus-1000", "minus-half-ms",
                              "tiny-negative"])
def test_poll_none_absent_or_negative_timeout_blocks_until_ready(selectmod, socketpair,
                                                                 wait_for_late_data, args):
    a, b = socketpair()
    p = selectmod.poll()
    p.register(a, selectmod.POLLIN)
    result, elapsed = wait_for_late_data(lambda: p.poll(*args), b)
    assert result == [(a.fileno(), selectmod.POLLIN)]
    assert elapsed >= 0.03


@pytest.mark.parametrize("timeout_ms", [50, 1, 0.5], ids=["50ms", "1ms", "fractional-ms"])
def test_poll_timeout_is_in_milliseconds_and_never_rounded_down(selectmod, socketpair, timeout_ms):
    if timeout_ms != int(timeout_ms):
        pypy_stdlib_deviates(selectmod, POLL_TRUNCATES_TIMEOUT)
    a, _ = socketpair()
    p = selectmod.poll()
    p.register(a, selectmod.POLLIN)
    start = time.perf_counter()
    assert p.poll(timeout_ms) == []
    assert timeout_ms / 1000 <= time.perf_counter() - start < 2.0
