"""Reactor callbacks: call_soon order, call_soon_threadsafe wake-ups, and
exceptions raised by callbacks (reported, and the loop keeps running)."""
import logging
import os
import threading
import time

import pytest

from reactor_helpers import LONG, run_until


def test_call_soon_callbacks_run_in_scheduling_order(reactor):
    ran = []
    for i in range(50):
        reactor.call_soon(ran.append, i)
    run_until(reactor, lambda: len(ran) == 50)
    assert ran == list(range(50))


def test_call_soon_from_a_callback_runs_after_the_already_queued_ones(reactor):
    ran = []

    def first():
        ran.append("first")
        reactor.call_soon(ran.append, "scheduled by first")

    reactor.call_soon(first)
    reactor.call_soon(ran.append, "second")
    run_until(reactor, lambda: len(ran) == 3)
    assert ran == ["first", "second", "scheduled by first"]


def test_call_soon_passes_its_arguments(reactor):
    ran = []
    reactor.call_soon(lambda *args: ran.append(args), 1, "two", None)
    run_until(reactor, lambda: ran)
    assert ran == [(1, "two", None)]


def test_cancelled_call_soon_handle_does_not_run(reactor):
    ran = []
    handle = reactor.call_soon(ran.append, "cancelled")
    reactor.call_soon(ran.append, "kept")
    handle.cancel()
    run_until(reactor, lambda: "kept" in ran)
    assert ran == ["kept"]
    assert handle.cancelled()


def test_call_soon_threadsafe_wakes_a_loop_blocked_in_a_long_wait(reactor):
    woke, guard_fired = [], []
    # Only a lost wake-up lets this fire (and then the loop would look woken).
    guard = reactor.call_later(LONG, lambda: (guard_fired.append(True), reactor.stop()))

    def from_thread():
        time.sleep(0.2)   # the loop is blocked in its wait by now
        reactor.call_soon_threadsafe(lambda: (woke.append(threading.get_ident()),
                                              reactor.stop()))

    thread = threading.Thread(target=from_thread)
    reactor.call_soon(thread.start)
    reactor.run_forever()
    thread.join(LONG)
    guard.cancel()
    assert guard_fired == [], "the loop slept through call_soon_threadsafe"
    assert woke == [threading.get_ident()]


def test_call_soon_threadsafe_from_eight_threads_loses_no_callback(reactor):
    per_thread, nthreads = 2000, 8
    count = [0]

    def bump():
        count[0] += 1

    def producer():
        for _ in range(per_thread):
            reactor.call_soon_threadsafe(bump)

    threads = [threading.Thread(target=producer) for _ in range(nthreads)]
    # A lost wake-up leaves the loop asleep until this guard fires.
    guard_fired = []
    guard = reactor.call_later(LONG, guard_fired.append, True)
    for t in threads:
        t.start()
    run_until(reactor, lambda: count[0] == per_thread * nthreads or guard_fired, LONG * 2)
    for t in threads:
        t.join(LONG)
    guard.cancel()
    assert guard_fired == [], "the loop slept through a call_soon_threadsafe wake-up"
    assert count[0] == per_thread * nthreads


def test_exception_in_call_soon_callback_reaches_the_handler_with_the_exception(reactor):
    contexts = []
    reactor.set_exception_handler(lambda r, ctx: contexts.append((r, ctx)))
    error = ValueError("boom")

    def fail():
        raise error

    reactor.call_soon(fail)
    run_until(reactor, lambda: contexts)
    (r, ctx), = contexts
    assert r is reactor
    assert ctx["exception"] is error
    assert "message" in ctx


@pytest.mark.parametrize("schedule", ["call_soon", "call_later", "call_soon_threadsafe",
                                      "add_reader"])
def test_loop_keeps_running_after_a_callback_raises(reactor, schedule):
    errors, ran = [], []
    reactor.set_exception_handler(lambda r, ctx: errors.append(ctx["exception"]))
    rfd, wfd = os.pipe()
    try:
        def fail():
            if schedule == "add_reader":
                reactor.remove_reader(rfd)
            raise RuntimeError(schedule)

        if schedule == "call_later":
            reactor.call_later(0.0, fail)
        elif schedule == "add_reader":
            os.write(wfd, b"x")
            reactor.add_reader(rfd, fail)
        else:
            getattr(reactor, schedule)(fail)
        run_until(reactor, lambda: errors)
        reactor.call_soon(ran.append, "soon")
        reactor.call_later(0.01, ran.append, "later")
        run_until(reactor, lambda: len(ran) == 2)
    finally:
        os.close(rfd)
        os.close(wfd)
    assert [str(e) for e in errors] == [schedule]
    assert ran == ["soon", "later"]


def test_a_raising_exception_handler_does_not_stop_the_loop(reactor, caplog):
    ran = []

    def bad_handler(r, ctx):
        raise KeyError("handler bug")

    reactor.set_exception_handler(bad_handler)
    reactor.call_soon(lambda: 1 / 0)
    reactor.call_soon(ran.append, "after")
    with caplog.at_level(logging.ERROR, logger="pymux.reactor"):
        run_until(reactor, lambda: ran)
    assert ran == ["after"]


def test_default_exception_handler_logs_the_exception(reactor, caplog):
    ran = []
    reactor.call_soon(lambda: 1 / 0)
    reactor.call_soon(ran.append, "after")
    with caplog.at_level(logging.ERROR, logger="pymux.reactor"):
        run_until(reactor, lambda: ran)
    assert any(rec.exc_info and rec.exc_info[0] is ZeroDivisionError for rec in caplog.records)
