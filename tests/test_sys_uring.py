"""pymux.sys.io_uring_setup/io_uring_enter over pymux.uring's mapped ring:
a round trip on loopback, and the errors."""
import errno

import pytest

from pymux import sys as psys
from pymux import uring
from sys_helpers import pairs, retried  # noqa: F401 (fixture)
from uring_helpers import ring  # noqa: F401 (fixture: skips, printing why, where refused)


def test_setup_maps_a_ring_and_enter_submits_and_reaps(ring, pairs):
    client, server = pairs[1]
    ours = psys.io_uring_setup(8)
    try:
        assert isinstance(ours, uring.Ring)
        assert ours.sq_entries == 8 and ours.cq_entries == 16
        buf = bytearray(16)
        ours.prep_send(client, b"hello", 1)
        ours.prep_recv(server, buf, 2)
        done = {}
        while len(done) < 2:
            done.update((ud, res) for ud, res, _ in retried(psys.io_uring_enter, ours, 1, 5.0))
        assert done == {1: 5, 2: 5}
        assert bytes(buf[:5]) == b"hello"
    finally:
        ours.close()


def test_enter_with_a_timeout_returns_no_completions(ring, pairs):
    ring.prep_recv(pairs[1][1], bytearray(4), 7)
    assert retried(psys.io_uring_enter, ring, 1, 0.01) == []


def test_an_operation_on_a_closed_fd_fails_in_its_completion(ring):
    ring.prep_poll(1000, psys.POLLIN, 3)
    assert retried(psys.io_uring_enter, ring, 1, 5.0) == [(3, -errno.EBADF, 0)]


def test_setup_and_enter_check_their_arguments(ring):
    with pytest.raises(ValueError):
        psys.io_uring_setup(0)
    with pytest.raises(TypeError):
        psys.io_uring_enter(object())
    with pytest.raises(ValueError):
        psys.io_uring_enter(ring, -1)
    ring.close()
    with pytest.raises(ValueError):
        psys.io_uring_enter(ring)
