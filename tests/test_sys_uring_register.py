"""pymux.sys.io_uring_register: each opcode's effect seen from outside (the
probe against Ring.supports, fixed buffers read and written by the kernel
and pinned while registered, fixed files used by index, the eventfd
signalled by a completion, the provided-buffer ring), and bad input raising
OSError, TypeError or ValueError, never crashing."""
import ctypes
import errno
import os
import platform
import socket
import sys
import threading

import pytest

from pymux import sys as psys
from pymux import uring
from uring_helpers import LONG, ring, tcp_pair, listener, wait_for  # noqa: F401 (fixtures)

CPYTHON = platform.python_implementation() == "CPython"


def register(ring, opcode, arg=None):
    return psys.io_uring_register(ring, opcode, arg)


def test_probe_lists_the_supported_operations_as_ring_supports_tells_them(ring):
    ops = register(ring, psys.IORING_REGISTER_PROBE)
    assert ops == [op for op in range(256) if ring.supports(op)]
    assert {uring.OP_NOP, uring.OP_RECV, uring.OP_READ_FIXED, uring.OP_WRITE_FIXED} <= set(ops)


# --- eventfd ---------------------------------------------------------------

EFD_CLOEXEC, EFD_NONBLOCK = 0o2000000, 0o4000   # Linux's, as os.EFD_* (Python 3.10+)


@pytest.fixture
def eventfd():
    """A non-blocking eventfd (by ctypes where os.eventfd is missing: 3.9)."""
    fd = ctypes.CDLL(None, use_errno=True).eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
    assert fd >= 0, os.strerror(ctypes.get_errno())
    yield fd
    os.close(fd)


def signalled(fd):
    """The eventfd's count, reset to 0 (0 when it was not signalled)."""
    try:
        return int.from_bytes(os.read(fd, 8), sys.byteorder)
    except BlockingIOError:
        return 0


def test_a_registered_eventfd_is_signalled_by_a_completion_until_unregistered(ring, eventfd):
    assert register(ring, psys.IORING_REGISTER_EVENTFD, eventfd) == 0
    assert signalled(eventfd) == 0
    ring.prep_nop(1)
    assert wait_for(ring, 1)[0] == (1, 0, 0)
    assert signalled(eventfd) >= 1
    assert register(ring, psys.IORING_UNREGISTER_EVENTFD) == 0
    ring.prep_nop(2)
    assert wait_for(ring, 2)[0] == (2, 0, 0)
    assert signalled(eventfd) == 0


def test_eventfd_registration_is_refused_twice_and_unregistration_without_one(ring, eventfd):
    with pytest.raises(OSError) as info:
        register(ring, psys.IORING_UNREGISTER_EVENTFD)
    assert info.value.errno == errno.ENXIO
    register(ring, psys.IORING_REGISTER_EVENTFD, eventfd)
    with pytest.raises(OSError) as info:
        register(ring, psys.IORING_REGISTER_EVENTFD, eventfd)
    assert info.value.errno == errno.EBUSY


def test_an_fd_that_is_no_eventfd_is_refused_by_the_kernel(ring):
    r, w = os.pipe()
    try:
        with pytest.raises(OSError):
            register(ring, psys.IORING_REGISTER_EVENTFD, r)
    finally:
        os.close(r)
        os.close(w)


# --- fixed files -----------------------------------------------------------

def test_a_registered_file_is_used_by_index_and_outlives_its_fd_until_unregistered(
        ring, tcp_pair):
    client, server = tcp_pair
    dup = os.dup(server.fileno())
    assert register(ring, psys.IORING_REGISTER_FILES, [-1, dup]) == 0
    os.close(dup)                          # the kernel holds its own reference
    buf = bytearray(16)
    ring.prep_recv(1, buf, 1)
    ring.sqe_set_flags(psys.IOSQE_FIXED_FILE)
    client.sendall(b"fixed")
    assert wait_for(ring, 1)[0] == (1, 5, 0)
    assert bytes(buf[:5]) == b"fixed"

    ring.prep_send(1, b"back", 2)
    ring.sqe_set_flags(psys.IOSQE_FIXED_FILE)
    assert wait_for(ring, 2)[0] == (2, 4, 0)
    client.settimeout(LONG)
    assert client.recv(16) == b"back"

    ring.prep_recv(0, bytearray(4), 3)     # the empty slot
    ring.sqe_set_flags(psys.IOSQE_FIXED_FILE)
    assert wait_for(ring, 3)[0][1] == -errno.EBADF

    assert register(ring, psys.IORING_UNREGISTER_FILES) == 0
    ring.prep_recv(1, bytearray(4), 4)
    ring.sqe_set_flags(psys.IOSQE_FIXED_FILE)
    assert wait_for(ring, 4)[0][1] == -errno.EBADF


