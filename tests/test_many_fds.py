"""Many descriptors: 10,000 socketpair ends registered with poll and epoll,
a few made readable, exactly those reported; select() refuses fds >= 1024.

The RLIMIT_NOFILE soft limit is raised toward the hard limit for the test
(``nofile_limit`` restores it) and the fd count scales down to what the
limit allows; below ~2,100 fds the test fails with the reason."""

import os

import pytest

from pypy_deviations import SELECT_FD_WORDING, pypy_stdlib_deviates

WANTED_FDS = 10_000
HEADROOM = 64  # fds left for pytest, the epoll fd, dup()s...
MIN_FDS = 2_100  # enough to go well past FD_SETSIZE (1024)
READY = (0, 1, 777, 2_048)  # indexes (into the pair list) made readable
HIGH_FD = 19_000


def _open_fd_count():
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def many_pairs(nofile_limit, socketpair):
    """As many socketpairs as the fd limit allows, up to WANTED_FDS fds."""
    limit = nofile_limit(WANTED_FDS + 2 * HEADROOM + _open_fd_count())
    n_fds = min(WANTED_FDS, limit - _open_fd_count() - HEADROOM) // 2 * 2
    assert n_fds >= MIN_FDS, (
        f"RLIMIT_NOFILE allows only {limit} fds (hard limit too low); "
        f"this test needs at least {MIN_FDS} free fds")
    pairs = [socketpair() for _ in range(n_fds // 2)]
    assert max(b.fileno() for _, b in pairs) >= 1024
    return pairs


def _make_some_readable(pairs):
    """Give a byte to the first end of the pairs at the indexes in READY;
    the fds of those ends, sorted."""
    indexes = {i % len(pairs) for i in READY}
    for i in indexes:
        pairs[i][1].send(b"x")
    return sorted(pairs[i][0].fileno() for i in indexes)


def _register_every_end(waitset, pairs, mask):
    """Register both ends of every pair with a poll or epoll object; their fds."""
    fds = set()
    for a, b in pairs:
        waitset.register(a, mask)
        waitset.register(b, mask)
        fds.update((a.fileno(), b.fileno()))
    return fds


def test_poll_reports_exactly_the_readable_fds_among_many(selectmod, many_pairs):
    expected = _make_some_readable(many_pairs)
    p = selectmod.poll()
    _register_every_end(p, many_pairs, selectmod.POLLIN)   # the peers too: twice the fds, idle
    got = sorted(p.poll(1000))
    assert got == [(fd, selectmod.POLLIN) for fd in expected]


def test_epoll_reports_exactly_the_readable_fds_among_many(selectmod, make_epoll, many_pairs):
    expected = _make_some_readable(many_pairs)
    ep = make_epoll()
    _register_every_end(ep, many_pairs, selectmod.EPOLLIN)
    got = sorted(ep.poll(1.0))
    assert got == [(fd, selectmod.EPOLLIN) for fd in expected]


def test_epoll_reports_all_fds_when_all_are_ready(selectmod, make_epoll, many_pairs):
    ep = make_epoll()
    fds = _register_every_end(ep, many_pairs, selectmod.EPOLLOUT)
    got = ep.poll(0, len(fds))
    assert len(got) == len(fds)
    assert {fd for fd, _ in got} == fds


def test_epoll_default_maxevents_reaches_every_ready_fd(selectmod, make_epoll, many_pairs):
    # The stdlib caps maxevents=-1 at FD_SETSIZE-1 per call; whatever the
    # cap, successive polls must reach every ready fd (the kernel rotates
    # its ready list), and no call may return an fd twice.
    ep = make_epoll()
    fds = _register_every_end(ep, many_pairs, selectmod.EPOLLOUT)
    seen = set()
    for _ in range(-(-len(fds) // 1023) + 1):
        got = ep.poll(0)
        batch = [fd for fd, _ in got]
        assert len(batch) == len(set(batch))
        seen.update(batch)
        if seen == fds:
            break
    assert seen == fds


def test_select_rejects_the_many_fds_with_value_error(selectmod, many_pairs):
    pypy_stdlib_deviates(selectmod, SELECT_FD_WORDING)
    everything = [s for pair in many_pairs for s in pair]
    with pytest.raises(ValueError, match=r"filedescriptor out of range in select\(\)"):
        selectmod.select(everything, [], [], 0)


def test_select_rejects_high_fd_in_wlist_even_if_low_ones_are_ready(selectmod, many_pairs):
    pypy_stdlib_deviates(selectmod, SELECT_FD_WORDING)
    low = [s for s in (p[0] for p in many_pairs) if s.fileno() < 1024][:10]
    high = next(s for pair in many_pairs for s in pair if s.fileno() >= 1024)
    with pytest.raises(ValueError, match=r"filedescriptor out of range in select\(\)"):
        selectmod.select([], low + [high], [], 0)


@pytest.fixture
def high_fd_pair(nofile_limit, socketpair):
    """A socketpair whose reading end is dup2()ed to fd HIGH_FD."""
    limit = nofile_limit(HIGH_FD + HEADROOM)
    assert limit > HIGH_FD, f"RLIMIT_NOFILE allows only {limit} fds; need fd {HIGH_FD}"
    try:
        os.fstat(HIGH_FD)
    except OSError:
        pass
    else:
        pytest.fail(f"fd {HIGH_FD} is already open")
    a, b = socketpair()
    os.dup2(a.fileno(), HIGH_FD)
    try:
        yield HIGH_FD, b
    finally:
        os.close(HIGH_FD)


def test_poll_handles_fd_19000(selectmod, high_fd_pair):
    fd, peer = high_fd_pair
    p = selectmod.poll()
    p.register(fd, selectmod.POLLIN)
    assert p.poll(0) == []
    peer.send(b"x")
    assert p.poll(1000) == [(fd, selectmod.POLLIN)]


def test_epoll_handles_fd_19000(selectmod, make_epoll, high_fd_pair):
    fd, peer = high_fd_pair
    ep = make_epoll()
    ep.register(fd, selectmod.EPOLLIN)
    assert ep.poll(0) == []
    peer.send(b"x")
    assert ep.poll(1.0) == [(fd, selectmod.EPOLLIN)]


def test_select_rejects_fd_19000(selectmod, high_fd_pair):
    pypy_stdlib_deviates(selectmod, SELECT_FD_WORDING)
    fd, _ = high_fd_pair
    with pytest.raises(ValueError, match=r"filedescriptor out of range in select\(\)"):
        selectmod.select([fd], [], [], 0)


def test_epoll_default_maxevents_returns_at_least_fd_setsize_minus_one(selectmod, make_epoll, many_pairs):
    # The stdlib's cap for maxevents=-1 is FD_SETSIZE-1 events per call; a
    # smaller cap would leave ready fds waiting for later calls.
    ep = make_epoll()
    for a, b in many_pairs:
        ep.register(a, selectmod.EPOLLOUT)
        ep.register(b, selectmod.EPOLLOUT)
    assert len(ep.poll(0)) >= 1023
