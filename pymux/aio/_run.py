"""Ways to run asyncio code on pymux.aio.Loop: run(), the policy, install()."""
import asyncio
import functools
import sys

from .._backends import backend_kind
from ._loop import Loop


def new_event_loop(backend="epoll"):
    """A new pymux.aio.Loop on the named backend (see Loop)."""
    return Loop(backend)


def run(main, *, debug=None, backend="epoll"):
    """asyncio.run(main, debug=debug) on a new pymux.aio.Loop(backend): runs
    the coroutine, then cancels the tasks left, shuts down async generators
    and the default executor, and closes the loop."""
    if asyncio.events._get_running_loop() is not None:
        raise RuntimeError("asyncio.run() cannot be called from a running event loop")
    loop_factory = functools.partial(Loop, backend)
    if sys.version_info >= (3, 11):
        with asyncio.Runner(debug=debug, loop_factory=loop_factory) as runner:
            return runner.run(main)
    return _run_before_311(main, debug, loop_factory)


def _run_before_311(main, debug, loop_factory):
    """asyncio.run of 3.9 and 3.10, with a Loop (they have no loop_factory)."""
    from asyncio import coroutines, events
    from asyncio.runners import _cancel_all_tasks

    if not coroutines.iscoroutine(main):
        raise ValueError(f"a coroutine was expected, got {main!r}")
    loop = loop_factory()
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
    pymux.aio loops on the named backend."""

    def __init__(self, backend="epoll"):
        super().__init__()
        backend_kind(backend)   # ValueError now, not at the first new_event_loop()
        self._loop_factory = functools.partial(Loop, backend)


def install(backend="epoll"):
    """Make pymux.aio (on the named backend) the loop of
    asyncio.new_event_loop() and asyncio.run() (on Python < 3.14, where
    policies are not deprecated); run() needs no installing."""
    asyncio.set_event_loop_policy(EventLoopPolicy(backend))
