"""Shared by the asyncio conformance tests (tests/aio)."""
import asyncio
import selectors

# The loops every test runs on: the stdlib's (the oracle) and pymux's, both
# on epoll.
LOOPS = ("asyncio", "pymux")
# Tests marked every_backend also run on pymux's other backends, each next
# to the stdlib loop on the matching selector where there is one (the
# oracle for what a backend changes: regular files, FD_SETSIZE).
OTHER_BACKEND_LOOPS = ("pymux-epoll-et", "asyncio-poll", "pymux-poll",
                       "asyncio-select", "pymux-select", "pymux-uring")
ALL_LOOPS = LOOPS + OTHER_BACKEND_LOOPS
BODY_TIMEOUT = 30.0    # one coroutine run by conftest's `run`

_STDLIB_SELECTORS = {"epoll": selectors.EpollSelector, "poll": selectors.PollSelector,
                     "select": selectors.SelectSelector}


def backend_of(kind):
    """The backend a loop kind runs on: "pymux-poll" -> "poll"."""
    return kind.partition("-")[2] or "epoll"


def make_loop(kind):
    """A new loop of a kind in ALL_LOOPS: "asyncio[-backend]" (the stdlib's,
    the oracle) or "pymux[-backend]"."""
    if kind.startswith("asyncio"):
        return asyncio.SelectorEventLoop(_STDLIB_SELECTORS[backend_of(kind)]())
    import pymux.aio
    from uring_helpers import require_backend
    require_backend(backend_of(kind))   # "uring": skipped, with the reason, where refused
    return pymux.aio.Loop(backend_of(kind))
