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


ARGUMENT_PARSING = ("select, poll and epoll parse their arguments their own way: keywords "
                    "accepted, no C int range checks, Fraction/Decimal/__index__ objects taken "
                    "as numbers, fileno() called again, no count check against FD_SETSIZE, and "
                    "arguments parsed before the closed check (CPython: as the test states)")
CLOSED_DURING_A_CALL = ("an epoll closed while its arguments are parsed, or by another thread "
                        "during a wait, fails with other errors than CPython's ValueError/EBADF")
EPOLL_NEGATIVE_TIMEOUT = ("epoll.poll() takes every negative timeout as 'wait forever' "
                          "(CPython: one that rounds up to 0 ms does not block)")
EPOLL_FROMFD_MINUS_ONE = "epoll.fromfd(-1) raises (CPython: it makes a new epoll)"

# Tests whose stdlib half (parameter id starting with "stdlib") meets one of
# the deviations above; conftest.py skips that half alone on PyPy, and the
# pymux half still holds pymux to CPython's behaviour there.
STDLIB_HALF_DEVIATES = {
    "test_closed_epoll_poll_checks_closed_before_timeout_and_maxevents_value": ARGUMENT_PARSING,
    "test_closed_epoll_raises_for_a_bad_argument_parsed_on_entry": ARGUMENT_PARSING,
    "test_epoll_bad_maxevents_raises": ARGUMENT_PARSING,
    "test_epoll_bad_timeout_raises": ARGUMENT_PARSING,
    "test_epoll_constructor_argument_outside_c_int_raises_overflow_error": ARGUMENT_PARSING,
    "test_epoll_fromfd_refuses_a_keyword_with_type_error": ARGUMENT_PARSING,
    "test_poll_register_bad_eventmask_raises": ARGUMENT_PARSING,
    "test_positional_only_parameters_refuse_keywords_with_type_error": ARGUMENT_PARSING,
    "test_select_bad_timeout_raises": ARGUMENT_PARSING,
    "test_select_calls_fileno_once_per_object": ARGUMENT_PARSING,
    "test_select_raises_for_the_first_bad_argument_in_order": ARGUMENT_PARSING,
    "test_select_refuses_more_than_fd_setsize_objects_in_one_list": ARGUMENT_PARSING,
    "test_select_selector_select_refuses_a_zero_select_refuses": ARGUMENT_PARSING,
    "test_closed_epoll_selector_select_raises_value_error_for_a_timeout_epoll_refuses":
        EPOLL_TIMEOUT_UNCHECKED,
    "test_open_epoll_selector_select_raises_overflow_error_for_a_timeout_epoll_refuses":
        EPOLL_TIMEOUT_UNCHECKED,
    "test_epoll_negative_timeout_that_rounds_up_to_zero_ms_does_not_block": EPOLL_NEGATIVE_TIMEOUT,
    "test_epoll_fromfd_minus_one_makes_a_new_epoll": EPOLL_FROMFD_MINUS_ONE,
    "test_epoll_closed_by_another_thread_during_polls_raises_only_closed_errors":
        CLOSED_DURING_A_CALL,
    "test_epoll_closed_while_its_arguments_are_parsed_raises_value_error": CLOSED_DURING_A_CALL,
    "test_epoll_closed_while_the_poll_timeout_is_converted_fails_with_ebadf": CLOSED_DURING_A_CALL,
    "test_closed_while_another_thread_waits_the_wait_ends_cleanly": CLOSED_DURING_A_CALL,
}


def skip_stdlib_halves_that_deviate(items):
    """On PyPy, skip the stdlib half of each test STDLIB_HALF_DEVIATES names."""
    if not ON_PYPY:
        return
    for item in items:
        reason = STDLIB_HALF_DEVIATES.get(getattr(item, "originalname", None))
        callspec = getattr(item, "callspec", None)
        if reason and callspec is not None and callspec.id.startswith("stdlib"):
            item.add_marker(pytest.mark.skip(reason=f"PyPy's select deviates from CPython's: {reason}"))