def test_files_registration_is_refused_twice_and_unregistration_without_one(ring, tcp_pair):
    with pytest.raises(OSError) as info:
        register(ring, psys.IORING_UNREGISTER_FILES)
    assert info.value.errno == errno.ENXIO
    register(ring, psys.IORING_REGISTER_FILES, tcp_pair)   # socket objects: their fds
    with pytest.raises(OSError) as info:
        register(ring, psys.IORING_REGISTER_FILES, tcp_pair)
    assert info.value.errno == errno.EBUSY


# --- fixed buffers ---------------------------------------------------------

def test_registered_buffers_are_read_and_written_by_fixed_operations(ring, tcp_pair):
    client, server = tcp_pair
    source = uring.fixed_buffer(32)
    source[:11] = b"hello fixed"
    target = bytearray(16) if CPYTHON else uring.fixed_buffer(16)
    assert register(ring, psys.IORING_REGISTER_BUFFERS, [target, source]) == 0

    ring.prep_write_fixed(client, 1, 1, nbytes=5, offset=6)      # "fixed"
    assert wait_for(ring, 1)[0] == (1, 5, 0)
    ring.prep_read_fixed(server, 0, 2, offset=3)
    assert wait_for(ring, 2)[0] == (2, 5, 0)
    assert bytes(target[3:8]) == b"fixed"


@pytest.mark.skipif(not CPYTHON, reason="CPython pins a bytearray by its buffer view; "
                                        "PyPy registers only fixed_buffer() memory")
def test_a_registered_bytearray_cannot_be_resized_until_unregistered(ring):
    buf = bytearray(64)
    register(ring, psys.IORING_REGISTER_BUFFERS, [buf])
    with pytest.raises(BufferError):
        buf.extend(b"x" * 4096)
    with pytest.raises(OSError) as info:
        register(ring, psys.IORING_REGISTER_BUFFERS, [bytearray(8)])
    assert info.value.errno == errno.EBUSY
    register(ring, psys.IORING_UNREGISTER_BUFFERS)
    buf.extend(b"x" * 4096)
    with pytest.raises(ValueError, match="no registered buffer"):
        ring.prep_read_fixed(0, 0, 1)


@pytest.mark.skipif(not CPYTHON, reason="observed through a bytearray's pinned size")
def test_a_fixed_read_in_flight_keeps_its_buffer_after_unregistration(ring, tcp_pair):
    client, server = tcp_pair
    buf = bytearray(16)
    register(ring, psys.IORING_REGISTER_BUFFERS, [buf])
    ring.prep_read_fixed(server, 0, 1)
    ring.submit()
    # Data comes later, from a timer: kernels that make an unregistration
    # wait for the fixed operations in flight (before 6.x) return then.
    late = threading.Timer(0.1, client.sendall, (b"late",))
    late.start()
    register(ring, psys.IORING_UNREGISTER_BUFFERS)
    with pytest.raises(BufferError):       # the kernel's target until its completion is reaped
        buf.extend(b"x" * 4096)
    late.join(LONG)
    assert wait_for(ring, 1)[0] == (1, 4, 0)
    assert bytes(buf[:4]) == b"late"
    buf.extend(b"x" * 4096)                # released with the final completion


@pytest.mark.skipif(CPYTHON, reason="PyPy only: a view does not pin a bytearray there")
def test_pypy_registers_only_memory_that_cannot_move(ring):
    with pytest.raises(TypeError, match="fixed_buffer"):
        register(ring, psys.IORING_REGISTER_BUFFERS, [bytearray(8)])


