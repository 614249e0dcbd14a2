"""Reactor lifecycle: stop() returns from run_forever() (called before it,
after one iteration, as asyncio's does); close() refuses a running loop, is
idempotent, and every later call raises RuntimeError."""
import os
import signal
import socket

import pytest

from reactor_helpers import LONG
from reactor_helpers import any_loop  # noqa: F401 (a fixture)


def test_stop_from_a_callback_returns_from_run_forever(reactor):
    ran = []
    guard = reactor.call_later(LONG, ran.append, "guard")
    reactor.call_soon(lambda: (ran.append("stop"), reactor.stop()))
    reactor.run_forever()
    guard.cancel()
    assert ran == ["stop"]
    assert not reactor.is_running()


def test_stop_from_a_timer_returns_from_run_forever(reactor):
    ran = []
    guard = reactor.call_later(LONG, ran.append, "guard")
    reactor.call_later(0.01, lambda: (ran.append("stop"), reactor.stop()))
    reactor.run_forever()
    guard.cancel()
    assert ran == ["stop"]


def test_run_forever_can_run_again_after_stop(reactor):
    ran = []
    for i in range(3):
        reactor.call_soon(lambda i=i: (ran.append(i), reactor.stop()))
        reactor.run_forever()
    assert ran == [0, 1, 2]


def test_is_running_is_true_only_inside_run_forever(reactor):
    seen = []
    reactor.call_soon(lambda: (seen.append(reactor.is_running()), reactor.stop()))
    assert not reactor.is_running()
    reactor.run_forever()
    assert seen == [True]
    assert not reactor.is_running()


@pytest.mark.parametrize("call", [pytest.param(lambda r: r.run_forever(), id="run_forever"),
                                  pytest.param(lambda r: r.close(), id="close")])
def test_run_forever_or_close_inside_the_running_loop_raises_runtime_error(reactor, call):
    errors = []

    def inside():
        try:
            call(reactor)
        except RuntimeError as exc:
            errors.append(exc)
        reactor.stop()

    reactor.call_soon(inside)
    reactor.run_forever()
    assert len(errors) == 1
    assert not reactor.is_closed()


def test_close_is_idempotent(reactor):
    reactor.close()
    reactor.close()
    assert reactor.is_closed()


def _calls_after_close():
    def listen(r):
        r.listen_tcp(lambda: None, "127.0.0.1", 0)

    def connect(r):
        r.connect_tcp(lambda: None, "127.0.0.1", 9)

    return {
        "call_soon": lambda r: r.call_soon(print),
        "call_soon_threadsafe": lambda r: r.call_soon_threadsafe(print),
        "call_later": lambda r: r.call_later(0.1, print),
        "call_at": lambda r: r.call_at(r.time() + 0.1, print),
        "add_reader": lambda r: r.add_reader(0, print),
        "add_writer": lambda r: r.add_writer(1, print),
        "add_signal_handler": lambda r: r.add_signal_handler(signal.SIGUSR1, print),
        "run_forever": lambda r: r.run_forever(),
        "run_until": lambda r: r.run_until(lambda: True, timeout=0.1),
        "listen_tcp": listen,
        "connect_tcp": connect,
    }


@pytest.mark.parametrize("call", sorted(_calls_after_close()))
def test_calls_after_close_raise_runtime_error(reactor, call):
    reactor.close()
    with pytest.raises(RuntimeError):
        _calls_after_close()[call](reactor)


def test_close_closes_the_listeners_and_streams_it_owns(reactor):
    fds_before = set(os.listdir("/proc/self/fd"))
    server = reactor.listen_tcp(_Keep, "127.0.0.1", 0)
    clients = [socket.create_connection(server.sockname, timeout=5) for _ in range(3)]
    try:
        assert reactor.run_until(lambda: len(reactor.transports()) == 3, timeout=LONG)
        reactor.close()
        for c in clients:
            c.settimeout(LONG)
            try:
                assert c.recv(1) == b""
            except ConnectionResetError:
                pass
    finally:
        for c in clients:
            c.close()
    leaked = set(os.listdir("/proc/self/fd")) - fds_before
    # listdir's own fd may appear in either listing; nothing else may stay.
    assert len(leaked) <= 1, leaked


class _Keep:
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        pass

    def eof_received(self):
        return True

    def connection_lost(self, exc):
        pass


# --- stop() before run_forever(): the same tests against asyncio's loop -----------


def test_stop_before_run_forever_runs_one_iteration_then_returns(any_loop):
    # Issue 9 item 5: the early stop() was forgotten and run_forever blocked.
    ran = []
    guard = any_loop.call_later(LONG, lambda: (ran.append("guard"), any_loop.stop()))
    any_loop.call_soon(lambda: (ran.append("queued"), any_loop.call_soon(ran.append, "later")))
    any_loop.stop()
    any_loop.run_forever()
    assert ran == ["queued"]
    # The stop is used up: the next run goes on until the next stop().
    any_loop.call_soon(any_loop.stop)
    any_loop.run_forever()
    guard.cancel()
    assert ran == ["queued", "later"]


def test_stop_before_run_forever_polls_io_once_without_waiting(any_loop):
    a, b = socket.socketpair()
    try:
        ready, guard_fired = [], []
        b.send(b"x")
        any_loop.add_reader(a, ready.append, "readable")
        guard = any_loop.call_later(LONG, lambda: (guard_fired.append(1), any_loop.stop()))
        any_loop.stop()
        any_loop.run_forever()
        guard.cancel()
        any_loop.remove_reader(a)
        assert ready == ["readable"]
        assert guard_fired == []
    finally:
        a.close()
        b.close()


def test_run_until_refuses_a_predicate_that_cannot_be_called(reactor):
    # run_forever's loop skips the predicate call; run_until(None) must not
    # take that path and run forever: it raises, and the reactor still runs.
    with pytest.raises(TypeError):
        reactor.run_until(None)
    assert not reactor.is_running()
    reactor.call_soon(reactor.stop)
    reactor.run_forever()
