"""Helpers shared by the io_uring tests (tests/test_uring_*.py)."""
import errno
import functools
import socket

import pytest

from pymux import uring

LONG = 10.0   # seconds: a hang guard only


def require_uring():
    """Skip the test where the kernel refuses io_uring, saying why; never
    silently, and never on a kernel that lets this process make a ring."""
    reason = uring.unavailable_reason()
    if reason is not None:
        pytest.skip(f"io_uring is refused here: {reason}")


def require_backend(backend):
    """For the loop core's "uring" backend, skip where the kernel refuses
    it, saying why: io_uring itself (require_uring), or a feature the
    backend needs beyond a ring (multishot recv into provided buffers,
    Linux 6.0), which only making a loop finds out. Nothing for the
    readiness backends, which every Linux has."""
    if backend == "uring":
        require_uring()
        reason = _uring_backend_refusal()
        if reason is not None:
            pytest.skip(reason)


@functools.lru_cache(maxsize=None)
def _uring_backend_refusal():
    """None if a "uring" loop can be made here, else the OSError's text for
    the kernel's refusal (any other error is not a refusal: it propagates)."""
    from pymux._backends import new_c_loop
    from pymux._clib import mux_loop_free
    try:
        mux_loop_free(new_c_loop("uring"))
    except OSError as exc:
        if exc.errno not in (errno.ENOSYS, errno.EPERM, errno.EOPNOTSUPP):
            raise
        return str(exc)
    return None


@pytest.fixture
def ring():
    """A Ring of 8 entries, closed at teardown (see require_uring)."""
    require_uring()
    r = uring.Ring(8)
    yield r
    r.close()


@pytest.fixture
def listener():
    """A listening loopback TCP socket on port 0."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s


@pytest.fixture
def tcp_pair(listener):
    """A connected loopback TCP pair (client, server side), closed at teardown."""
    client = socket.create_connection(listener.getsockname(), timeout=LONG)
    server, _ = listener.accept()
    with client, server:
        yield client, server


def wait_for(ring, user_data, timeout=LONG):
    """The completion (user_data, res, flags) of one operation; the others
    harvested meanwhile are returned too, in a list, as the second value."""
    others = []
    for _ in range(100):
        for completion in ring.wait(1, timeout / 100):
            if completion[0] == user_data:
                return completion, others
            others.append(completion)
    raise AssertionError(f"no completion for user_data {user_data}")
