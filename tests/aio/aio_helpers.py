"""Shared by the asyncio conformance tests (tests/aio)."""
import asyncio

LOOPS = ("asyncio", "pymux")
BODY_TIMEOUT = 30.0    # one coroutine run by conftest's `run`
HANG_GUARD = 120.0     # the whole test, fixtures included


def make_loop(kind):
    """A new loop: "asyncio" (the stdlib's, the oracle) or "pymux"."""
    if kind == "asyncio":
        return asyncio.SelectorEventLoop()
    import pymux.aio
    return pymux.aio.Loop()
