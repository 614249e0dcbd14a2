"""A Reactor that is never closed is released when collected, with a
ResourceWarning naming it, as asyncio's event loops are: its C loop and
every fd it holds (epoll, eventfd, listeners, streams, the signal wake-up
pair) go, and its listening sockets leave the kernel."""
import gc
import os
import signal
import socket
import warnings

import pytest

from pymux._clib import mux_token_fd
from pymux.reactor import Reactor
from reactor_helpers import LONG, fd_count, run_until, serve_clients
from reactor_helpers import reactor_backend  # noqa: F401 (a fixture)

UNCLOSED = 1000
# PyPy frees objects only when its GC runs (no reference counting): collecting
# every so often keeps the select backend's fds below FD_SETSIZE there.
COLLECT_EVERY = 100




def _tcp_listener_inodes():
    """The socket inodes of the machine's IPv4 TCP listeners."""
    with open("/proc/net/tcp") as table:
        next(table)   # the header
        rows = [line.split() for line in table]
    return {int(row[9]) for row in rows if row[3] == "0A"}   # TCP_LISTEN


def _collected_warnings(make, count):
    """Call make() count times, dropping what it returns, then collect;
    returns the ResourceWarnings raised meanwhile."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for i in range(1, count + 1):
            make()
            if i % COLLECT_EVERY == 0:
                gc.collect()
        gc.collect()
    return [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_a_thousand_unclosed_reactors_with_listeners_release_every_fd(reactor_backend):
    # Issue 9 item 3: they kept 2 fds each (and their ports) for good.
    inodes = set()

    def make():
        reactor = Reactor(reactor_backend)
        server = reactor.listen_tcp(lambda: None, "127.0.0.1", 0)
        inodes.add(os.fstat(mux_token_fd(reactor._cloop, server._token)).st_ino)

    gc.collect()
    before = fd_count()
    caught = _collected_warnings(make, UNCLOSED)
    assert fd_count() == before
    reactor_warnings = [w for w in caught if "unclosed Reactor" in str(w.message)]
    assert len(reactor_warnings) == UNCLOSED
    # By the sockets' inodes, not by binding their ports again: another
    # process on this machine may have taken a freed port meanwhile.
    assert len(inodes) == UNCLOSED
    assert not inodes & _tcp_listener_inodes()


def test_unclosed_reactor_with_streams_and_signal_handlers_releases_them(reactor_backend):
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGUSR1, signal.SIGUSR2)}
    clients = []

    def make():
        reactor = Reactor(reactor_backend)
        server, made, _ = serve_clients(reactor, 2)
        clients.extend(made)
        reactor.add_signal_handler(signal.SIGUSR1, print)
        reactor.add_signal_handler(signal.SIGUSR2, print)
        reactor.call_later(LONG, print)

    gc.collect()
    before = fd_count()
    try:
        caught = _collected_warnings(make, 1)
        assert [str(w.message).split(" <")[0] for w in caught] == ["unclosed Reactor"]
        for client in clients:   # the streams closed: each peer sees the end
            client.settimeout(LONG)
            assert client.recv(1) == b""
        assert fd_count() == before + len(clients)
        assert signal.set_wakeup_fd(-1) == -1
        assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    finally:
        for client in clients:
            client.close()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def test_unclosed_reactor_warning_names_the_reactor(reactor_backend):
    caught = _collected_warnings(lambda: Reactor(reactor_backend), 1)
    assert len(caught) == 1
    assert f"backend={reactor_backend}" in str(caught[0].message)
    assert caught[0].source is not None


def test_closed_reactor_is_collected_without_a_warning(reactor_backend):
    def make():
        reactor = Reactor(reactor_backend)
        reactor.listen_tcp(lambda: None, "127.0.0.1", 0)
        reactor.close()

    assert _collected_warnings(make, 10) == []


def test_reactor_whose_init_failed_is_collected_without_a_warning():
    def make():
        with pytest.raises(ValueError):
            Reactor("kqueue")

    assert _collected_warnings(make, 1) == []


def test_unclosed_reactor_with_a_pending_connect_closes_its_socket(reactor_backend):
    # A connect that has not completed holds a socket of the reactor's own.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def make():
            reactor = Reactor(reactor_backend)
            reactor.connect_tcp(lambda: None, "127.0.0.1", listener.getsockname()[1])

        gc.collect()
        before = fd_count()
        caught = _collected_warnings(make, 1)
        assert [str(w.message).split(" <")[0] for w in caught] == ["unclosed Reactor"]
        assert fd_count() == before


def test_reactor_close_closes_a_pending_connect(reactor_backend):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        gc.collect()
        before = fd_count()
        reactor = Reactor(reactor_backend)
        with_reactor = fd_count()
        reactor.connect_tcp(lambda: None, "127.0.0.1", listener.getsockname()[1])
        assert fd_count() == with_reactor + 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            reactor.close()   # closes it: the collector finds nothing to warn about
            gc.collect()
        assert [str(w.message) for w in caught] == []
        assert fd_count() == before


def test_collecting_an_unclosed_reactor_leaves_another_running_one_alone(reactor):
    server, (client,), (protocol,) = serve_clients(reactor, 1)
    _collected_warnings(lambda: Reactor(reactor.backend), 5)
    client.sendall(b"ping")
    run_until(reactor, lambda: protocol.data == b"ping")
    client.close()
