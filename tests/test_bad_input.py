"""Bad arguments to select(), poll and epoll: each must raise a clear Python
exception (the same type as the stdlib; the message where it is meaningful),
never crash.  Run against the stdlib and pymux."""

import errno
import math
import os

import pytest

from pypy_deviations import (CLOSED_EPOLL_WORDING, EPOLL_FLAGS_TO_KERNEL, EPOLL_MAXEVENTS_UNCHECKED,
                             EPOLL_TIMEOUT_UNCHECKED, POLL_NEGATIVE_TIMEOUT, SELECT_FD_WORDING,
                             SELECT_TIMEOUT_UNCHECKED, pypy_stdlib_deviates)

OUT_OF_RANGE = "filedescriptor out of range in select()"
CLOSED_EPOLL = "I/O operation on closed epoll object"


class FilenoRaised(Exception):
    pass


class FileNo:
    """An object whose fileno() returns ``value`` or raises it."""

    def __init__(self, value):
        self.value = value

    def fileno(self):
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value

    def __repr__(self):
        return f"FileNo({self.value!r})"


def _unused_fd(start=5000):
    fd = start
    while True:
        try:
            os.fstat(fd)
        except OSError:
            return fd
        fd += 1


# (value, expected exception) for an fd argument to poll/epoll and select
BAD_FDS = [
    pytest.param(-1, ValueError, id="minus-1"),
    pytest.param(2**31, OverflowError, id="2**31"),
    pytest.param(2**64, OverflowError, id="2**64"),
    pytest.param(1.5, TypeError, id="float"),
    pytest.param(3.0, TypeError, id="integral-float"),
    pytest.param("3", TypeError, id="str"),
    pytest.param(b"3", TypeError, id="bytes"),
    pytest.param(None, TypeError, id="None"),
    pytest.param(FileNo("3"), TypeError, id="fileno-returns-str"),
    pytest.param(FileNo(1.5), TypeError, id="fileno-returns-float"),
    pytest.param(FileNo(None), TypeError, id="fileno-returns-None"),
    pytest.param(FileNo(-1), ValueError, id="fileno-returns-minus-1"),
    pytest.param(FileNo(2**31), OverflowError, id="fileno-returns-2**31"),
]

# (value, expected exception) for a timeout every wait refuses, whatever its unit
BAD_TIMEOUTS = [
    pytest.param(math.nan, ValueError, id="nan"),
    pytest.param(math.inf, OverflowError, id="inf"),
    pytest.param(-math.inf, OverflowError, id="minus-inf"),
    pytest.param(1e20, OverflowError, id="1e20"),
    pytest.param(2**64, OverflowError, id="2**64"),
    pytest.param("1", TypeError, id="str"),
    pytest.param([], TypeError, id="list"),
]


# --- select() -----------------------------------------------------------------

@pytest.mark.parametrize("fd", [1024, 5000, FileNo(1024)], ids=["1024", "5000", "fileno-returns-1024"])
def test_select_fd_at_or_above_fd_setsize_raises_value_error(selectmod, fd):
    pypy_stdlib_deviates(selectmod, SELECT_FD_WORDING)
    with pytest.raises(ValueError, match=OUT_OF_RANGE.replace("(", r"\(").replace(")", r"\)")):
        selectmod.select([fd], [], [], 0)


@pytest.mark.parametrize("position", [0, 1, 2], ids=["rlist", "wlist", "xlist"])
def test_select_checks_fd_range_in_every_list(selectmod, position):
    lists = [[], [], []]
    lists[position].append(1024)
    with pytest.raises(ValueError):
        selectmod.select(*lists, 0)


@pytest.mark.parametrize("fd,exc", BAD_FDS)
def test_select_bad_fd_raises(selectmod, fd, exc):
    with pytest.raises(exc):
        selectmod.select([fd], [], [], 0)


def test_select_bad_fd_after_good_ones_raises(selectmod, socketpair):
    a, _ = socketpair()
    with pytest.raises(ValueError):
        selectmod.select([], [a, a.fileno(), 1024], [], 0)


def test_select_propagates_exception_from_fileno(selectmod):
    with pytest.raises(FilenoRaised):
        selectmod.select([FileNo(FilenoRaised("boom"))], [], [], 0)


@pytest.mark.parametrize("arg", [3, None, 1.5], ids=["int", "None", "float"])
def test_select_non_iterable_argument_raises_type_error(selectmod, arg):
    with pytest.raises(TypeError):
        selectmod.select(arg, [], [], 0)


def test_select_with_too_few_arguments_raises_type_error(selectmod):
    with pytest.raises(TypeError):
        selectmod.select([], [])