def test_closing_a_ring_with_registrations_releases_them(tcp_pair, eventfd):
    uring_ring = uring.Ring(4)
    buf = bytearray(8) if CPYTHON else uring.fixed_buffer(8)
    register(uring_ring, psys.IORING_REGISTER_BUFFERS, [buf])
    register(uring_ring, psys.IORING_REGISTER_FILES, tcp_pair)
    register(uring_ring, psys.IORING_REGISTER_EVENTFD, eventfd)
    uring_ring.prep_read_fixed(tcp_pair[1], 0, 1)
    uring_ring.close()                     # cancels the read, collects it
    if CPYTHON:
        buf.extend(b"x" * 4096)            # no longer pinned
    with pytest.raises(ValueError, match="closed"):
        register(uring_ring, psys.IORING_REGISTER_PROBE)


def test_an_unclosed_ring_with_registrations_is_released_by_the_garbage_collector(
        tcp_pair, eventfd):
    # Dropped unclosed with buffers, files and an eventfd registered and a
    # fixed read in flight: the collector's close cancels the read before
    # the buffer is let go (the ASan run would see a kernel write into freed
    # memory otherwise), and the memory is released.
    import gc
    import warnings

    client, server = tcp_pair
    uring_ring = uring.Ring(4)
    buf = bytearray(8) if CPYTHON else uring.fixed_buffer(8)
    register(uring_ring, psys.IORING_REGISTER_BUFFERS, [buf])
    register(uring_ring, psys.IORING_REGISTER_FILES, tcp_pair)
    register(uring_ring, psys.IORING_REGISTER_EVENTFD, eventfd)
    uring_ring.prep_read_fixed(server, 0, 1)
    uring_ring.submit()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del uring_ring
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) and "unclosed io_uring ring"
               in str(w.message) for w in caught)
    if CPYTHON:
        buf.extend(b"x" * 4096)            # no longer pinned
    client.sendall(b"x")
    server.settimeout(LONG)
    assert server.recv(8) == b"x"          # the fixed read was cancelled, not left running


# --- the provided-buffer ring ----------------------------------------------

def test_pbuf_ring_registration_is_the_ring_owned_provided_buffers(ring, tcp_pair):
    client, server = tcp_pair
    assert register(ring, psys.IORING_REGISTER_PBUF_RING, (4, 64)) == 0
    ring.prep_recv_multishot(server, 1)
    client.sendall(b"provided")
    (ud, res, flags), _ = wait_for(ring, 1)
    assert ring.received(res, flags) == b"provided"
    with pytest.raises(ValueError, match="already"):
        register(ring, psys.IORING_REGISTER_PBUF_RING, (4, 64))


# --- bad input ---------------------------------------------------------------

@pytest.mark.parametrize("opcode", [-1, 6, 7, 9, 21, 256, 2**40])
def test_an_opcode_pymux_does_not_bind_raises_valueerror(ring, opcode):
    with pytest.raises(ValueError, match="not bound"):
        register(ring, opcode)


BAD_ARGUMENTS = [
    (psys.IORING_REGISTER_PROBE, 256, TypeError),
    (psys.IORING_UNREGISTER_BUFFERS, [], TypeError),
    (psys.IORING_UNREGISTER_FILES, 0, TypeError),
    (psys.IORING_UNREGISTER_EVENTFD, 0, TypeError),
    (psys.IORING_REGISTER_EVENTFD, None, TypeError),
    (psys.IORING_REGISTER_EVENTFD, -1, ValueError),
    (psys.IORING_REGISTER_EVENTFD, 2**31, OverflowError),
    (psys.IORING_REGISTER_FILES, 5, TypeError),
    (psys.IORING_REGISTER_FILES, [], ValueError),
    (psys.IORING_REGISTER_FILES, [-2], ValueError),
    (psys.IORING_REGISTER_FILES, ["0"], TypeError),
    (psys.IORING_REGISTER_BUFFERS, None, TypeError),
    (psys.IORING_REGISTER_BUFFERS, [], ValueError),
    (psys.IORING_REGISTER_BUFFERS, [b"read-only"], TypeError),
    (psys.IORING_REGISTER_BUFFERS, [memoryview(bytearray(16))[::2]], TypeError),
    (psys.IORING_REGISTER_BUFFERS, [bytearray(0)], ValueError if CPYTHON else TypeError),
    (psys.IORING_REGISTER_BUFFERS, [42], TypeError),
    (psys.IORING_REGISTER_PBUF_RING, None, TypeError),
    (psys.IORING_REGISTER_PBUF_RING, (3, 64), ValueError),
    ("8", None, TypeError),
]


