"""pymux.aio's entry points: run(), new_event_loop(), EventLoopPolicy and
install(), which put asyncio code on pymux.aio.Loop."""
import asyncio
import sys
import threading
import warnings

import pytest

import pymux.aio


async def running_loop_type():
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop())


def test_run_runs_the_coroutine_on_a_pymux_loop_and_returns_its_result():
    assert pymux.aio.run(running_loop_type()) is pymux.aio.Loop


def test_run_propagates_the_coroutines_exception():
    async def fails():
        raise KeyError("x")

    with pytest.raises(KeyError):
        pymux.aio.run(fails())


@pytest.mark.parametrize("debug", [True, False])
def test_run_sets_debug_mode_when_asked(debug):
    async def get_debug():
        return asyncio.get_running_loop().get_debug()

    assert pymux.aio.run(get_debug(), debug=debug) is debug


def test_run_closes_the_loop_and_cancels_leftover_tasks():
    seen = {}

    async def main():
        seen["loop"] = asyncio.get_running_loop()
        seen["task"] = asyncio.ensure_future(asyncio.sleep(3600))
        await asyncio.sleep(0)

    pymux.aio.run(main())
    assert seen["loop"].is_closed()
    assert seen["task"].cancelled()


def test_run_finalizes_async_generators_and_the_default_executor():
    finalized = []

    async def agen():
        try:
            yield 1
            yield 2
        finally:
            finalized.append("agen")

    async def main():
        gen = agen()
        await gen.__anext__()          # left suspended: run() must close it
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, threading.current_thread)

    executor_thread = pymux.aio.run(main())
    assert finalized == ["agen"]
    assert not executor_thread.is_alive()   # shut down, and waited for


def test_run_refuses_a_running_loop():
    async def nested():
        coro = running_loop_type()
        try:
            pymux.aio.run(coro)
        finally:
            coro.close()

    with pytest.raises(RuntimeError, match="running event loop"):
        pymux.aio.run(nested())


def test_new_event_loop_makes_a_pymux_loop():
    loop = pymux.aio.new_event_loop()
    try:
        assert isinstance(loop, pymux.aio.Loop)
        assert isinstance(loop, asyncio.AbstractEventLoop)
        assert loop.run_until_complete(running_loop_type()) is pymux.aio.Loop
    finally:
        loop.close()


@pytest.fixture
def restore_policy():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # policies, 3.14+
        old = asyncio.get_event_loop_policy()
        try:
            yield
        finally:
            asyncio.set_event_loop_policy(old)


def test_install_makes_asyncio_run_use_pymux(restore_policy):
    pymux.aio.install()
    assert isinstance(asyncio.get_event_loop_policy(), pymux.aio.EventLoopPolicy)
    assert asyncio.run(running_loop_type()) is pymux.aio.Loop


def test_the_policy_runs_subprocesses(restore_policy):
    # The policy keeps asyncio's child watchers (3.8-3.11 need them).
    asyncio.set_event_loop_policy(pymux.aio.EventLoopPolicy())

    async def echo():
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "print('hi')", stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        return out, proc.returncode

    assert asyncio.run(echo()) == (b"hi\n", 0)
