"""Bad arguments to select(), poll and epoll: each must raise a clear Python
exception (the same type as the stdlib; the message where it is meaningful),
never crash.  Run against the stdlib and pymux."""

import errno
import math
import os
from decimal import Decimal
from fractions import Fraction

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
    # Numbers that merely compare equal to an int: no int conversion takes them.
    pytest.param(Fraction(0), TypeError, id="Fraction-0"),
    pytest.param(Decimal(0), TypeError, id="Decimal-0"),
    pytest.param(0j, TypeError, id="complex-0"),
    pytest.param(Decimal(-1), TypeError, id="Decimal-minus-1"),
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


@pytest.mark.parametrize("lists,exc", [
    pytest.param(lambda: ([1024, FileNo(FilenoRaised())], [], []), ValueError,
                 id="out-of-range-first"),
    pytest.param(lambda: ([2**40, FileNo(FilenoRaised())], [], []), OverflowError,
                 id="huge-first"),
    pytest.param(lambda: ([-1, FileNo(FilenoRaised())], [], []), ValueError, id="negative-first"),
    pytest.param(lambda: ([1024], [FileNo(FilenoRaised())], []), ValueError,
                 id="rlist-before-wlist"),
    pytest.param(lambda: ([], [FileNo("3")], [FileNo(FilenoRaised())]), TypeError,
                 id="wlist-before-xlist"),
    pytest.param(lambda: (iter([FileNo(FilenoRaised())]), 3, []), FilenoRaised,
                 id="rlist-objects-before-wlist-sequence"),
    pytest.param(lambda: (["x"], 3, []), TypeError, id="rlist-object-then-wlist-sequence"),
])
def test_select_raises_for_the_first_bad_argument_in_order(selectmod, lists, exc):
    # The stdlib converts rlist completely (the sequence, then each object's
    # fd and its range) before it looks at wlist, then xlist.
    with pytest.raises(exc):
        selectmod.select(*lists(), 0)


def test_select_refuses_more_than_fd_setsize_objects_in_one_list(selectmod, socketpair):
    a, _ = socketpair()
    with pytest.raises(ValueError, match="too many file descriptors in select()"):
        selectmod.select([], [a] * 1025, [], 0)


def test_select_takes_fd_setsize_objects_in_each_list(selectmod, socketpair):
    a, _ = socketpair()
    assert selectmod.select([], [a] * 1024, [a] * 1024, 0) == ([], [a] * 1024, [])


class ChangingFileNo:
    """fileno() gives a usable fd on every second call only."""

    def __init__(self, fd):
        self.fd, self.calls = fd, 0

    def fileno(self):
        self.calls += 1
        return self.fd if self.calls % 2 == 0 else 1024


def test_select_calls_fileno_once_per_object(selectmod, socketpair):
    a, _ = socketpair()
    obj = ChangingFileNo(a.fileno())
    with pytest.raises(ValueError, match=OUT_OF_RANGE.replace("(", r"\(").replace(")", r"\)")):
        selectmod.select([], [obj], [], 0)
    assert obj.calls == 1


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


# Above the kernel's default fs.nr_open: no such fd can be open.
NEVER_OPEN_FDS = [2**20, 2**31 - 1]


@pytest.mark.parametrize("fd", NEVER_OPEN_FDS)
def test_poll_modify_of_an_fd_that_cannot_be_open_raises_file_not_found_error(selectmod, fd):
    with pytest.raises(FileNotFoundError):
        selectmod.poll().modify(fd, selectmod.POLLIN)


@pytest.mark.parametrize("fd", NEVER_OPEN_FDS)
def test_poll_unregister_of_an_fd_that_cannot_be_open_raises_key_error(selectmod, fd):
    with pytest.raises(KeyError):
        selectmod.poll().unregister(fd)


class IndexOne:
    def __index__(self):
        return 1


