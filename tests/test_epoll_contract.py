"""Contract of ``epoll`` objects, run against the stdlib and pymux.
Bad arguments and calls after close live in test_bad_input.py; ET, LT,
ONESHOT and RDHUP in test_epoll_edge_triggered.py."""

import errno
import fcntl
import os
import socket
import subprocess
import sys
import time

import pytest

from pypy_deviations import EPOLL_NONE_TIMEOUT, pypy_stdlib_deviates, pypy_stdlib_lacks


def _is_open(fd):
    try:
        os.fstat(fd)
    except OSError as exc:
        assert exc.errno == errno.EBADF
        return False
    return True


# --- lifecycle --------------------------------------------------------------

def test_epoll_fileno_is_an_open_nonnegative_int(make_epoll):
    ep = make_epoll()
    fd = ep.fileno()
    assert type(fd) is int and fd >= 0
    assert _is_open(fd)


def test_epoll_fd_has_cloexec_flag(make_epoll):
    ep = make_epoll()
    assert fcntl.fcntl(ep.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC


def test_epoll_created_with_epoll_cloexec_flag_has_cloexec(selectmod, make_epoll):
    pypy_stdlib_lacks(selectmod, "EPOLL_CLOEXEC")
    ep = make_epoll(-1, selectmod.EPOLL_CLOEXEC)
    assert fcntl.fcntl(ep.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC


def test_epoll_fd_is_not_inherited_across_exec(make_epoll):
    ep = make_epoll()
    fd = ep.fileno()
    # The child reports what its fd number `fd` is, if anything: an
    # inherited epoll fd would show up as "anon_inode:[eventpoll]".
    code = ("import os\n"
            "try: print(os.readlink('/proc/self/fd/%d'))\n"
            "except FileNotFoundError: print('closed')\n" % fd)
    out = subprocess.run([sys.executable, "-c", code], close_fds=False,
                         capture_output=True, text=True, timeout=30, check=True)
    assert "eventpoll" not in out.stdout


def test_epoll_accepts_keyword_arguments_in_constructor(selectmod, make_epoll):
    ep = make_epoll(sizehint=5, flags=0)
    assert not ep.closed


def test_epoll_closed_is_false_while_open(make_epoll):
    assert make_epoll().closed is False


def test_epoll_close_sets_closed_and_closes_the_fd(make_epoll):
    ep = make_epoll()
    fd = ep.fileno()
    ep.close()
    assert ep.closed is True
    assert not _is_open(fd)


def test_epoll_close_is_idempotent(make_epoll):
    ep = make_epoll()
    ep.close()
    ep.close()
    assert ep.closed is True


def test_epoll_context_manager_returns_self_and_closes(selectmod):
    ep = selectmod.epoll()
    with ep as entered:
        assert entered is ep
        assert not ep.closed
    assert ep.closed


def test_epoll_context_manager_closes_when_body_raises(selectmod):
    ep = selectmod.epoll()
    with pytest.raises(ZeroDivisionError):
        with ep:
            1 / 0
    assert ep.closed


def test_epoll_fromfd_shares_the_interest_list(selectmod, make_epoll, socketpair):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLOUT)
    twin = selectmod.epoll.fromfd(os.dup(ep.fileno()))
    try:
        assert twin.poll(0) == [(a.fileno(), selectmod.EPOLLOUT)]
    finally:
        twin.close()


def test_epoll_fromfd_object_owns_and_closes_the_fd(selectmod, make_epoll):
    ep = make_epoll()
    fd = os.dup(ep.fileno())
    twin = selectmod.epoll.fromfd(fd)
    assert twin.fileno() == fd
    twin.close()
    assert not _is_open(fd)


def test_epoll_survives_forked_child_closing_its_copy(selectmod, make_epoll, socketpair):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLOUT)
    pid = os.fork()
    if pid == 0:  # child: close the inherited copies and leave at once
        try:
            ep.close()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert ep.poll(0) == [(a.fileno(), selectmod.EPOLLOUT)]


# --- register / modify / unregister / poll ------------------------------------

def test_epoll_default_mask_reports_epollout_for_writable_socket(selectmod, make_epoll, socketpair):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a)
    assert ep.poll(0) == [(a.fileno(), selectmod.EPOLLOUT)]


