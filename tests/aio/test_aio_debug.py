"""Debug mode: slow-callback warnings and thread checks, on both loops."""
import asyncio
import threading
import time

import pytest


def test_debug_mode_logs_a_slow_callback(aio_loop, caplog):
    aio_loop.set_debug(True)
    aio_loop.slow_callback_duration = 0.01

    def slow_callback():
        time.sleep(0.03)

    aio_loop.call_soon(slow_callback)
    aio_loop.call_soon(aio_loop.stop)
    with caplog.at_level("WARNING", logger="asyncio"):
        aio_loop.run_forever()
    messages = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert any("Executing" in m and "slow_callback" in m and "took" in m for m in messages)


def test_debug_mode_logs_a_slow_timer_callback(aio_loop, caplog):
    aio_loop.set_debug(True)
    aio_loop.slow_callback_duration = 0.01

    def slow_timer():
        time.sleep(0.03)

    aio_loop.call_later(0.001, slow_timer)
    aio_loop.call_later(0.05, aio_loop.stop)
    with caplog.at_level("WARNING", logger="asyncio"):
        aio_loop.run_forever()
    messages = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert any("Executing" in m and "slow_timer" in m for m in messages)


def test_fast_callbacks_are_not_logged(aio_loop, caplog):
    aio_loop.set_debug(True)
    aio_loop.slow_callback_duration = 10
    aio_loop.call_soon(print)
    aio_loop.call_soon(aio_loop.stop)
    with caplog.at_level("WARNING", logger="asyncio"):
        aio_loop.run_forever()
    assert not [r for r in caplog.records if "Executing" in r.getMessage()]


def test_debug_mode_refuses_call_soon_from_another_thread(aio_loop):
    aio_loop.set_debug(True)
    errors = []

    def other_thread():
        for call in (lambda: aio_loop.call_soon(print), lambda: aio_loop.call_later(1, print)):
            try:
                call()
            except RuntimeError as exc:
                errors.append(str(exc))
        aio_loop.call_soon_threadsafe(aio_loop.stop)

    aio_loop.call_soon(lambda: threading.Thread(target=other_thread).start())
    aio_loop.run_forever()
    assert len(errors) == 2
    assert all("thread" in e for e in errors)


def test_debug_mode_refuses_a_coroutine_as_callback(aio_loop):
    aio_loop.set_debug(True)

    async def coro():
        pass

    with pytest.raises(TypeError):
        aio_loop.call_soon(coro)
    with pytest.raises(TypeError):
        aio_loop.call_later(1, coro)


def test_get_debug_follows_set_debug(aio_loop):
    aio_loop.set_debug(True)
    assert aio_loop.get_debug() is True
    aio_loop.set_debug(False)
    assert aio_loop.get_debug() is False


@pytest.mark.parametrize("schedule", [
    lambda loop: loop.call_later(1, print),
    lambda loop: loop.call_at(loop.time() + 1, print),
    lambda loop: loop.call_soon(print),
], ids=["call_later", "call_at", "call_soon"])
def test_debug_mode_records_where_a_handle_was_created(aio_loop, schedule):
    aio_loop.set_debug(True)
    handle = schedule(aio_loop)
    try:
        frames = handle._source_traceback
        assert frames and frames[-1].name == "<lambda>"
    finally:
        handle.cancel()


def test_a_timer_cancelled_in_debug_mode_keeps_its_callback_in_repr(aio_loop):
    aio_loop.set_debug(True)
    handle = aio_loop.call_later(1, print)
    handle.cancel()
    assert handle.cancelled()
    assert "print" in repr(handle) and "cancelled" in repr(handle)
