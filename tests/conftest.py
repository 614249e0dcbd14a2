"""Shared fixtures for the pymux test suite.

Every contract test takes the ``selectmod`` fixture and so runs twice: once
against the stdlib ``select`` module (the oracle: if that run fails, the test
is wrong) and once against ``pymux.select``.  When ``pymux.select`` cannot be
imported the pymux half errors out; it never silently skips.
"""

import contextlib
import importlib
import resource
import select as stdlib_select
import signal
import socket
import threading
import time

import pytest


def _import_pymux_select():
    return importlib.import_module("pymux.select")


@pytest.fixture(params=["stdlib", "pymux"])
def selectmod(request):
    """The module under test: stdlib ``select`` or ``pymux.select``."""
    if request.param == "stdlib":
        return stdlib_select
    try:
        return _import_pymux_select()
    except Exception as exc:  # ImportError, or a build/cffi error at import
        # pytest.fail, not pytest.skip: a missing pymux must not look green.
        pytest.fail(f"pymux.select cannot be imported: {exc!r}", pytrace=False)


@pytest.fixture
def socketpair():
    """Factory: ``socketpair(kind="unix", blocking=False)`` -> (a, b).

    kind "unix" gives an AF_UNIX stream pair, "tcp" a connected loopback
    TCP pair (needed for MSG_OOB).  Everything made is closed at teardown.
    """
    made = []

    def make(kind="unix", blocking=False):
        if kind == "unix":
            a, b = socket.socketpair()
        elif kind == "tcp":
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lsock:
                lsock.bind(("127.0.0.1", 0))
                lsock.listen(1)
                a = socket.create_connection(lsock.getsockname(), timeout=5)
                made.append(a)
                b, _ = lsock.accept()
        else:
            raise ValueError(f"unknown socketpair kind {kind!r}")
        made.extend((a, b))
        a.setblocking(blocking)
        b.setblocking(blocking)
        return a, b

    yield make
    for sock in made:
        sock.close()


@pytest.fixture
def make_epoll(selectmod):
    """Factory for epoll objects of the module under test; all closed at teardown."""
    made = []

    def make(*args, **kwargs):
        ep = selectmod.epoll(*args, **kwargs)
        made.append(ep)
        return ep

    yield make
    for ep in made:
        ep.close()


@pytest.fixture
def wait_for_late_data():
    """``wait_for_late_data(wait, peer)`` -> (what wait() returned, seconds
    it took): wait() runs while another thread sends one byte on ``peer``
    50 ms later, so a wait that does not block returns early and empty."""

    def run(wait, peer, delay=0.05):
        timer = threading.Timer(delay, peer.send, (b"x",))
        start = time.monotonic()   # before the timer runs: the byte comes >= delay after it
        timer.start()
        try:
            result = wait()
            return result, time.monotonic() - start
        finally:
            timer.join()

    return run


@contextlib.contextmanager
def raised_nofile_limit(wanted=None):
    """Raise the RLIMIT_NOFILE soft limit toward the hard limit, then restore it.

    Yields the soft limit in force inside the block: ``wanted`` if the hard
    limit allows it, otherwise as high as the hard limit allows.  Never
    lowers the current soft limit.
    """
    old_soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if wanted is None else wanted
    if hard != resource.RLIM_INFINITY:
        target = min(target, hard)
    target = max(target, old_soft)
    if target != old_soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    try:
        yield target
    finally:
        if target != old_soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (old_soft, hard))


@pytest.fixture
def nofile_limit():
    """Fixture form of :func:`raised_nofile_limit`: a callable ``(wanted) -> limit``.

    The limit is restored at teardown, after the test's fds are closed
    (fixtures requested earlier tear down later, so request this one first).
    """
    stack = contextlib.ExitStack()

    def raise_to(wanted=None):
        return stack.enter_context(raised_nofile_limit(wanted))

    with stack:
        yield raise_to


@pytest.fixture
def alarm():
    """Install a SIGALRM handler and an ITIMER_REAL; always undone at teardown.

    ``alarm(handler, delay, interval=0.0)`` installs ``handler`` and starts
    the itimer.  Teardown cancels the itimer first, then restores the old
    handler.
    """
    old_handler = signal.getsignal(signal.SIGALRM)

    def start(handler, delay, interval=0.0):
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, delay, interval)

    try:
        yield start
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)


# --- reactor tests (tests/test_reactor_*.py) ---------------------------------

from reactor_helpers import REACTOR_BACKENDS  # noqa: E402 (one list, beside its helpers)


@pytest.fixture(params=REACTOR_BACKENDS)
def reactor(request):
    """A pymux Reactor on each backend; closed at teardown (pytest-timeout
    guards every test against hangs: pyproject.toml)."""
    from pymux.reactor import Reactor
    from uring_helpers import require_backend

    require_backend(request.param)
    r = Reactor(request.param)
    try:
        yield r
    finally:
        r.close()


def pytest_collection_modifyitems(config, items):
    from pypy_deviations import skip_stdlib_halves_that_deviate
    skip_stdlib_halves_that_deviate(items)
