"""Tasks and futures, on both loops."""
import asyncio

import pytest


def test_tasks_interleave_at_each_await(aio_loop, run):
    out = []

    async def worker(name):
        for i in range(3):
            out.append((name, i))
            await asyncio.sleep(0)

    async def main():
        await asyncio.gather(worker("a"), worker("b"))

    run(main())
    assert out == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]


def test_sleeps_wake_in_deadline_order(run):
    out = []

    async def sleeper(delay):
        await asyncio.sleep(delay)
        out.append(delay)

    async def main():
        await asyncio.gather(*(sleeper(d) for d in (0.03, 0.01, 0.02)))

    run(main())
    assert out == [0.01, 0.02, 0.03]


def test_cancelling_a_task_raises_cancelled_error_inside_it(aio_loop, run):
    seen = []

    async def victim():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def main():
        task = asyncio.ensure_future(victim())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert run(main()) is True
    assert seen == ["cancelled"]


def test_wait_for_times_out_with_timeout_error(run):
    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.sleep(3600), 0.01)

    run(main())


def test_future_callbacks_run_soon_after_set_result(aio_loop):
    future = aio_loop.create_future()
    out = []
    future.add_done_callback(lambda f: out.append(f.result()))
    future.set_result("value")
    assert out == []   # scheduled, not called
    aio_loop.call_soon(aio_loop.stop)
    aio_loop.run_forever()
    assert out == ["value"]


def test_future_exception_is_raised_by_await(run, aio_loop):
    async def main():
        future = aio_loop.create_future()
        aio_loop.call_later(0.001, future.set_exception, OSError(5, "io"))
        with pytest.raises(OSError):
            await future

    run(main())


def test_unretrieved_task_exception_reaches_the_handler(aio_loop, handler_contexts):
    import gc

    async def fails():
        raise ValueError("unretrieved")

    task = aio_loop.create_task(fails())
    aio_loop.run_until_complete(asyncio.sleep(0.01))
    assert task.done()
    del task
    gc.collect()
    assert len(handler_contexts) == 1
    context = handler_contexts[0]
    assert isinstance(context["exception"], ValueError)
    assert context["message"] == "Task exception was never retrieved"
    assert "future" in context


def test_current_task_and_all_tasks(run):
    async def main():
        me = asyncio.current_task()
        other = asyncio.ensure_future(asyncio.sleep(0.01))
        tasks = asyncio.all_tasks()
        await other
        return me, other, tasks

    me, other, tasks = run(main())
    assert other in tasks and me in tasks


def test_task_factory_is_used(aio_loop):
    made = []

    def factory(loop, coro, **kwargs):
        task = asyncio.Task(coro, loop=loop, **kwargs)
        made.append(task)
        return task

    aio_loop.set_task_factory(factory)
    aio_loop.run_until_complete(asyncio.sleep(0))
    assert len(made) == 1 and aio_loop.get_task_factory() is factory