@pytest.mark.parametrize("timeout,exc", BAD_TIMEOUTS + [
    pytest.param(-1, ValueError, id="minus-1"),
    pytest.param(-0.0001, ValueError, id="small-negative"),
    pytest.param(10**10, OverflowError, id="10**10"),
])
def test_select_bad_timeout_raises(selectmod, socketpair, timeout, exc):
    if exc is OverflowError or timeout != timeout:     # out of range, or nan
        pypy_stdlib_deviates(selectmod, SELECT_TIMEOUT_UNCHECKED)
    a, _ = socketpair()  # writable: a timeout that is wrongly accepted cannot hang
    with pytest.raises(exc):
        selectmod.select([], [a], [], timeout)


# --- poll ---------------------------------------------------------------------

@pytest.mark.parametrize("method", ["register", "modify", "unregister"])
@pytest.mark.parametrize("fd,exc", BAD_FDS)
def test_poll_bad_fd_raises(selectmod, method, fd, exc):
    p = selectmod.poll()
    args = (fd, selectmod.POLLIN) if method == "modify" else (fd,)
    with pytest.raises(exc):
        getattr(p, method)(*args)


@pytest.mark.parametrize("method", ["register", "modify", "unregister"])
def test_poll_propagates_exception_from_fileno(selectmod, method):
    p = selectmod.poll()
    fd = FileNo(FilenoRaised("boom"))
    args = (fd, selectmod.POLLIN) if method == "modify" else (fd,)
    with pytest.raises(FilenoRaised):
        getattr(p, method)(*args)


def test_poll_register_of_unopened_fd_reports_pollnval(selectmod):
    fd = _unused_fd()
    p = selectmod.poll()
    p.register(fd, selectmod.POLLIN)
    assert p.poll(0) == [(fd, selectmod.POLLNVAL)]


def test_poll_modify_of_unregistered_unopened_fd_raises_file_not_found_error(selectmod):
    with pytest.raises(FileNotFoundError):
        selectmod.poll().modify(_unused_fd(), selectmod.POLLIN)


def test_poll_unregister_of_unregistered_unopened_fd_raises_key_error(selectmod):
    with pytest.raises(KeyError):
        selectmod.poll().unregister(_unused_fd())


@pytest.mark.parametrize("mask,exc", [
    pytest.param(-1, ValueError, id="minus-1"),
    pytest.param(2**16, OverflowError, id="2**16"),
    pytest.param(2**32, OverflowError, id="2**32"),
    pytest.param(1.0, TypeError, id="float"),
    pytest.param("1", TypeError, id="str"),
])
def test_poll_register_bad_eventmask_raises(selectmod, socketpair, mask, exc):
    a, _ = socketpair()
    with pytest.raises(exc):
        selectmod.poll().register(a, mask)


@pytest.mark.parametrize("timeout,exc", BAD_TIMEOUTS + [
    pytest.param(2**31, OverflowError, id="2**31"),
    pytest.param(-2**31 - 1, OverflowError, id="minus-2**31-1"),
    pytest.param(-3e9, OverflowError, id="minus-3e9"),
])
def test_poll_bad_timeout_raises(selectmod, socketpair, timeout, exc):
    if exc is OverflowError and timeout < 0:
        pypy_stdlib_deviates(selectmod, POLL_NEGATIVE_TIMEOUT)
    a, _ = socketpair()
    p = selectmod.poll()
    p.register(a)  # writable: a timeout that is wrongly accepted cannot hang
    with pytest.raises(exc):
        p.poll(timeout)


def test_poll_largest_int_timeout_is_accepted(selectmod, socketpair):
    a, _ = socketpair()
    p = selectmod.poll()
    p.register(a, selectmod.POLLOUT)
    assert p.poll(2**31 - 1) == [(a.fileno(), selectmod.POLLOUT)]


# --- epoll --------------------------------------------------------------------

@pytest.mark.parametrize("method", ["register", "modify", "unregister"])
@pytest.mark.parametrize("fd,exc", BAD_FDS)
def test_epoll_bad_fd_raises(selectmod, make_epoll, method, fd, exc):
    ep = make_epoll()
    args = (fd, selectmod.EPOLLIN) if method == "modify" else (fd,)
    with pytest.raises(exc):
        getattr(ep, method)(*args)


@pytest.mark.parametrize("method", ["register", "modify", "unregister"])
def test_epoll_unopened_fd_raises_ebadf(selectmod, make_epoll, method):
    ep = make_epoll()
    fd = _unused_fd()
    args = (fd, selectmod.EPOLLIN) if method == "modify" else (fd,)
    with pytest.raises(OSError) as info:
        getattr(ep, method)(*args)
    assert info.value.errno == errno.EBADF


