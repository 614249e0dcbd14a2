"""run_in_executor, shutdown_default_executor and shutdown_asyncgens, on both loops."""
import asyncio
import concurrent.futures
import threading

import pytest


def test_run_in_executor_runs_in_another_thread_and_returns(aio_loop, run):
    async def main():
        return await aio_loop.run_in_executor(None, threading.get_ident)

    assert run(main()) != threading.get_ident()


def test_run_in_executor_propagates_the_exception(aio_loop, run):
    def fails():
        raise ArithmeticError("in thread")

    with pytest.raises(ArithmeticError, match="in thread"):
        run(aio_loop.run_in_executor(None, fails))


def test_run_in_executor_uses_the_given_and_the_default_executor(aio_loop, run):
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="given") as given:
        async def main():
            name = await aio_loop.run_in_executor(given, lambda: threading.current_thread().name)
            aio_loop.set_default_executor(given)
            default = await aio_loop.run_in_executor(None, lambda: threading.current_thread().name)
            return name, default

        name, default = run(main())
    assert name.startswith("given") and default.startswith("given")


def test_many_executor_results_wake_the_loop(aio_loop, run):
    async def main():
        return await asyncio.gather(*(aio_loop.run_in_executor(None, pow, i, 2) for i in range(200)))

    assert run(main()) == [i * i for i in range(200)]


def test_shutdown_default_executor_joins_its_threads(aio_loop, run):
    async def main():
        thread = await aio_loop.run_in_executor(None, threading.current_thread)
        await aio_loop.shutdown_default_executor()
        return thread

    assert not run(main()).is_alive()


def test_shutdown_asyncgens_closes_suspended_async_generators(aio_loop, run):
    closed = []

    async def agen(name):
        try:
            yield 1
            yield 2
        finally:
            closed.append(name)

    async def main():
        gens = [agen("a"), agen("b")]
        for gen in gens:
            await gen.__anext__()
        await aio_loop.shutdown_asyncgens()
        return gens

    gens = run(main())
    assert sorted(closed) == ["a", "b"]
    del gens


def test_an_async_generator_failing_at_shutdown_goes_to_the_handler(aio_loop, run, handler_contexts):
    async def agen():
        try:
            yield 1
        finally:
            raise ValueError("in finally")

    async def main():
        gen = agen()
        await gen.__anext__()
        await aio_loop.shutdown_asyncgens()
        return gen

    gen = run(main())
    assert isinstance(handler_contexts[0]["exception"], ValueError)
    assert handler_contexts[0]["asyncgen"] is gen