def test_epoll_reports_epollin_after_peer_sends(selectmod, make_epoll, socketpair):
    a, b = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN)
    b.send(b"x")
    assert ep.poll(1.0) == [(a.fileno(), selectmod.EPOLLIN)]


def test_epoll_result_is_list_of_int_tuples(selectmod, make_epoll, socketpair):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLOUT)
    result = ep.poll(0)
    assert type(result) is list
    (fd, events), = result
    assert type(fd) is int and type(events) is int


def test_epoll_poll_returns_empty_list_when_nothing_ready(selectmod, make_epoll, socketpair):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN)
    assert ep.poll(0) == []


def test_epoll_with_nothing_registered_returns_empty_list(make_epoll):
    assert make_epoll().poll(0) == []


def test_epoll_accepts_int_fd(selectmod, make_epoll, socketpair):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a.fileno(), selectmod.EPOLLOUT)
    assert ep.poll(0) == [(a.fileno(), selectmod.EPOLLOUT)]


def test_epoll_accepts_keyword_arguments(selectmod, make_epoll, socketpair):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(fd=a, eventmask=selectmod.EPOLLIN)
    ep.modify(fd=a, eventmask=selectmod.EPOLLOUT)
    assert ep.poll(timeout=0, maxevents=1) == [(a.fileno(), selectmod.EPOLLOUT)]
    ep.unregister(fd=a)
    assert ep.poll(timeout=0) == []


def test_epoll_reports_only_ready_fds_among_many(selectmod, make_epoll, socketpair):
    pairs = [socketpair() for _ in range(6)]
    ep = make_epoll()
    for a, _ in pairs:
        ep.register(a, selectmod.EPOLLIN)
    for i in (0, 3):
        pairs[i][1].send(b"x")
    got = sorted(ep.poll(1.0))
    assert got == sorted((pairs[i][0].fileno(), selectmod.EPOLLIN) for i in (0, 3))


def test_epoll_modify_changes_reported_events(selectmod, make_epoll, socketpair):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN)
    ep.modify(a, selectmod.EPOLLOUT)
    assert ep.poll(0) == [(a.fileno(), selectmod.EPOLLOUT)]


def test_epoll_unregister_stops_reports(selectmod, make_epoll, socketpair):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLOUT)
    ep.unregister(a)
    assert ep.poll(0) == []


def test_epoll_reports_epollhup_after_peer_closes(selectmod, make_epoll, socketpair):
    a, b = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN)
    b.close()
    (fd, events), = ep.poll(1.0)
    assert fd == a.fileno()
    assert events & selectmod.EPOLLHUP and events & selectmod.EPOLLIN


def test_epoll_maxevents_limits_the_number_of_events(selectmod, make_epoll, socketpair):
    ep = make_epoll()
    for _ in range(5):
        ep.register(socketpair()[0], selectmod.EPOLLOUT)
    assert len(ep.poll(0, 2)) == 2


def test_epoll_maxevents_minus_one_returns_all_ready_fds(selectmod, make_epoll, socketpair):
    ep = make_epoll()
    fds = set()
    for _ in range(40):
        a = socketpair()[0]
        ep.register(a, selectmod.EPOLLOUT)
        fds.add(a.fileno())
    assert {fd for fd, _ in ep.poll(0, -1)} == fds


def test_epoll_register_twice_raises_file_exists_error(selectmod, make_epoll, socketpair):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a)
    with pytest.raises(FileExistsError) as info:
        ep.register(a)
    assert info.value.errno == errno.EEXIST


# modify(fd, EPOLLIN) or unregister(fd), as a function of (module, epoll, fd)
MODIFY_OR_UNREGISTER = [
    pytest.param(lambda m, ep, fd: ep.modify(fd, m.EPOLLIN), id="modify"),
    pytest.param(lambda m, ep, fd: ep.unregister(fd), id="unregister"),
]


@pytest.mark.parametrize("call", MODIFY_OR_UNREGISTER)
def test_epoll_modify_or_unregister_of_unknown_fd_raises_file_not_found_error(
        selectmod, make_epoll, socketpair, call):
    a, _ = socketpair()
    with pytest.raises(FileNotFoundError) as info:
        call(selectmod, make_epoll(), a)
    assert info.value.errno == errno.ENOENT


