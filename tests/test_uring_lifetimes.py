"""Lifetimes in pymux.uring: a buffer the caller dropped stays alive until
its operation's final completion and is let go after it; close() and the
garbage collector cancel what is in flight first (with a ResourceWarning
for an unclosed ring); a ring made before fork() refuses the child; a ring
belongs to one thread at a time."""
import gc
import os
import socket
import threading
import time
import warnings
import weakref

import pytest

from pymux import uring
from uring_helpers import (LONG, listener, require_uring, ring, tcp_pair,  # noqa: F401 (fixtures)
                           wait_for)


class Buffer(bytearray):
    """A bytearray that can be watched with a weakref."""


def dropped_buffer(size=4096):
    """A weakref to a buffer nobody but the ring will hold, and the buffer."""
    buf = Buffer(size)
    return weakref.ref(buf), buf


def test_a_recv_buffer_dropped_by_the_caller_lives_until_its_completion(ring, tcp_pair):
    client, server = tcp_pair
    ref, buf = dropped_buffer()
    ring.prep_recv(server, buf, 1)
    ring.submit()
    del buf
    gc.collect()
    junk = [bytearray(4096) for _ in range(256)]   # memory a freed buffer would go to
    assert ref() is not None                        # the ring keeps it
    client.sendall(b"late data")
    assert wait_for(ring, 1)[0][:2] == (1, 9)
    assert all(not any(j) for j in junk)           # the kernel wrote nowhere else
    gc.collect()                                    # PyPy frees only in a collection
    assert ref() is None                            # let go with the final completion


@pytest.fixture(params=["pinned", "copied"])
def buffers(request, monkeypatch):
    """Both ways the ring keeps buffers safe: pinning the caller's memory
    (CPython) and copies of its own (PyPy), whichever this runtime uses."""
    if request.param == "pinned" and not uring._PINNING:
        pytest.skip("this Python cannot pin a bytearray's memory (PyPy): the ring copies")
    monkeypatch.setattr(uring, "_PINNING", request.param == "pinned")
    return request.param


def test_a_send_buffer_cannot_change_under_the_kernel(ring, tcp_pair, buffers):
    client, server = tcp_pair
    buf = Buffer(b"x" * 1000)
    ring.prep_send(server, buf, 1)
    if buffers == "pinned":
        with pytest.raises(BufferError):
            buf.extend(b"more")                     # the memory the kernel reads cannot move
    else:
        buf[:] = b"y" * 100000                      # resized and moved: the ring sends its copy
    assert wait_for(ring, 1)[0][:2] == (1, 1000)
    client.settimeout(LONG)
    assert recv_all(client, 1000) == b"x" * 1000
    buf.extend(b"more")                             # released with the completion


def test_a_recv_buffer_cannot_move_under_the_kernel(ring, tcp_pair, buffers):
    client, server = tcp_pair
    buf = Buffer(8)
    ring.prep_recv(server, buf, 1)
    ring.submit()
    if buffers == "pinned":
        with pytest.raises(BufferError):
            buf.extend(b"more")
    else:
        buf.extend(b"\0" * 100000)                 # moved: the kernel writes the ring's copy
    client.sendall(b"12345678")
    assert wait_for(ring, 1)[0][:2] == (1, 8)
    assert buf[:8] == b"12345678"                   # in the caller's buffer by now, either way