@pytest.mark.parametrize("method", ["register", "modify", "unregister"])
def test_epoll_propagates_exception_from_fileno(selectmod, make_epoll, method):
    ep = make_epoll()
    fd = FileNo(FilenoRaised("boom"))
    args = (fd, selectmod.EPOLLIN) if method == "modify" else (fd,)
    with pytest.raises(FilenoRaised):
        getattr(ep, method)(*args)


@pytest.mark.parametrize("mask", [1.0, "1", None], ids=["float", "str", "None"])
def test_epoll_register_non_int_eventmask_raises_type_error(selectmod, make_epoll, socketpair, mask):
    a, _ = socketpair()
    with pytest.raises(TypeError):
        make_epoll().register(a, mask)


@pytest.mark.parametrize("maxevents,exc", [
    pytest.param(0, ValueError, id="0"),
    pytest.param(-2, ValueError, id="minus-2"),
    pytest.param(-2**31, ValueError, id="minus-2**31"),
    pytest.param(2**31, OverflowError, id="2**31"),
    pytest.param(2**64, OverflowError, id="2**64"),
    pytest.param(1.5, TypeError, id="float"),
    pytest.param("3", TypeError, id="str"),
])
def test_epoll_bad_maxevents_raises(selectmod, make_epoll, socketpair, maxevents, exc):
    if maxevents == 2**31:
        pypy_stdlib_deviates(selectmod, EPOLL_MAXEVENTS_UNCHECKED)
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLOUT)
    with pytest.raises(exc):
        ep.poll(0, maxevents)


@pytest.mark.parametrize("maxevents", [-1, 1, 10**6])
def test_epoll_valid_maxevents_is_accepted(selectmod, make_epoll, socketpair, maxevents):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLOUT)
    assert ep.poll(0, maxevents) == [(a.fileno(), selectmod.EPOLLOUT)]


@pytest.mark.parametrize("timeout,exc", BAD_TIMEOUTS + [
    pytest.param(2**31, OverflowError, id="2**31"),
    pytest.param(2147484, OverflowError, id="over-INT_MAX-ms"),
    pytest.param(-2147484, OverflowError, id="under-INT_MIN-ms"),
    pytest.param(-3e6, OverflowError, id="minus-3e6"),
])
def test_epoll_bad_timeout_raises(selectmod, make_epoll, socketpair, timeout, exc):
    if exc is not TypeError:
        pypy_stdlib_deviates(selectmod, EPOLL_TIMEOUT_UNCHECKED)
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a)  # writable: a timeout that is wrongly accepted cannot hang
    with pytest.raises(exc):
        ep.poll(timeout)


def test_epoll_largest_millisecond_timeout_is_accepted(selectmod, make_epoll, socketpair):
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLOUT)
    assert ep.poll(2147483.0) == [(a.fileno(), selectmod.EPOLLOUT)]


@pytest.mark.parametrize("sizehint", [0, -2], ids=["0", "minus-2"])
def test_epoll_bad_sizehint_raises_value_error(selectmod, sizehint):
    with pytest.raises(ValueError):
        selectmod.epoll(sizehint)


@pytest.mark.parametrize("flags", [1, 12345, -1])
def test_epoll_invalid_flags_raise_oserror_without_errno(selectmod, flags):
    pypy_stdlib_deviates(selectmod, EPOLL_FLAGS_TO_KERNEL)
    with pytest.raises(OSError) as info:
        selectmod.epoll(-1, flags)
    assert (info.value.errno, str(info.value)) == (None, "invalid flags")


@pytest.mark.parametrize("call", [
    pytest.param(lambda ep, fd: ep.register(fd), id="register"),
    pytest.param(lambda ep, fd: ep.modify(fd, 1), id="modify"),
    pytest.param(lambda ep, fd: ep.unregister(fd), id="unregister"),
    pytest.param(lambda ep, fd: ep.poll(0), id="poll"),
    pytest.param(lambda ep, fd: ep.fileno(), id="fileno"),
    pytest.param(lambda ep, fd: ep.__enter__(), id="enter"),
])
def test_epoll_call_after_close_raises_value_error(selectmod, socketpair, call):
    pypy_stdlib_deviates(selectmod, CLOSED_EPOLL_WORDING)
    a, _ = socketpair()
    ep = selectmod.epoll()
    ep.close()
    with pytest.raises(ValueError, match=CLOSED_EPOLL):
        call(ep, a.fileno())


def test_epoll_poll_after_fd_closed_behind_its_back_raises_ebadf(selectmod):
    ep = selectmod.epoll()
    os.close(ep.fileno())
    try:
        with pytest.raises(OSError) as info:
            ep.poll(0)
        assert info.value.errno == errno.EBADF
    finally:
        ep.close()