def test_epoll_register_closed_fd_raises_ebadf(make_epoll, socketpair):
    ep = make_epoll()
    a, _ = socketpair()
    fd = a.fileno()
    a.close()
    with pytest.raises(OSError) as info:
        ep.register(fd)
    assert info.value.errno == errno.EBADF


def test_epoll_register_regular_file_raises_permission_error(make_epoll, tmp_path):
    ep = make_epoll()
    path = tmp_path / "regular"
    path.write_bytes(b"data")
    with open(path, "rb") as f:
        with pytest.raises(PermissionError) as info:
            ep.register(f)
    assert info.value.errno == errno.EPERM


@pytest.mark.parametrize("call", MODIFY_OR_UNREGISTER)
def test_epoll_modify_or_unregister_of_closed_fd_raises_ebadf(selectmod, make_epoll, socketpair,
                                                              call):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a)
    fd = a.fileno()
    a.close()
    with pytest.raises(OSError) as info:
        call(selectmod, ep, fd)
    assert info.value.errno == errno.EBADF


def test_epoll_register_of_itself_raises_einval(make_epoll):
    ep = make_epoll()
    with pytest.raises(OSError) as info:
        ep.register(ep.fileno())
    assert info.value.errno == errno.EINVAL


def test_epoll_reused_fd_number_can_be_registered_again(selectmod, make_epoll, socketpair):
    # Closing the last reference removes the registration; a new socket
    # that gets the same fd number registers cleanly and reports its own events.
    old, _ = socketpair()
    fd = old.fileno()
    ep = make_epoll()
    ep.register(fd, selectmod.EPOLLIN)
    old.close()
    new, peer = socketpair()
    if new.fileno() != fd:
        os.dup2(new.fileno(), fd)
        new.close()
        new = socket.socket(fileno=fd)
    try:
        ep.register(fd, selectmod.EPOLLIN)
        assert ep.poll(0) == []
        peer.send(b"x")
        assert ep.poll(1.0) == [(fd, selectmod.EPOLLIN)]
    finally:
        new.close()


def test_epoll_keeps_reporting_closed_fd_whose_dup_is_open(selectmod, make_epoll, socketpair):
    # epoll(7) Q6: interest is tied to the open file description.
    a, b = socketpair()
    fd = a.fileno()
    ep = make_epoll()
    ep.register(fd, selectmod.EPOLLIN)
    dup_fd = os.dup(fd)
    try:
        a.close()
        b.send(b"x")
        assert ep.poll(1.0) == [(fd, selectmod.EPOLLIN)]
    finally:
        os.close(dup_fd)


# --- timeouts -----------------------------------------------------------------

@pytest.mark.parametrize("args", [(None,), (), (-1,), (-0.5,), (-1000,)],
                         ids=["None", "no-argument", "minus-1", "minus-0.5", "minus-1000"])
def test_epoll_none_absent_or_negative_timeout_blocks_until_ready(selectmod, make_epoll, socketpair,
                                                                  wait_for_late_data, args):
    if args == (None,):
        pypy_stdlib_deviates(selectmod, EPOLL_NONE_TIMEOUT)
    a, b = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN)
    result, elapsed = wait_for_late_data(lambda: ep.poll(*args), b)
    assert result == [(a.fileno(), selectmod.EPOLLIN)]
    assert elapsed >= 0.03


@pytest.mark.parametrize("timeout", [-0.0001, -1e-9, -0.0], ids=["minus-0.1ms", "tiny-negative",
                                                                   "minus-zero"])
def test_epoll_negative_timeout_that_rounds_up_to_zero_ms_does_not_block(selectmod, make_epoll,
                                                                          socketpair, timeout):
    # The stdlib rounds epoll's timeout toward +infinity, to whole ms (poll's
    # away from zero): only a timeout of -1 ms or less blocks.
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN)
    start = time.monotonic()
    assert ep.poll(timeout) == []
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize("timeout", [0.05, 0.0001], ids=["50ms", "sub-millisecond"])
def test_epoll_timeout_is_in_seconds_and_never_rounded_down(selectmod, make_epoll, socketpair,
                                                            timeout):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN)
    start = time.perf_counter()
    assert ep.poll(timeout) == []
    assert timeout <= time.perf_counter() - start < 2.0


def test_epoll_integer_timeout_is_accepted(selectmod, make_epoll, socketpair):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLOUT)
    assert ep.poll(1) == [(a.fileno(), selectmod.EPOLLOUT)]
