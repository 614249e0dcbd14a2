"""run_until_complete, run_forever, stop and close, on both loops."""
import asyncio
import gc
import os
import threading

import pytest

from aio_helpers import ALL_LOOPS, make_loop


def open_fds():
    return set(os.listdir("/proc/self/fd"))


def test_run_until_complete_returns_the_result(aio_loop):
    async def answer():
        await asyncio.sleep(0)
        return 42

    assert aio_loop.run_until_complete(answer()) == 42


def test_run_until_complete_raises_the_coroutines_exception(aio_loop):
    async def fails():
        await asyncio.sleep(0)
        raise LookupError("nope")

    with pytest.raises(LookupError, match="nope"):
        aio_loop.run_until_complete(fails())


def test_run_until_complete_accepts_a_future_set_by_a_timer(aio_loop):
    future = aio_loop.create_future()
    aio_loop.call_later(0.01, future.set_result, "done")
    assert aio_loop.run_until_complete(future) == "done"


def test_stop_before_run_forever_runs_one_iteration(aio_loop):
    out = []

    def first():
        out.append(1)
        aio_loop.call_soon(out.append, 2)

    aio_loop.call_soon(first)
    aio_loop.stop()
    aio_loop.run_forever()
    assert out == [1]
    assert not aio_loop.is_running()


def test_stop_from_a_callback_finishes_the_iteration_then_returns(aio_loop):
    out = []
    aio_loop.call_soon(aio_loop.stop)
    aio_loop.call_soon(out.append, "same iteration")
    aio_loop.run_forever()
    assert out == ["same iteration"]


def test_run_forever_can_run_again_after_stop(aio_loop):
    out = []
    for i in range(3):
        aio_loop.call_soon(out.append, i)
        aio_loop.call_soon(aio_loop.stop)
        aio_loop.run_forever()
    assert out == [0, 1, 2]


def test_is_running_is_true_only_inside_run_forever(aio_loop):
    seen = []
    aio_loop.call_soon(lambda: seen.append(aio_loop.is_running()))
    aio_loop.call_soon(aio_loop.stop)
    aio_loop.run_forever()
    assert seen == [True] and not aio_loop.is_running()


def test_running_loop_refuses_run_forever_and_run_until_complete(aio_loop):
    errors = []

    def run_until_complete():
        coro = asyncio.sleep(0)
        try:
            aio_loop.run_until_complete(coro)
        finally:
            coro.close()   # never awaited: no warning, on any interpreter

    def reenter():
        for call in (aio_loop.run_forever, run_until_complete):
            try:
                call()
            except RuntimeError as exc:
                errors.append(str(exc))

    aio_loop.call_soon(reenter)
    aio_loop.call_soon(aio_loop.stop)
    aio_loop.run_forever()
    assert len(errors) == 2 and all("already running" in e for e in errors)


def test_close_while_running_raises_runtime_error(aio_loop):
    errors = []

    def close_now():
        try:
            aio_loop.close()
        except RuntimeError as exc:
            errors.append(exc)

    aio_loop.call_soon(close_now)
    aio_loop.call_soon(aio_loop.stop)
    aio_loop.run_forever()
    assert len(errors) == 1 and not aio_loop.is_closed()


def create_task(loop):
    coro = asyncio.sleep(0)
    try:
        loop.create_task(coro)
    finally:
        coro.close()   # never awaited: no warning, on any interpreter


@pytest.mark.parametrize("call", [
    lambda loop: loop.call_soon(print),
    lambda loop: loop.call_later(1, print),
    lambda loop: loop.call_at(loop.time() + 1, print),
    lambda loop: loop.call_soon_threadsafe(print),
    lambda loop: loop.run_forever(),
    create_task,
], ids=["call_soon", "call_later", "call_at", "call_soon_threadsafe", "run_forever", "create_task"])
def test_a_closed_loop_refuses_work_with_runtime_error(aio_loop, call):
    aio_loop.close()
    with pytest.raises(RuntimeError, match="closed"):
        call(aio_loop)


def test_close_twice_is_harmless_and_is_closed_says_so(aio_loop):
    assert not aio_loop.is_closed()
    aio_loop.close()
    aio_loop.close()
    assert aio_loop.is_closed()


def test_handles_outlive_their_closed_loop_harmlessly(aio_loop):
    timer = aio_loop.call_later(10, print)
    handle = aio_loop.call_soon(print)
    aio_loop.close()
    timer.cancel()
    handle.cancel()
    assert timer.cancelled() and handle.cancelled()


def test_a_thread_waking_the_loop_while_it_closes_never_crashes(aio_loop):
    stop = threading.Event()
    refused = []

    def hammer():
        while not stop.is_set():
            try:
                aio_loop.call_soon_threadsafe(print)
            except RuntimeError:   # closed
                refused.append(1)
                return

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        aio_loop.call_soon(aio_loop.stop)
        aio_loop.run_forever()
        aio_loop.close()
    finally:
        stop.set()
        thread.join()
    assert aio_loop.is_closed()


@pytest.mark.parametrize("kind", ALL_LOOPS)
def test_close_releases_the_loops_fds(kind):
    before = open_fds()
    loop = make_loop(kind)
    assert open_fds() - before
    loop.close()
    assert open_fds() <= before


@pytest.mark.parametrize("kind", ALL_LOOPS)
def test_an_unclosed_loop_warns_when_collected_and_releases_its_fds(kind):
    before = open_fds()
    loop = make_loop(kind)
    loop.call_later(10, print)
    with pytest.warns(ResourceWarning, match="unclosed event loop"):
        del loop
        gc.collect()
    assert open_fds() <= before
