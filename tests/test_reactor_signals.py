"""Reactor signal handlers: the callback runs inside the loop, in the main
thread; remove_signal_handler() stops it and reports True/False. Bad signal
numbers get asyncio's exceptions and messages and leave nothing behind;
close() restores the signal state even when one of its steps fails."""
import asyncio
import gc
import os
import signal
import stat
import threading

import pytest

from pymux.reactor import Reactor
from reactor_helpers import LONG, fd_count, run_until, serve_clients
from reactor_helpers import reactor_backend  # noqa: F401 (a fixture)


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


# --- bad signals: asyncio's answers ------------------------------------------------

BAD_SIGNALS = ["x", 1.0, None, b"2", 0, -1, 65, 2**31, 2**64, 2**100,
               signal.SIGKILL, signal.SIGSTOP]


def _outcome(call):
    try:
        call()
    except Exception as exc:   # noqa: BLE001: compared, not hidden
        return type(exc), str(exc)
    return None


def _asyncio_outcome(method, sig):
    loop = asyncio.new_event_loop()
    try:
        return _outcome(lambda: getattr(loop, method)(sig, *([print] if method.startswith("add")
                                                             else [])))
    finally:
        loop.close()


@pytest.mark.parametrize("sig", BAD_SIGNALS, ids=repr)
def test_add_signal_handler_refuses_a_bad_signal_as_asyncio_does(reactor, sig):
    # Issue 9 item 7: "x" or a huge number raised from deep inside, and 0,
    # 65 and SIGKILL all became RuntimeError.
    expected = _asyncio_outcome("add_signal_handler", sig)
    assert expected is not None
    assert _outcome(lambda: reactor.add_signal_handler(sig, print)) == expected


@pytest.mark.parametrize("sig", BAD_SIGNALS, ids=repr)
def test_remove_signal_handler_refuses_a_bad_signal_as_asyncio_does(reactor, sig):
    expected = _asyncio_outcome("remove_signal_handler", sig)
    assert _outcome(lambda: reactor.remove_signal_handler(sig)) == expected


def test_a_bad_signal_on_a_closed_reactor_gets_the_same_error_as_asyncio(reactor):
    reactor.close()
    loop = asyncio.new_event_loop()
    loop.close()
    for sig in ("x", 0):
        assert _outcome(lambda: reactor.add_signal_handler(sig, print)) == \
            _outcome(lambda: loop.add_signal_handler(sig, print))
    with pytest.raises(RuntimeError, match="Reactor is closed"):
        reactor.add_signal_handler(signal.SIGUSR1, print)


def test_refused_signals_leave_nothing_for_close_to_trip_on(reactor):
    gc.collect()
    before = fd_count()
    reactor.add_signal_handler(signal.SIGUSR1, print)
    for sig in BAD_SIGNALS:
        with pytest.raises((TypeError, ValueError, RuntimeError)):
            reactor.add_signal_handler(sig, print)
    reactor.close()
    assert reactor.is_closed()
    assert fd_count() < before   # the pair and the reactor's own fds are gone
    assert signal.set_wakeup_fd(-1) == -1
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


# --- close() finishes every step ---------------------------------------------------


def _reactor_fds_and_peers_released(reactor, clients, before):
    assert reactor.is_closed()
    for client in clients:
        client.settimeout(LONG)
        assert client.recv(1) == b""
    assert fd_count() == before + len(clients)


def test_close_finishes_every_step_when_one_fails_then_raises_the_first_error(
        reactor_backend, monkeypatch):
    for _ in range(3):   # PyPy: earlier tests' garbage, freed in turns
        gc.collect()
    before = fd_count()
    reactor = Reactor(reactor_backend)
    server, clients, _ = serve_clients(reactor, 2)
    reactor.add_signal_handler(signal.SIGUSR1, print)
    reactor.add_signal_handler(signal.SIGUSR2, print)
    real_signal = signal.signal
    failures = [OSError("first"), OSError("second")]

    def failing_signal(sig, handler):
        if failures:
            raise failures.pop(0)
        return real_signal(sig, handler)

    monkeypatch.setattr(signal, "signal", failing_signal)
    try:
        with pytest.raises(OSError, match="first"):
            reactor.close()
        monkeypatch.undo()
        _reactor_fds_and_peers_released(reactor, clients, before)
        assert signal.set_wakeup_fd(-1) == -1
        reactor.close()   # done already
    finally:
        for client in clients:
            client.close()


def test_close_outside_the_main_thread_finishes_and_keeps_the_wakeup_fd_valid(
        reactor_backend):
    # The signal module refuses other threads, so the wake-up fd cannot be
    # reset there: the socket it names stays open, so that no fd reusing
    # its number receives the signal bytes.
    for _ in range(3):   # PyPy: earlier tests' garbage, freed in turns
        gc.collect()
    before = fd_count()
    reactor = Reactor(reactor_backend)
    server, clients, _ = serve_clients(reactor, 1)
    reactor.add_signal_handler(signal.SIGUSR1, print)
    errors = []

    def close():
        try:
            reactor.close()
        except ValueError as exc:
            errors.append(exc)

    thread = threading.Thread(target=close)
    thread.start()
    thread.join(LONG)
    try:
        assert len(errors) == 1
        kept = signal.set_wakeup_fd(-1)
        assert kept != -1 and stat.S_ISSOCK(os.fstat(kept).st_mode)
        _reactor_fds_and_peers_released(reactor, clients, before + 2)   # the kept pair
    finally:
        for client in clients:
            client.close()
