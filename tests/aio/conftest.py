"""The asyncio conformance suite: every test takes ``aio_loop`` and so runs
on the stdlib's selector event loop (the oracle: if that run fails, the test
is wrong) and on ``pymux.aio.Loop``, both on epoll. Tests (or modules)
marked ``every_backend`` run on pymux's other backends too (aio_helpers:
ALL_LOOPS).

Hang guard: pytest-timeout's, project-wide (pyproject.toml); besides, each
coroutine a test runs through ``run`` is bounded by asyncio.wait_for, so a
hung one fails with its own traceback.
"""
import asyncio

import pytest

from aio_helpers import ALL_LOOPS, BODY_TIMEOUT, LOOPS, backend_of, make_loop


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "every_backend: run on every pymux.aio backend, not only epoll")


def pytest_generate_tests(metafunc):
    every = metafunc.definition.get_closest_marker("every_backend") is not None
    if "aio_loop" in metafunc.fixturenames:
        metafunc.parametrize("aio_loop", ALL_LOOPS if every else LOOPS, indirect=True)
    if "pymux_loop" in metafunc.fixturenames and every:
        pymux_kinds = [kind for kind in ALL_LOOPS if kind.startswith("pymux")]
        metafunc.parametrize("pymux_loop", pymux_kinds, indirect=True)


def closing(loop):
    """Yields the loop, then closes it."""
    try:
        yield loop
    finally:
        loop.close()


@pytest.fixture
def aio_loop(request):
    """A new event loop of each kind (see pytest_generate_tests)."""
    yield from closing(make_loop(request.param))


@pytest.fixture
def aio_backend(request, aio_loop):
    """The backend aio_loop runs on: "epoll", "epoll-et", "poll" or "select"."""
    return backend_of(request.node.callspec.params["aio_loop"])


@pytest.fixture
def pymux_loop(request):
    """A pymux.aio.Loop alone (on each backend if every_backend), for the few
    behaviours where pymux promises more than asyncio (each such test says
    so)."""
    yield from closing(make_loop(getattr(request, "param", "pymux")))


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
