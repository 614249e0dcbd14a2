"""The asyncio conformance suite: every test takes ``aio_loop`` and so runs
twice, on the stdlib's selector event loop (the oracle: if that run fails,
the test is wrong) and on ``pymux.aio.Loop``.

Hang guard (no pytest-timeout here): each coroutine a test runs through
``run`` is bounded by asyncio.wait_for, and a test that hangs outside one
kills the run with every thread's traceback, as the reactor fixture does.
"""
import asyncio
import faulthandler

import pytest

from aio_helpers import BODY_TIMEOUT, HANG_GUARD, LOOPS, make_loop


def guarded_loop(kind):
    """Yields a new loop of `kind`; closes it, hang-guarded meanwhile."""
    faulthandler.dump_traceback_later(HANG_GUARD, exit=True)
    loop = make_loop(kind)
    try:
        yield loop
    finally:
        faulthandler.cancel_dump_traceback_later()
        loop.close()


@pytest.fixture(params=LOOPS)
def aio_loop(request):
    """A new event loop of each kind."""
    yield from guarded_loop(request.param)


@pytest.fixture
def pymux_loop():
    """A pymux.aio.Loop alone, for the few behaviours where pymux promises
    more than asyncio (each such test says so)."""
    yield from guarded_loop("pymux")


@pytest.fixture
def run(aio_loop):
    """run(coro, timeout=BODY_TIMEOUT): run_until_complete, bounded."""
    def run_bounded(coro, timeout=BODY_TIMEOUT):
        return aio_loop.run_until_complete(asyncio.wait_for(coro, timeout))
    return run_bounded


@pytest.fixture
def handler_contexts(aio_loop):
    """The contexts the loop's exception handler receives, in order."""
    contexts = []
    aio_loop.set_exception_handler(lambda loop, context: contexts.append(context))
    return contexts
