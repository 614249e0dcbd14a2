"""pymux.uring's operations round trip over pipes and loopback TCP: nop,
accept (single and multishot), recv, send, poll (single and multishot),
timeout, cancel, and the completions' shape."""
import errno
import fcntl
import os
import select
import socket
import time

from pymux import uring
from uring_helpers import LONG, listener, ring, tcp_pair, wait_for  # noqa: F401 (fixtures)


def test_nops_come_back_with_their_user_data_as_tuples_of_ints(ring):
    ring.prep_nop(1)
    ring.prep_nop(2**63 - 1)
    assert ring.wait(2, LONG) == [(1, 0, 0), (2**63 - 1, 0, 0)]
    assert ring.wait(0, 0) == []


def test_a_ring_knows_its_sizes_fd_and_operations(ring):
    assert (ring.sq_entries, ring.cq_entries) == (8, 16)
    assert os.fstat(ring.fileno()).st_nlink == 1   # an open anonymous inode
    for op in (uring.OP_NOP, uring.OP_ACCEPT, uring.OP_RECV, uring.OP_SEND,
               uring.OP_POLL_ADD, uring.OP_TIMEOUT, uring.OP_ASYNC_CANCEL):
        assert ring.supports(op)
    assert not ring.supports(-1)


def test_accept_recv_and_send_echo_over_loopback(ring, listener):
    ring.prep_accept(listener, 1, nonblocking=True)
    assert ring.submit() == 1
    with socket.create_connection(listener.getsockname(), timeout=LONG) as client:
        (_, fd, flags), _ = wait_for(ring, 1)
        assert fd >= 0 and not flags & uring.CQE_F_MORE
        assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK   # before PyPy's socket() clears it
        assert not os.get_inheritable(fd)
        with socket.socket(fileno=fd) as conn:
            buf = bytearray(64)
            ring.prep_recv(conn, buf, 2)
            assert ring.wait(0, 0) == []                 # nothing sent yet
            client.sendall(b"hello")
            assert wait_for(ring, 2)[0][:2] == (2, 5)    # flags may say more is buffered
            assert buf[:5] == b"hello"
            ring.prep_send(conn, memoryview(b"world!"), 3)
            assert wait_for(ring, 3)[0] == (3, 6, 0)
            assert client.recv(64) == b"world!"
            client.shutdown(socket.SHUT_WR)
            ring.prep_recv(conn, buf, 4, nbytes=10)
            assert wait_for(ring, 4)[0][:2] == (4, 0)     # end of stream


def test_multishot_accept_reports_each_connection_until_cancelled(ring, listener):
    ring.prep_accept(listener, 7, multishot=True)
    clients = []
    try:
        for _ in range(3):
            ring.submit()
            clients.append(socket.create_connection(listener.getsockname(), timeout=LONG))
            (_, fd, flags), _ = wait_for(ring, 7)
            assert fd >= 0 and flags & uring.CQE_F_MORE
            os.close(fd)
        ring.prep_cancel(7, 8)
        (_, res, flags), others = wait_for(ring, 7)
        assert res == -errno.ECANCELED and not flags & uring.CQE_F_MORE
        ring.prep_nop(7)                               # its user_data is free again
    finally:
        for c in clients:
            c.close()


def test_poll_reports_the_ready_mask_once_or_with_multishot_each_time(ring):
    r, w = os.pipe()
    try:
        ring.prep_poll(r, select.POLLIN, 1)
        assert ring.wait(1, 0.02) == []                 # timed out: nothing to read
        os.write(w, b"x")
        [(ud, mask, flags)] = ring.wait(1, LONG)
        assert ud == 1 and mask & select.POLLIN and not flags & uring.CQE_F_MORE
        os.read(r, 1)
        ring.prep_poll(r, select.POLLIN, 2, multishot=True)
        for _ in range(2):
            assert ring.wait(1, 0.02) == []
            os.write(w, b"y")
            [(ud, mask, flags)] = ring.wait(1, LONG)
            assert ud == 2 and mask & select.POLLIN and flags & uring.CQE_F_MORE
            os.read(r, 1)
    finally:
        os.close(r)
        os.close(w)


def test_timeout_expires_with_etime_or_completes_after_count_operations(ring):
    started = time.monotonic()
    ring.prep_timeout(0.02, 1)
    assert wait_for(ring, 1)[0] == (1, -errno.ETIME, 0)
    assert time.monotonic() - started >= 0.02
    ring.prep_timeout(60, 2, count=1)
    ring.prep_nop(3)
    (_, res, _), _ = wait_for(ring, 2)
    assert res == 0


def test_cancel_ends_a_pending_recv_and_reports_unknown_targets(ring, tcp_pair):
    _, server = tcp_pair
    ring.prep_recv(server, bytearray(16), 1)
    ring.submit()
    ring.prep_cancel(1, 2)
    seen = ring.wait(2, LONG)
    if len(seen) == 1:
        seen += ring.wait(1, LONG)
    assert sorted(seen) == [(1, -errno.ECANCELED, 0), (2, 0, 0)]
    ring.prep_cancel(12345, 3)
    assert wait_for(ring, 3)[0] == (3, -errno.ENOENT, 0)


def test_wait_timeout_returns_what_is_ready_even_if_fewer_than_asked(ring):
    ring.prep_nop(1)
    started = time.monotonic()
    assert ring.wait(2, 0.05) == [(1, 0, 0)]
    assert time.monotonic() - started >= 0.05