def recv_all(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "EOF"
        data += chunk
    return data


def test_a_multishot_operation_keeps_nothing_pinned_beyond_its_last_completion(ring, listener):
    ring.prep_accept(listener, 1, multishot=True)
    ring.submit()
    with socket.create_connection(listener.getsockname(), timeout=LONG):
        (_, fd, flags), _ = wait_for(ring, 1)
        os.close(fd)
    assert flags & uring.CQE_F_MORE
    with pytest.raises(ValueError, match="in flight"):
        ring.prep_nop(1)                            # still in flight after a completion with MORE
    ring.prep_cancel(1, 2)
    wait_for(ring, 1)
    ring.prep_nop(1)


def test_close_cancels_every_operation_in_flight_and_releases_its_buffers(ring, tcp_pair, listener):
    client, server = tcp_pair
    ref, buf = dropped_buffer()
    ring.prep_recv(server, buf, 1)
    ring.prep_accept(listener, 2, multishot=True)
    ring.prep_timeout(60, 3)
    ring.submit()
    ring.prep_nop(4)                                # prepared, never submitted: dropped
    del buf
    started = time.monotonic()
    ring.close()
    assert time.monotonic() - started < 10          # the cancellations were collected, not the 60 s timeout waited out
    gc.collect()
    assert ref() is None
    client.sendall(b"after close")                  # stays in the socket: no recv is left
    server.settimeout(LONG)
    assert server.recv(64) == b"after close"


def test_an_unclosed_ring_warns_and_is_closed_by_the_garbage_collector(tcp_pair):
    require_uring()
    client, server = tcp_pair
    ring = uring.Ring(4)
    ref, buf = dropped_buffer()
    ring.prep_recv(server, buf, 1)
    ring.submit()
    del buf
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del ring
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) and "unclosed io_uring ring"
               in str(w.message) for w in caught)
    gc.collect()
    assert ref() is None
    client.sendall(b"x")
    server.settimeout(LONG)
    assert server.recv(8) == b"x"                   # the recv was cancelled, not left running


def test_a_ring_in_a_reference_cycle_is_closed_before_its_buffers_go(tcp_pair):
    require_uring()
    client, server = tcp_pair
    ring = uring.Ring(4)
    buf = Buffer(4096)
    buf.cycle = (ring, buf)                         # ring -> buffer -> ring
    ring.prep_recv(server, buf, 1)
    ring.submit()
    ref = weakref.ref(buf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        del ring, buf
        gc.collect()
    assert ref() is None
    client.sendall(b"x")
    server.settimeout(LONG)
    assert server.recv(8) == b"x"


def test_a_ring_made_before_fork_refuses_the_child_and_keeps_working_in_the_parent(ring):
    pid = os.fork()
    if pid == 0:
        code = 0
        for call in (lambda: ring.prep_nop(1), ring.submit, lambda: ring.wait(0, 0),
                     ring.fileno, lambda: ring.setup_buffers(4, 64),
                     lambda: ring.prep_recv(0, bytearray(4), 2)):
            try:
                call()
                code = 1
            except RuntimeError as exc:
                code |= 0 if "fork" in str(exc) else 2
            except BaseException:
                code |= 4
        try:
            ring.close()
        except BaseException:
            code |= 8
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    ring.prep_nop(1)
    assert ring.wait(1, LONG) == [(1, 0, 0)]


def test_a_call_while_another_thread_waits_raises_runtimeerror(ring, tcp_pair):
    client, server = tcp_pair
    ring.prep_recv(server, bytearray(8), 1)
    got = []

    def wait_once_in():
        # The main thread's probes hold the ring for a moment each, so the
        # waiter may be the one refused (seen under ASan): it tries again.
        deadline = time.monotonic() + LONG
        while time.monotonic() < deadline:
            try:
                got.extend(ring.wait(1, LONG))
                return
            except RuntimeError:
                time.sleep(0.001)

    waiter = threading.Thread(target=wait_once_in)
    waiter.start()
    refused = None
    deadline = time.monotonic() + LONG
    while refused is None and time.monotonic() < deadline:
        try:
            ring.submit()                           # harmless while the waiter is not in C yet
            time.sleep(0.001)
        except RuntimeError as exc:
            refused = exc
    with pytest.raises(RuntimeError, match="another thread"):
        ring.close()
    client.sendall(b"wake")
    waiter.join(LONG)
    assert "another thread" in str(refused)
    assert [c[:2] for c in got] == [(1, 4)]


def test_a_recv_memoryview_released_in_flight_costs_no_other_completion(ring, tcp_pair, buffers):
    client, server = tcp_pair
    view = memoryview(bytearray(8))
    ring.prep_recv(server, view, 1)
    ring.prep_nop(2)
    ring.submit()
    if buffers == "pinned":
        with pytest.raises(BufferError):
            view.release()                          # the kernel's target cannot go
    else:
        view.release()                              # gone: the ring's copy has nowhere to go
    client.sendall(b"12345678")
    got = {}
    while len(got) < 2:
        got.update((ud, res) for ud, res, _ in ring.wait(1, LONG))
    assert got == {1: 8, 2: 0}
    if buffers == "pinned":
        assert view.tobytes() == b"12345678"
