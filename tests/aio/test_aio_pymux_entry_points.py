"""pymux.aio's entry points: run(), new_event_loop(), EventLoopPolicy and
install(), which put asyncio code on pymux.aio.Loop."""
import asyncio
import gc
import sys
import threading
import warnings

import pytest

import pymux.aio
import pymux.reactor


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


# --- backends ----------------------------------------------------------------

async def accepts_a_regular_file(path):
    """Whether the running loop watches a regular file: epoll refuses it
    (PermissionError), and so does uring (its watchers are an epoll
    instance's), poll and select report it ready."""
    loop = asyncio.get_running_loop()
    with open(path, "w") as f:
        try:
            loop.add_reader(f.fileno(), print)
        except PermissionError:
            return False
        loop.remove_reader(f.fileno())
        return True


def test_every_reactor_backend_name_makes_a_loop_on_that_backend(tmp_path):
    # One table of names: the reactor's (pymux.reactor.BACKENDS).
    for backend in pymux.reactor.BACKENDS:
        loop = pymux.aio.Loop(backend)
        try:
            accepts = loop.run_until_complete(accepts_a_regular_file(tmp_path / "f"))
            assert accepts is not backend.startswith(("epoll", "uring")), backend
        finally:
            loop.close()


@pytest.mark.parametrize("backend", ["poll", "select"])
def test_run_and_new_event_loop_take_the_backend(tmp_path, backend):
    assert pymux.aio.run(accepts_a_regular_file(tmp_path / "f"), backend=backend)
    assert not pymux.aio.run(accepts_a_regular_file(tmp_path / "f"))   # epoll
    loop = pymux.aio.new_event_loop(backend)
    try:
        assert loop.run_until_complete(accepts_a_regular_file(tmp_path / "f"))
    finally:
        loop.close()


def test_install_and_the_policy_take_the_backend(restore_policy, tmp_path):
    pymux.aio.install("poll")
    assert asyncio.run(accepts_a_regular_file(tmp_path / "f"))
    asyncio.set_event_loop_policy(pymux.aio.EventLoopPolicy())
    assert not asyncio.run(accepts_a_regular_file(tmp_path / "f"))


def run_closing(coro, backend):
    """pymux.aio.run(coro, backend=backend); closes coro if it did not run."""
    try:
        return pymux.aio.run(coro, backend=backend)
    finally:
        coro.close()


@pytest.mark.parametrize("make", [
    pymux.aio.Loop, pymux.aio.new_event_loop, pymux.aio.EventLoopPolicy, pymux.aio.install,
    lambda backend: run_closing(asyncio.sleep(0), backend),
    pymux.reactor.Reactor,
], ids=["Loop", "new_event_loop", "EventLoopPolicy", "install", "run", "Reactor"])
def test_an_unknown_backend_raises_the_reactors_value_error_and_leaks_nothing(
        restore_policy, make):
    policy = asyncio.get_event_loop_policy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no unclosed-loop ResourceWarning, no __del__ error
        for name in ("kqueue", "EPOLL", ""):
            with pytest.raises(ValueError, match=r"unknown backend .*; choose from "
                               r"\['epoll', 'epoll-et', 'poll', 'select', 'uring'\]"):
                make(name)
        gc.collect()
    assert asyncio.get_event_loop_policy() is policy   # install() changed nothing