@pytest.mark.parametrize("opcode,arg,exc", BAD_ARGUMENTS)
def test_a_bad_argument_raises_the_stdlib_exception_and_registers_nothing(
        ring, opcode, arg, exc, eventfd):
    with pytest.raises(exc):
        register(ring, opcode, arg)
    register(ring, psys.IORING_REGISTER_EVENTFD, eventfd)   # nothing was registered before
    if CPYTHON:
        register(ring, psys.IORING_REGISTER_BUFFERS, [bytearray(8)])


def test_oversized_arrays_raise_valueerror(ring):
    with pytest.raises(ValueError):
        register(ring, psys.IORING_REGISTER_BUFFERS, [uring.fixed_buffer(1)] * 16385)
    with pytest.raises(ValueError):
        register(ring, psys.IORING_REGISTER_FILES, [-1] * (2**20 + 1))


def test_an_fd_beyond_any_open_one_is_ebadf(ring):
    with pytest.raises(OSError) as info:
        register(ring, psys.IORING_REGISTER_FILES, [2**20])
    assert info.value.errno == errno.EBADF
    with pytest.raises(OSError) as info:
        register(ring, psys.IORING_REGISTER_EVENTFD, 2**20)
    assert info.value.errno == errno.EBADF


def test_register_needs_a_ring(ring):
    with pytest.raises(TypeError):
        psys.io_uring_register(ring.fileno(), psys.IORING_REGISTER_PROBE)


def test_fixed_operations_check_index_range_and_offset(ring, tcp_pair):
    register(ring, psys.IORING_REGISTER_BUFFERS, [uring.fixed_buffer(16)])
    sock = tcp_pair[1]
    for kwargs in ({"nbytes": 17}, {"offset": 17}, {"offset": 8, "nbytes": 9}, {"offset": -1},
                   {"nbytes": -1}, {"file_offset": -2}):
        with pytest.raises(ValueError):
            ring.prep_read_fixed(sock, 0, 1, **kwargs)
    for index in (-1, 1):
        with pytest.raises(ValueError, match="no registered buffer"):
            ring.prep_write_fixed(sock, index, 1)
    with pytest.raises(TypeError):
        ring.prep_read_fixed(sock, "0", 1)
    assert ring.wait(0, 0) == []           # none of those took a slot


def test_sqe_set_flags_needs_a_prepared_operation_and_a_known_flag(ring):
    with pytest.raises(ValueError, match="no operation"):
        ring.sqe_set_flags(psys.IOSQE_FIXED_FILE)
    ring.prep_nop(1)
    with pytest.raises(ValueError):
        ring.sqe_set_flags(0x80)
    ring.sqe_set_flags(0)
    ring.submit()
    with pytest.raises(ValueError, match="no operation"):   # submitted: too late
        ring.sqe_set_flags(psys.IOSQE_FIXED_FILE)


def test_fixed_buffer_sizes_are_checked():
    for size in (0, -1, 2**30 + 1):
        with pytest.raises(ValueError):
            uring.fixed_buffer(size)
    assert bytes(uring.fixed_buffer(4)) == b"\0" * 4


def test_a_child_forked_after_the_ring_was_made_may_not_register(ring):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            register(ring, psys.IORING_REGISTER_PROBE)
        except RuntimeError:
            code = 0
        except BaseException:
            pass
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert register(ring, psys.IORING_REGISTER_PROBE)   # the parent's still works
