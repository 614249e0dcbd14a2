"""An fd at or above FD_SETSIZE on a loop over select(), on the stdlib loop
with selectors.SelectSelector and on pymux.aio's select backend: both raise
the stdlib's ValueError. The stdlib's registers the fd and raises from its
next select(), out of the loop's run; pymux raises at the call that brings
the fd (add_reader, create_connection...), and its loop stays usable."""
import asyncio
import os
import resource
import select
import socket

import pytest

from aio_helpers import make_loop
from pypy_deviations import SELECT_FD_WORDING, pypy_stdlib_deviates

FD_SETSIZE = 1024
HIGH_FD = FD_SETSIZE + 16
MESSAGE = "filedescriptor out of range in select()"


@pytest.fixture(params=["asyncio-select", "pymux-select"])
def select_loop(request):
    if request.param.startswith("asyncio"):
        pypy_stdlib_deviates(select, SELECT_FD_WORDING)
    loop = make_loop(request.param)
    yield loop
    loop.close()


@pytest.fixture
def high_fd_pair():
    """A connected socketpair whose first socket's fd is HIGH_FD
    (RLIMIT_NOFILE raised for it, and restored afterwards)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft <= HIGH_FD:
        if hard != resource.RLIM_INFINITY and hard <= HIGH_FD:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} <= {HIGH_FD}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (HIGH_FD + 1, hard))
    a, b = socket.socketpair()
    try:
        os.dup2(a.fileno(), HIGH_FD)
        high = socket.socket(a.family, a.type, a.proto, HIGH_FD)
        high.setblocking(False)
        a.close()
        yield high, b
        high.close()
        b.close()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize("add", ["add_reader", "add_writer"])
def test_watching_an_fd_past_fd_setsize_is_a_value_error(select_loop, high_fd_pair, add):
    high, _ = high_fd_pair
    with pytest.raises(ValueError, match=MESSAGE):
        getattr(select_loop, add)(high.fileno(), lambda: None)
        select_loop.call_soon(select_loop.stop)
        select_loop.run_forever()   # the stdlib's raises here
    getattr(select_loop, add.replace("add", "remove"))(high.fileno())


def test_a_connection_on_an_fd_past_fd_setsize_is_a_value_error(select_loop, high_fd_pair):
    high, _ = high_fd_pair
    connecting = select_loop.create_task(
        select_loop.create_connection(asyncio.Protocol, sock=high))
    with pytest.raises(ValueError, match=MESSAGE):
        select_loop.run_until_complete(connecting)
    if not connecting.done():
        # The stdlib's raised from select(), its transport made and reading:
        # unwatch the fd (remove_reader refuses: a transport uses it), and
        # let the connection finish to close it.
        select_loop._remove_reader(high.fileno())
        transport, _ = select_loop.run_until_complete(connecting)
        transport.abort()
        select_loop.run_until_complete(asyncio.sleep(0))


def test_pymux_refuses_the_fd_at_add_reader_and_runs_on(high_fd_pair):
    # pymux only: the stdlib's loop raises from every iteration until the
    # reader is removed.
    high, _ = high_fd_pair
    loop = make_loop("pymux-select")
    try:
        with pytest.raises(ValueError, match=MESSAGE):
            loop.add_reader(high.fileno(), lambda: None)
        assert loop.run_until_complete(asyncio.sleep(0, "still runs")) == "still runs"
        assert loop.remove_reader(high.fileno()) is False
    finally:
        loop.close()


def test_pymux_reports_an_accepted_fd_past_fd_setsize_as_the_value_error(high_fd_pair):
    # pymux only: its C listener closes such a connection and pauses, as for
    # EMFILE (the stdlib's loop makes a transport, then raises from select()).
    contexts = []
    loop = make_loop("pymux-select")
    loop.set_exception_handler(lambda loop, context: contexts.append(context))
    fillers = []
    try:
        server = loop.run_until_complete(loop.create_server(asyncio.Protocol, "127.0.0.1", 0))
        client = socket.socket()
        while True:   # every free fd below FD_SETSIZE taken: accept gets one above
            filler = os.dup(client.fileno())
            fillers.append(filler)
            if filler >= FD_SETSIZE - 1:
                break
        client.connect(server.sockets[0].getsockname())
        while not contexts:
            loop.run_until_complete(asyncio.sleep(0.01))
        server.close()
        loop.run_until_complete(server.wait_closed())
        client.close()
    finally:
        for fd in fillers:
            os.close(fd)
        loop.close()
    assert contexts[0]["message"] == "socket.accept() out of system resource"
    assert isinstance(contexts[0]["exception"], ValueError)
    assert str(contexts[0]["exception"]) == MESSAGE
