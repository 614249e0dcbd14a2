"""Reactor signal handlers: the callback runs inside the loop, in the main
thread; remove_signal_handler() stops it and reports True/False."""
import os
import signal
import threading

import pytest

from reactor_helpers import LONG, run_until


@pytest.fixture(autouse=True)
def restore_signal_handlers():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGUSR1, signal.SIGUSR2)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_signal_handler_runs_in_the_loop_when_the_signal_arrives(reactor):
    calls = []
    reactor.add_signal_handler(
        signal.SIGUSR1, lambda *a: calls.append((a, reactor.is_running(), threading.get_ident())),
        "arg")
    reactor.call_soon(os.kill, os.getpid(), signal.SIGUSR1)
    run_until(reactor, lambda: calls)
    assert calls == [(("arg",), True, threading.get_ident())]


def test_signal_handler_wakes_a_loop_blocked_in_a_long_wait(reactor):
    calls, guard_fired = [], []
    reactor.add_signal_handler(signal.SIGUSR1, lambda: (calls.append("usr1"), reactor.stop()))
    guard = reactor.call_later(LONG, lambda: (guard_fired.append(True), reactor.stop()))
    killer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR1))
    reactor.call_soon(killer.start)
    reactor.run_forever()
    killer.join(LONG)
    guard.cancel()
    assert guard_fired == [], "the loop slept through the signal"
    assert calls == ["usr1"]


def test_each_signal_runs_its_own_handler(reactor):
    calls = []
    reactor.add_signal_handler(signal.SIGUSR1, calls.append, "usr1")
    reactor.add_signal_handler(signal.SIGUSR2, calls.append, "usr2")
    reactor.call_soon(os.kill, os.getpid(), signal.SIGUSR2)
    run_until(reactor, lambda: calls)
    reactor.call_soon(os.kill, os.getpid(), signal.SIGUSR1)
    run_until(reactor, lambda: len(calls) == 2)
    assert calls == ["usr2", "usr1"]


def test_remove_signal_handler_returns_true_then_false(reactor):
    reactor.add_signal_handler(signal.SIGUSR1, print)
    assert reactor.remove_signal_handler(signal.SIGUSR1) is True
    assert reactor.remove_signal_handler(signal.SIGUSR1) is False


def test_remove_signal_handler_of_a_never_handled_signal_returns_false(reactor):
    assert reactor.remove_signal_handler(signal.SIGUSR2) is False


def test_remove_signal_handler_restores_the_default_disposition(reactor):
    reactor.add_signal_handler(signal.SIGUSR1, print)
    reactor.remove_signal_handler(signal.SIGUSR1)
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_removed_signal_handler_is_not_called(reactor):
    calls, python_level = [], []
    reactor.add_signal_handler(signal.SIGUSR1, calls.append, "removed")
    reactor.add_signal_handler(signal.SIGUSR2, calls.append, "usr2")
    reactor.remove_signal_handler(signal.SIGUSR1)
    # Catch SIGUSR1 ourselves (its default would kill the test run); the
    # wake-up fd still carries its number to the reactor.
    signal.signal(signal.SIGUSR1, lambda *a: python_level.append(1))
    reactor.call_soon(os.kill, os.getpid(), signal.SIGUSR1)
    run_until(reactor, lambda: python_level)
    # A later signal proves the loop has read past the SIGUSR1 byte.
    reactor.call_soon(os.kill, os.getpid(), signal.SIGUSR2)
    run_until(reactor, lambda: calls)
    assert calls == ["usr2"]


def test_add_signal_handler_outside_the_main_thread_raises_runtime_error(reactor):
    errors = []

    def other():
        try:
            reactor.add_signal_handler(signal.SIGUSR1, print)
        except RuntimeError as exc:
            errors.append(exc)

    t = threading.Thread(target=other)
    t.start()
    t.join(LONG)
    assert len(errors) == 1


def test_add_signal_handler_for_an_uncatchable_signal_raises_runtime_error(reactor):
    with pytest.raises(RuntimeError):
        reactor.add_signal_handler(signal.SIGKILL, print)