@pytest.mark.parametrize("mask,exc", [
    pytest.param(-1, ValueError, id="minus-1"),
    pytest.param(2**16, OverflowError, id="2**16"),
    pytest.param(2**32, OverflowError, id="2**32"),
    pytest.param(1.0, TypeError, id="float"),
    pytest.param("1", TypeError, id="str"),
    # CPython's unsigned short converter takes ints only (3.11: no __index__).
    pytest.param(IndexOne(), TypeError, id="index-only"),
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
    pytest.param(-2**31 - 1, OverflowError, id="minus-2**31-1"),
    pytest.param(-2**64, OverflowError, id="minus-2**64"),
    pytest.param(1.5, TypeError, id="float"),
    pytest.param("3", TypeError, id="str"),
    # Numbers that merely compare equal to the default, -1.
    pytest.param(-1.0, TypeError, id="float-minus-1"),
    pytest.param(Decimal(-1), TypeError, id="Decimal-minus-1"),
    pytest.param(Fraction(-1), TypeError, id="Fraction-minus-1"),
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


@pytest.mark.parametrize("sizehint", [-1, 1])
@pytest.mark.parametrize("flags", [1, 12345, -1])
def test_epoll_invalid_flags_raise_oserror_without_errno(selectmod, sizehint, flags):
    pypy_stdlib_deviates(selectmod, EPOLL_FLAGS_TO_KERNEL)
    with pytest.raises(OSError) as info:
        selectmod.epoll(sizehint, flags)
    assert (info.value.errno, str(info.value)) == (None, "invalid flags")


def test_epoll_fromfd_minus_one_makes_a_new_epoll(selectmod):
    ep = selectmod.epoll.fromfd(-1)
    try:
        assert os.readlink(f"/proc/self/fd/{ep.fileno()}") == "anon_inode:[eventpoll]"
    finally:
        ep.close()


@pytest.mark.parametrize("args", [(2**31, 0), (-2**31 - 1, 0), (2**64, 0), (-1, 2**31),
                                  (-1, -2**31 - 1), (2**31, "x")],
                         ids=["sizehint-2**31", "sizehint-minus-2**31-1", "sizehint-2**64",
                              "flags-2**31", "flags-minus-2**31-1", "sizehint-first"])
def test_epoll_constructor_argument_outside_c_int_raises_overflow_error(selectmod, args):
    with pytest.raises(OverflowError):
        selectmod.epoll(*args).close()   # closed if wrongly accepted


@pytest.mark.parametrize("args", [(1.0,), ("1",), (-1, 1.0), (-1, None)],
                         ids=["sizehint-float", "sizehint-str", "flags-float", "flags-None"])
def test_epoll_constructor_non_int_argument_raises_type_error(selectmod, args):
    with pytest.raises(TypeError):
        selectmod.epoll(*args).close()


@pytest.mark.parametrize("call,exc", [
    pytest.param(lambda ep, fd: ep.poll(0, "x"), TypeError, id="poll-maxevents-str"),
    pytest.param(lambda ep, fd: ep.poll(0, 2**31), OverflowError, id="poll-maxevents-2**31"),
    pytest.param(lambda ep, fd: ep.register(fd, "x"), TypeError, id="register-eventmask-str"),
    pytest.param(lambda ep, fd: ep.register("x"), TypeError, id="register-fd-str"),
    pytest.param(lambda ep, fd: ep.modify(fd, 1.0), TypeError, id="modify-eventmask-float"),
    pytest.param(lambda ep, fd: ep.unregister(-1), ValueError, id="unregister-fd-minus-1"),
    pytest.param(lambda ep, fd: ep.unregister(2**31), OverflowError, id="unregister-fd-2**31"),
])
def test_closed_epoll_raises_for_a_bad_argument_parsed_on_entry(selectmod, socketpair, call, exc):
    # The stdlib converts the arguments it parses on entry (fd, eventmask,
    # maxevents) before it looks at the epoll.
    a, _ = socketpair()
    ep = selectmod.epoll()
    ep.close()
    with pytest.raises(exc) as info:
        call(ep, a.fileno())
    assert str(info.value) != CLOSED_EPOLL


@pytest.mark.parametrize("args", [("x",), (1e300,), (math.nan,), (0, 0), (0, -5)],
                         ids=["timeout-str", "timeout-huge", "timeout-nan", "maxevents-0",
                              "maxevents-minus-5"])
def test_closed_epoll_poll_checks_closed_before_timeout_and_maxevents_value(selectmod, args):
    ep = selectmod.epoll()
    ep.close()
    with pytest.raises(ValueError, match=CLOSED_EPOLL):
        ep.poll(*args)


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


# --- keywords -----------------------------------------------------------------

@pytest.mark.parametrize("call", [
    pytest.param(lambda m, fd: m.select(rlist=[], wlist=[fd], xlist=[]), id="select-lists"),
    pytest.param(lambda m, fd: m.select([], [fd], [], timeout=0), id="select-timeout"),
    pytest.param(lambda m, fd: m.poll().register(fd=fd), id="poll.register-fd"),
    pytest.param(lambda m, fd: m.poll().register(fd, eventmask=1), id="poll.register-eventmask"),
    pytest.param(lambda m, fd: m.poll().modify(fd, eventmask=1), id="poll.modify"),
    pytest.param(lambda m, fd: m.poll().unregister(fd=fd), id="poll.unregister"),
    pytest.param(lambda m, fd: m.poll().poll(timeout=0), id="poll.poll"),
])
def test_positional_only_parameters_refuse_keywords_with_type_error(selectmod, socketpair, call):
    a, _ = socketpair()  # writable: a call wrongly accepted returns at once
    with pytest.raises(TypeError):
        call(selectmod, a.fileno())


def test_epoll_fromfd_refuses_a_keyword_with_type_error(selectmod, make_epoll):
    fd = os.dup(make_epoll().fileno())
    with pytest.raises(TypeError):
        selectmod.epoll.fromfd(fd=fd).close()   # closes fd if wrongly accepted
    os.close(fd)
