"""Constants of ``select`` / ``pymux.select`` carry the kernel's values.

The oracle is the table below, taken from <poll.h> and <sys/epoll.h> on
Linux x86-64 (printed by a C program with _GNU_SOURCE).  Both modules are
checked against it, and pymux is additionally compared with the stdlib.
"""

import importlib
import select as stdlib_select

import pytest

from pypy_deviations import pypy_stdlib_lacks

KERNEL_VALUES = {
    "POLLIN": 0x1,
    "POLLPRI": 0x2,
    "POLLOUT": 0x4,
    "POLLERR": 0x8,
    "POLLHUP": 0x10,
    "POLLNVAL": 0x20,
    "POLLRDNORM": 0x40,
    "POLLRDBAND": 0x80,
    "POLLWRNORM": 0x100,
    "POLLWRBAND": 0x200,
    "POLLMSG": 0x400,
    "POLLRDHUP": 0x2000,
    "EPOLLIN": 0x1,
    "EPOLLPRI": 0x2,
    "EPOLLOUT": 0x4,
    "EPOLLERR": 0x8,
    "EPOLLHUP": 0x10,
    "EPOLLRDNORM": 0x40,
    "EPOLLRDBAND": 0x80,
    "EPOLLWRNORM": 0x100,
    "EPOLLWRBAND": 0x200,
    "EPOLLMSG": 0x400,
    "EPOLLRDHUP": 0x2000,
    "EPOLLEXCLUSIVE": 0x10000000,
    "EPOLLONESHOT": 0x40000000,
    "EPOLLET": 0x80000000,
    "EPOLL_CLOEXEC": 0x80000,
}

NAMES = sorted(KERNEL_VALUES)


@pytest.mark.parametrize("name", NAMES)
def test_constant_has_kernel_value(selectmod, name):
    pypy_stdlib_lacks(selectmod, name)
    assert getattr(selectmod, name) == KERNEL_VALUES[name]


@pytest.mark.parametrize("name", NAMES)
def test_constant_is_plain_int(selectmod, name):
    pypy_stdlib_lacks(selectmod, name)
    value = getattr(selectmod, name)
    assert type(value) is int


@pytest.fixture
def pymux_select():
    try:
        return importlib.import_module("pymux.select")
    except Exception as exc:
        pytest.fail(f"pymux.select cannot be imported: {exc!r}", pytrace=False)


@pytest.mark.parametrize("name", NAMES, ids=lambda n: f"pymux-{n}")
def test_pymux_constant_matches_select_module(pymux_select, name):
    pypy_stdlib_lacks(stdlib_select, name)    # pymux's value is still checked above
    assert getattr(pymux_select, name) == getattr(stdlib_select, name)


def test_error_is_oserror(selectmod):
    assert selectmod.error is OSError
