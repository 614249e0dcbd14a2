"""PEP 475 for select(), poll.poll() and epoll.poll(), against the stdlib and pymux.

A SIGALRM handler that returns must not shorten the wait (the call retries
with the remaining time); a handler that raises must propagate promptly.
The ``alarm`` fixture (conftest) always cancels the itimer and restores the
old handler.
"""

import contextlib
import signal
import threading
import time

import pytest

try:
    import pypyjit
except ImportError:            # CPython
    pypyjit = None

from pypy_deviations import EPOLL_NONE_TIMEOUT, pypy_stdlib_deviates

APIS = ["select", "poll", "epoll"]

# Signals keep coming for this long, so an implementation that restarts the
# wait with the *full* timeout after each EINTR finishes only after
# STORM + timeout and fails the < 5 s bound instead of hanging forever.
STORM = 6.0
INTERVAL = 0.05


class Interrupted(Exception):
    pass


@pytest.fixture
def waiter(request, selectmod, socketpair):
    """``wait(timeout_seconds_or_None)`` on an fd that never becomes ready
    (unless ``poke()`` is called), through the API named by the param."""
    api = request.param
    a, b = socketpair()
    if api == "select":
        def wait(timeout):
            return selectmod.select([a], [], [], timeout)
        idle = ([], [], [])
    elif api == "poll":
        p = selectmod.poll()
        p.register(a, selectmod.POLLIN)

        def wait(timeout):
            return p.poll(None if timeout is None else timeout * 1000)
        idle = []
    else:
        ep = selectmod.epoll()
        ep.register(a, selectmod.EPOLLIN)
        request.addfinalizer(ep.close)

        def wait(timeout):
            return ep.poll(timeout)
        idle = []
    wait.api, wait.idle = api, idle
    wait.poke = lambda: b.send(b"x")
    return wait


@pytest.mark.parametrize("waiter", APIS, indirect=True)
def test_wait_retries_when_signal_handler_returns(waiter, alarm):
    calls = []
    start = time.monotonic()

    def handler(signum, frame):
        calls.append(signum)
        if time.monotonic() - start > STORM:
            signal.setitimer(signal.ITIMER_REAL, 0)

    alarm(handler, INTERVAL, INTERVAL)
    result = waiter(1.0)
    elapsed = time.monotonic() - start
    signal.setitimer(signal.ITIMER_REAL, 0)
    assert result == waiter.idle
    assert len(calls) >= 5, "signals did not interrupt the wait"
    assert 1.0 - 0.005 <= elapsed < 5.0


@pytest.mark.parametrize("waiter", APIS, indirect=True)
def test_wait_propagates_exception_from_signal_handler(waiter, alarm):
    def handler(signum, frame):
        raise Interrupted

    alarm(handler, 0.1)
    start = time.monotonic()
    with pytest.raises(Interrupted):
        waiter(3.0)
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize("waiter", APIS, indirect=True)
def test_infinite_wait_propagates_exception_from_signal_handler(waiter, selectmod, alarm):
    if waiter.api == "epoll":
        pypy_stdlib_deviates(selectmod, EPOLL_NONE_TIMEOUT)
    def handler(signum, frame):
        raise Interrupted

    # Rescue: if the exception is swallowed the wait returns at ~3 s
    # (and the test fails) instead of hanging forever.
    rescue = threading.Timer(3.0, waiter.poke)
    rescue.start()
    try:
        alarm(handler, 0.1)
        start = time.monotonic()
        with pytest.raises(Interrupted):
            waiter(None)
        assert time.monotonic() - start < 1.5
    finally:
        rescue.cancel()
        rescue.join()


@contextlib.contextmanager
def eager_jit():
    """On PyPy, compile loops and their side exits after a few dozen rounds, not thousands."""
    if pypyjit is None:
        yield
        return
    pypyjit.set_param("threshold=20,function_threshold=20,trace_eagerness=5")
    try:
        yield
    finally:
        pypyjit.set_param("default")


def _kill_when_blocked_in_epoll_wait(target, sig, go, stop):
    """Each time ``go`` is set, wait until thread ``target`` sleeps in
    epoll_wait() (per /proc), then send it ``sig``: every wait ends in EINTR."""
    wchan = f"/proc/self/task/{target.native_id}/wchan"
    while True:
        go.wait()
        go.clear()
        if stop.is_set():
            return
        while True:
            with open(wchan) as f:
                if f.read() == "do_epoll_wait":
                    break
        signal.pthread_kill(target.ident, sig)


def test_raising_handler_interrupts_the_retry_of_a_hot_wait_loop(selectmod, make_epoll, socketpair):
    # PyPy's JIT checks for signals only at loop back-edges: once the loop
    # and its EINTR path are compiled (round 40 or so with eager_jit), a
    # retry that does not run the handlers itself waits out its timeout.
    a, _ = socketpair()
    ep = make_epoll()
    ep.register(a, selectmod.EPOLLIN)
    go, stop = threading.Event(), threading.Event()

    def handler(signum, frame):
        raise Interrupted

    old = signal.signal(signal.SIGUSR1, handler)
    killer = threading.Thread(target=_kill_when_blocked_in_epoll_wait,
                              args=(threading.current_thread(), signal.SIGUSR1, go, stop))
    killer.start()
    try:
        with eager_jit():
            for round_ in range(200):
                start = time.monotonic()
                go.set()
                with pytest.raises(Interrupted):
                    while True:
                        ep.poll(5.0)
                assert time.monotonic() - start < 2.5, f"round {round_}: the handler ran late"
    finally:
        stop.set()
        go.set()
        killer.join()
        signal.signal(signal.SIGUSR1, old)
