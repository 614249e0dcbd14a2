"""call_soon, call_soon_threadsafe and exceptions in callbacks, on both loops (and every pymux backend)."""
import contextvars
import threading
import time

import pytest

# A representative part of the suite: on every pymux backend (conftest.py).
pytestmark = pytest.mark.every_backend


def test_call_soon_runs_callbacks_in_fifo_order_with_their_args(aio_loop):
    out = []
    for i in range(5):
        aio_loop.call_soon(out.append, i)
    aio_loop.call_soon(aio_loop.stop)
    aio_loop.run_forever()
    assert out == [0, 1, 2, 3, 4]


def test_callbacks_scheduled_by_a_callback_wait_for_the_next_iteration(aio_loop):
    out = []

    def first():
        out.append("first")
        aio_loop.call_soon(out.append, "scheduled by first")

    aio_loop.call_soon(first)
    aio_loop.call_soon(out.append, "second")
    aio_loop.stop()           # stop first: exactly one iteration runs
    aio_loop.run_forever()
    assert out == ["first", "second"]
    aio_loop.stop()
    aio_loop.run_forever()
    assert out == ["first", "second", "scheduled by first"]


def test_cancelled_handle_does_not_run(aio_loop):
    out = []
    handle = aio_loop.call_soon(out.append, "cancelled")
    aio_loop.call_soon(out.append, "kept")
    handle.cancel()
    aio_loop.call_soon(aio_loop.stop)
    aio_loop.run_forever()
    assert out == ["kept"] and handle.cancelled()


def test_a_callback_can_cancel_one_queued_after_it(aio_loop):
    out = []
    later = None

    def canceller():
        later.cancel()

    aio_loop.call_soon(canceller)
    later = aio_loop.call_soon(out.append, "never")
    aio_loop.call_soon(aio_loop.stop)
    aio_loop.run_forever()
    assert out == []


def test_call_soon_runs_in_the_given_context(aio_loop):
    var = contextvars.ContextVar("var", default="default")
    ctx = contextvars.copy_context()
    ctx.run(var.set, "in ctx")
    seen = []
    aio_loop.call_soon(lambda: seen.append(var.get()), context=ctx)
    aio_loop.call_soon(lambda: seen.append(var.get()))
    aio_loop.call_soon(aio_loop.stop)
    aio_loop.run_forever()
    assert seen == ["in ctx", "default"]


def test_call_soon_threadsafe_wakes_a_waiting_loop(aio_loop):
    # Nothing else is scheduled: without the wake-up the loop would wait
    # for the hang guard.
    woken = []

    def from_thread():
        time.sleep(0.05)   # let the loop block in its wait
        aio_loop.call_soon_threadsafe(woken.append, threading.get_ident())
        aio_loop.call_soon_threadsafe(aio_loop.stop)

    thread = threading.Thread(target=from_thread)
    thread.start()
    try:
        aio_loop.run_forever()
    finally:
        thread.join()
    assert woken == [thread.ident]


def test_call_soon_threadsafe_from_many_threads_runs_every_callback(aio_loop):
    count = 200
    done = []

    def worker(base):
        for i in range(count // 4):
            aio_loop.call_soon_threadsafe(done.append, base + i)

    async def main():
        threads = [threading.Thread(target=worker, args=(k * 1000,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        while len(done) < count:
            await asyncio_sleep(0)

    from asyncio import sleep as asyncio_sleep
    aio_loop.run_until_complete(main())
    assert sorted(done) == sorted(k * 1000 + i for k in range(4) for i in range(count // 4))


def test_exception_in_callback_goes_to_the_handler_with_asyncio_keys(aio_loop, handler_contexts):
    error = ValueError("boom")

    def fails():
        raise error

    handle = aio_loop.call_soon(fails)
    aio_loop.call_soon(aio_loop.stop)
    aio_loop.run_forever()
    assert len(handler_contexts) == 1
    context = handler_contexts[0]
    assert context["exception"] is error
    assert context["handle"] is handle
    assert context["message"].startswith("Exception in callback")


def test_exception_in_callback_does_not_stop_the_loop(aio_loop, handler_contexts):
    out = []
    aio_loop.call_soon(lambda: 1 / 0)
    aio_loop.call_soon(out.append, "after")
    aio_loop.call_soon(aio_loop.stop)
    aio_loop.run_forever()
    assert out == ["after"]
    assert isinstance(handler_contexts[0]["exception"], ZeroDivisionError)


def test_default_exception_handler_logs_to_the_asyncio_logger(aio_loop, caplog):
    aio_loop.call_soon(lambda: 1 / 0)
    aio_loop.call_soon(aio_loop.stop)
    with caplog.at_level("ERROR", logger="asyncio"):
        aio_loop.run_forever()
    records = [r for r in caplog.records if r.name == "asyncio"]
    assert len(records) == 1
    assert "Exception in callback" in records[0].getMessage()
    assert records[0].exc_info[0] is ZeroDivisionError


def test_keyboard_interrupt_in_callback_propagates_out_of_run_forever(aio_loop):
    def interrupt():
        raise KeyboardInterrupt

    aio_loop.call_soon(interrupt)
    with pytest.raises(KeyboardInterrupt):
        aio_loop.run_forever()
    assert not aio_loop.is_running()
