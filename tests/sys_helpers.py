"""Fixtures of the pymux.sys tests (tests/test_sys_*.py): loopback socket
pairs in known states, and an fd number that is surely closed."""
import os
import socket

import pytest


@pytest.fixture
def pairs():
    """Three connected loopback TCP pairs: [0] has bytes waiting on its
    server side, [1] is idle, [2]'s client has closed (EOF on the server)."""
    made = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        for _ in range(3):
            client = socket.create_connection(listener.getsockname())
            server, _ = listener.accept()
            made.append((client, server))
    made[0][0].sendall(b"ping")
    made[2][0].close()
    yield made
    for client, server in made:
        client.close()
        server.close()


@pytest.fixture
def closed_fd():
    """An fd number that is not open."""
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    return r


def retried(call, *args):
    """call(*args) again after InterruptedError, as C code loops on EINTR.

    Tests that do not test EINTR need it for waits that sleep: besides
    signals, the kernel ends a wait with EINTR when io_uring has task work
    for the thread (seen after an earlier test closed a ring: epoll_wait
    returned EINTR with no signal delivered)."""
    while True:
        try:
            return call(*args)
        except InterruptedError:
            pass
