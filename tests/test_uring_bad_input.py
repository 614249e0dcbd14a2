"""Bad input to pymux.uring gets an exception, never a crash: a closed ring
(ValueError, as a closed epoll object), bad fds, user_data, buffers, sizes
and timeouts, and a batch larger than the submission queue."""
import errno
import math
import os

import pytest

from pymux import uring
from uring_helpers import LONG, ring, tcp_pair, listener  # noqa: F401 (fixtures)

CLOSED_CALLS = [
    ("prep_nop", (1,)),
    ("prep_accept", (0, 1)),
    ("prep_recv", (0, bytearray(4), 1)),
    ("prep_send", (0, b"x", 1)),
    ("prep_poll", (0, 1, 1)),
    ("prep_timeout", (1, 1)),
    ("prep_cancel", (1, 2)),
    ("submit", ()),
    ("wait", (0, 0)),
    ("fileno", ()),
    ("supports", (uring.OP_NOP,)),
    ("__enter__", ()),
    ("setup_buffers", (4, 64)),
    ("prep_recv_multishot", (0, 1)),
    ("received", (1, uring.CQE_F_BUFFER)),
    ("prep_read_fixed", (0, 0, 1)),
    ("prep_write_fixed", (0, 0, 1)),
    ("sqe_set_flags", (0,)),
]


@pytest.mark.parametrize("name,args", CLOSED_CALLS, ids=[c[0] for c in CLOSED_CALLS])
def test_a_closed_ring_raises_valueerror_like_a_closed_epoll_object(ring, name, args):
    ring.close()
    assert ring.closed
    with pytest.raises(ValueError, match="closed"):
        getattr(ring, name)(*args)
    ring.close()   # again: nothing to do


@pytest.mark.parametrize("entries", [0, -1, uring.MAX_ENTRIES + 1])
def test_entries_out_of_range_raise_valueerror(entries):
    with pytest.raises(ValueError):
        uring.Ring(entries)


def test_entries_must_be_an_int():
    with pytest.raises(TypeError):
        uring.Ring("8")


def test_a_batch_larger_than_the_submission_queue_raises_ebusy_until_submitted(ring):
    for ud in range(ring.sq_entries):
        ring.prep_nop(ud)
    with pytest.raises(OSError) as info:
        ring.prep_nop(99)
    assert info.value.errno == errno.EBUSY
    assert ring.submit() == ring.sq_entries
    ring.prep_nop(99)                       # room again
    got = []
    while len(got) < ring.sq_entries + 1:
        got += ring.wait(1, LONG)
    assert sorted(ud for ud, _, _ in got) == [*range(ring.sq_entries), 99]


def test_more_completions_than_the_completion_queue_holds_all_come_back(ring):
    """NODROP: the kernel keeps what overflows the CQ, and wait() gets it."""
    expected = []
    for _ in range(3):                       # 3 SQs' worth: more than the CQ's 2
        for _ in range(ring.sq_entries):
            expected.append(len(expected))
            ring.prep_nop(expected[-1])
        ring.submit()
    got = []
    while len(got) < len(expected):
        batch = ring.wait(1, LONG)
        assert 0 < len(batch) <= ring.cq_entries
        got += batch
    assert [ud for ud, _, _ in got] == expected
    assert ring.wait(0, 0) == []


@pytest.mark.parametrize("fd,exc", [(-1, ValueError), (2**20, OSError), ("0", TypeError),
                                    (2**40, OverflowError)])
def test_bad_fds_raise_at_prep_as_the_select_module_does(ring, fd, exc):
    with pytest.raises(exc) as info:
        ring.prep_poll(fd, 1, 1)
    if exc is OSError:
        assert info.value.errno == errno.EBADF
    assert ring.wait(0, 0) == []             # and took no slot


def test_an_fd_that_is_not_open_fails_in_its_completion(ring):
    fd = os.dup(0)
    os.close(fd)
    ring.prep_recv(fd, bytearray(8), 1)
    assert ring.wait(1, LONG) == [(1, -errno.EBADF, 0)]


@pytest.mark.parametrize("user_data,exc", [(-1, OverflowError), (2**63, OverflowError),
                                           (1.0, TypeError)])
def test_user_data_must_be_an_int_in_range(ring, user_data, exc):
    with pytest.raises(exc):
        ring.prep_nop(user_data)
    with pytest.raises(exc):
        ring.prep_cancel(user_data, 1)


def test_a_user_data_in_flight_cannot_be_given_twice_until_its_final_completion(ring):
    ring.prep_nop(5)
    with pytest.raises(ValueError, match="already in flight"):
        ring.prep_nop(5)
    assert ring.wait(1, LONG) == [(5, 0, 0)]
    ring.prep_nop(5)
    assert ring.wait(1, LONG) == [(5, 0, 0)]


def test_recv_needs_a_writable_buffer_big_enough_as_socket_recv_into_does(ring, tcp_pair):
    _, server = tcp_pair
    for bad in (b"read-only", "text", 3):
        with pytest.raises(TypeError):
            server.recv_into(bad)              # the stdlib's rule ...
        with pytest.raises(TypeError):
            ring.prep_recv(server, bad, 1)     # ... is pymux.uring's
    for nbytes, message in ((5, "too small"), (-1, "negative")):
        with pytest.raises(ValueError, match=message):
            server.recv_into(bytearray(4), nbytes)
        with pytest.raises(ValueError, match=message):
            ring.prep_recv(server, bytearray(4), 1, nbytes=nbytes)
    with pytest.raises(TypeError):
        server.send("text")
    with pytest.raises(TypeError):
        ring.prep_send(server, "text", 1)
    assert ring.wait(0, 0) == []


def test_bad_wait_arguments_raise(ring):
    for bad in (-1, ring.cq_entries + 1):
        with pytest.raises(ValueError):
            ring.wait(bad, 0)
    with pytest.raises(TypeError):
        ring.wait(1, "soon")
    with pytest.raises(ValueError):
        ring.wait(1, math.nan)


def test_bad_timeouts_and_poll_masks_raise(ring):
    with pytest.raises(ValueError):
        ring.prep_timeout(-1, 1)
    with pytest.raises(OSError) as info:
        ring.prep_timeout(1, 1, count=-1)
    assert info.value.errno == errno.EINVAL
    with pytest.raises(OSError) as info:
        ring.prep_poll(0, 0x10000, 1)
    assert info.value.errno == errno.EINVAL
    assert ring.wait(0, 0) == []
