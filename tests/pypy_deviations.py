"""Where PyPy's own select module differs from CPython's, and the one helper
the contract tests use to step around it.

The contract tests run against the stdlib (the oracle) and pymux. The
reference is CPython's behaviour, which pymux has on both interpreters; on
PyPy the stdlib half runs PyPy's select module (and the stdlib selectors on
top of it), which differs in the ways named below (PyPy 7.3.11, Python 3.9).
A test whose stdlib half meets one of them calls ``pypy_stdlib_deviates``:
on PyPy that skips the stdlib half alone, with the reason; the pymux half
still checks CPython's behaviour.
"""
import platform
import types

import pytest

ON_PYPY = platform.python_implementation() == "PyPy"

SELECT_FD_WORDING = ("select() says 'file descriptor out of range in select()' "
                     "(CPython: 'filedescriptor out of range in select()')")
SELECT_TIMEOUT_UNCHECKED = ("select() checks only that a timeout is not negative: it takes nan "
                            "(and then waits forever if nothing is ready), fails past time_t "
                            "with OSError(EINVAL) and raises ValueError for -inf (CPython: "
                            "ValueError for nan, OverflowError for the others)")
POLL_NEGATIVE_TIMEOUT = ("poll() takes every negative timeout as 'wait forever', also one below "
                         "INT_MIN milliseconds (CPython: OverflowError)")
POLL_TRUNCATES_TIMEOUT = ("poll() truncates a fractional millisecond timeout, so 0.5 ms waits "
                          "0 ms (CPython rounds it up to 1 ms)")
EPOLL_TIMEOUT_UNCHECKED = ("epoll.poll() checks no timeout: it takes nan, inf and values past "
                           "INT_MAX milliseconds (CPython: ValueError or OverflowError)")
EPOLL_NONE_TIMEOUT = "epoll.poll(None) raises TypeError (CPython: None waits forever)"
EPOLL_MAXEVENTS_UNCHECKED = ("epoll.poll() takes maxevents=2**31 and fails to allocate its "
                             "buffer with OSError(ENOMEM) (CPython: OverflowError)")
EPOLL_FLAGS_TO_KERNEL = ("epoll() passes invalid flags to the kernel and raises OSError(EINVAL) "
                         "(CPython: OSError('invalid flags') without an errno)")
CLOSED_EPOLL_WORDING = ("a closed epoll says 'I/O operation on closed epoll fd' "
                        "(CPython: '... closed epoll object')")


def _is_stdlib(under_test):
    """True for the stdlib select or selectors module, or an object made by one."""
    if isinstance(under_test, types.ModuleType):
        return under_test.__name__ in ("select", "selectors")
    return type(under_test).__module__ in ("select", "selectors")


def pypy_stdlib_deviates(under_test, reason):
    """Skip this test's stdlib half on PyPy, whose select module differs here.

    ``under_test`` is what the test runs against (a module or a selector);
    on CPython, and for pymux, this does nothing.
    """
    if ON_PYPY and _is_stdlib(under_test):
        pytest.skip(f"PyPy's select deviates from CPython's: {reason}")


def pypy_stdlib_lacks(module, *names):
    """Skip the stdlib half on PyPy where its select module has no such constant."""
    missing = [name for name in names if not hasattr(module, name)]
    if missing:
        pypy_stdlib_deviates(module, f"it has no {', '.join(missing)}")
