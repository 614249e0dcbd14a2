"""Ways to run asyncio code on pymux.aio.Loop: run(), the policy, install()."""
import asyncio
import sys

from ._loop import Loop


def new_event_loop():
    """A new pymux.aio.Loop."""
    return Loop()


def run(main, *, debug=None):
    """asyncio.run(main, debug=debug) on a new pymux.aio.Loop: runs the
    coroutine, then cancels the tasks left, shuts down async generators and
    the default executor, and closes the loop."""
    if asyncio.events._get_running_loop() is not None:
        raise RuntimeError("asyncio.run() cannot be called from a running event loop")
    if sys.version_info >= (3, 11):
        with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
            return runner.run(main)
    return _run_before_311(main, debug)


def _run_before_311(main, debug):
    """asyncio.run of 3.9 and 3.10, with a Loop (they have no loop_factory)."""
    from asyncio import coroutines, events
    from asyncio.runners import _cancel_all_tasks

    if not coroutines.iscoroutine(main):
        raise ValueError(f"a coroutine was expected, got {main!r}")
    loop = new_event_loop()
    try:
        events.set_event_loop(loop)
        if debug is not None:
            loop.set_debug(debug)
        return loop.run_until_complete(main)
    finally:
        try:
            _cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            events.set_event_loop(None)
            loop.close()


class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """asyncio's default (Unix) policy, child watchers included, making
    pymux.aio loops."""

    _loop_factory = Loop


def install():
    """Make pymux.aio the loop of asyncio.new_event_loop() and asyncio.run()
    (on Python < 3.14, where policies are not deprecated); run() needs no
    installing."""
    asyncio.set_event_loop_policy(EventLoopPolicy())
