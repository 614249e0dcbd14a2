"""Provided buffers in pymux.uring: a multishot recv takes ring-owned
buffers only when data arrives, received() reads them, the next wait()
gives them back; bad sizes and misuse raise."""
import errno
import socket
import time

import pytest

from pymux import uring
from uring_helpers import LONG, listener, ring, tcp_pair, wait_for  # noqa: F401 (fixtures)


def test_a_multishot_recv_brings_each_message_in_a_provided_buffer(ring, tcp_pair):
    client, server = tcp_pair
    ring.setup_buffers(2, 64)
    ring.prep_recv_multishot(server, 5)
    ring.submit()
    for i in range(6):                              # 6 messages through 2 buffers
        msg = b"message %d" % i
        client.sendall(msg)
        (_, res, flags), _ = wait_for(ring, 5)
        assert flags & uring.CQE_F_BUFFER and flags & uring.CQE_F_MORE
        assert ring.received(res, flags) == msg
    client.shutdown(socket.SHUT_WR)
    (_, res, flags), _ = wait_for(ring, 5)
    assert res == 0 and not flags & uring.CQE_F_MORE
    ring.prep_nop(5)                                # its user_data is free again


def test_a_multishot_recv_ends_with_enobufs_when_every_buffer_is_taken(ring, tcp_pair):
    client, server = tcp_pair
    ring.setup_buffers(1, 64)
    ring.prep_recv_multishot(server, 5)
    ring.submit()
    client.sendall(b"one")
    (_, res, flags), _ = wait_for(ring, 5)
    assert ring.received(res, flags) == b"one"      # the only buffer, lent to us
    client.sendall(b"two")
    time.sleep(0.05)                                # the kernel finds no buffer
    (_, res, flags), _ = wait_for(ring, 5)
    assert res == -errno.ENOBUFS and not flags & uring.CQE_F_MORE
    ring.prep_recv_multishot(server, 5)             # given back by that wait: again
    (_, res, flags), _ = wait_for(ring, 5)
    assert ring.received(res, flags) == b"two"


@pytest.mark.parametrize("count,size", [(0, 64), (3, 64), (uring.MAX_BUFFERS * 2, 64),
                                        (4, 0), (4096, 2**20)])
def test_setup_buffers_refuses_bad_sizes(ring, count, size):
    with pytest.raises(ValueError):
        ring.setup_buffers(count, size)


def test_buffers_are_set_up_once_and_needed_by_a_multishot_recv(ring, tcp_pair):
    _, server = tcp_pair
    with pytest.raises(ValueError, match="setup_buffers"):
        ring.prep_recv_multishot(server, 1)
    ring.setup_buffers(4, 64)
    with pytest.raises(ValueError, match="already"):
        ring.setup_buffers(4, 64)


def test_received_refuses_completions_without_a_provided_buffer(ring):
    ring.setup_buffers(4, 64)
    for res, flags in ((3, 0), (65, uring.CQE_F_BUFFER), (-1, uring.CQE_F_BUFFER),
                       (3, uring.CQE_F_BUFFER | 9 << 16), (3, -1)):
        with pytest.raises(ValueError):
            ring.received(res, flags)
    ring.close()
    with pytest.raises(ValueError, match="closed"):
        ring.received(3, uring.CQE_F_BUFFER)
