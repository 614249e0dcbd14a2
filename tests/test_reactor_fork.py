"""fork() with a Reactor: the child may only close() the parent's reactor
(or leave it), and nothing it does changes the parent's kernel state: the
epoll instance, the eventfd and the sockets are shared across fork. Every
other call in the child raises RuntimeError naming fork(); the child makes
its own Reactor if it wants one.

Each test forks a child that does one thing with the reactor, then checks
that the parent still accepts, still serves its open connection, and is
idle when idle (a child's watcher on a shared epoll made it spin).
"""
import os
import signal
import socket

import pytest

from pymux.reactor import Reactor
from reactor_helpers import LONG, receive_while_running, run_a_little, run_until, serve_clients

IDLE_SECONDS = 1.0
IDLE_ITERATIONS = 20   # an idle loop wakes once, for its timer; a spinning one, thousands


def in_child(work):
    """Fork; the child runs work() and reports what it returns (or raised)
    through a pipe, then _exits (or is killed by SIGALRM after LONG seconds:
    a hung child reports nothing). Returns the report."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: never return into pytest
        report = "nothing"
        try:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(int(LONG))
            os.close(r)
            report = work()
        except BaseException as exc:   # noqa: BLE001: reported to the parent
            report = f"raised {exc!r}"
        finally:
            os.write(w, str(report).encode())
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as pipe:
        report = pipe.read().decode()
    os.waitpid(pid, 0)
    return report


@pytest.fixture
def serving(reactor):
    """The parent: a reactor with a listener, one open connection and a
    pending timer, all registered with the backend, as a child inherits it.
    Yields (reactor, Parent)."""
    server, clients, protocols = serve_clients(reactor, 1)
    timer = reactor.call_later(LONG, print)
    run_a_little(reactor)   # the new stream's registration is applied
    yield reactor, Parent(server, clients, protocols, timer)
    for client in clients:
        client.close()


class Parent:
    """What the parent's reactor serves: `server`, whose connections are
    `clients` (the test's ends) and `protocols` (the reactor's), and a
    pending `timer`."""

    def __init__(self, server, clients, protocols, timer):
        self.server = server
        self.clients = clients
        self.protocols = protocols
        self.timer = timer

    @property
    def transport(self):
        return self.protocols[0].transport


def _parent_still_serves(reactor, parent):
    old_client, old = parent.clients[0], parent.protocols[0]
    old_client.sendall(b"old connection")
    run_until(reactor, lambda: old.data == b"old connection")
    old.transport.write(b"reply")
    assert receive_while_running(reactor, old_client, 5) == b"reply"
    # The same listener still accepts.
    parent.clients.append(socket.create_connection(parent.server.sockname, timeout=LONG))
    run_until(reactor, lambda: len(parent.protocols) == len(parent.clients))
    parent.clients[-1].sendall(b"new connection")
    run_until(reactor, lambda: parent.protocols[-1].data == b"new connection")


def _parent_is_idle(reactor):
    iterations = []
    reactor.run_until(lambda: iterations.append(1), timeout=IDLE_SECONDS)
    assert len(iterations) < IDLE_ITERATIONS


def test_child_closing_its_copy_leaves_the_parent_serving(serving):
    # Issue 9 item 6: the child's close() unregistered the parent's
    # listener from the shared epoll instance; it never accepted again.
    reactor, parent = serving

    def close_in_child():
        fds = len(os.listdir("/proc/self/fd"))
        reactor.close()
        return f"closed {fds - len(os.listdir('/proc/self/fd'))} fds"

    report = in_child(close_in_child)
    assert report.startswith("closed "), report
    assert int(report.split()[1]) >= 3   # its copies of the listener and stream, at least
    _parent_still_serves(reactor, parent)
    _parent_is_idle(reactor)


def test_child_exiting_without_closing_leaves_the_parent_serving(serving):
    reactor, parent = serving
    assert in_child(lambda: "exiting") == "exiting"
    _parent_still_serves(reactor, parent)
    _parent_is_idle(reactor)


def test_child_adding_a_reader_is_refused_and_the_parent_stays_idle(serving, socketpair):
    # Issue 9 item 6: the child's watcher went into the shared epoll
    # instance for an fd the parent also holds: the parent spun at 100% CPU.
    reactor, parent = serving
    a, b = socketpair()
    b.send(b"always readable")
    report = in_child(lambda: reactor.add_reader(a, print))
    assert report.startswith("raised RuntimeError") and "fork()" in report, report
    _parent_is_idle(reactor)
    _parent_still_serves(reactor, parent)


def _every_call_but_close(reactor, parent):
    return {
        "call_soon": lambda: reactor.call_soon(print),
        "call_soon_threadsafe": lambda: reactor.call_soon_threadsafe(print),
        "call_later": lambda: reactor.call_later(1, print),
        "add_reader": lambda: reactor.add_reader(0, print),
        "add_writer": lambda: reactor.add_writer(1, print),
        "remove_reader": lambda: reactor.remove_reader(0),
        "add_signal_handler": lambda: reactor.add_signal_handler(10, print),
        "listen_tcp": lambda: reactor.listen_tcp(lambda: None, "127.0.0.1", 0),
        "connect_tcp": lambda: reactor.connect_tcp(lambda: None, "127.0.0.1", 9),
        "run_forever": reactor.run_forever,
        "run_until": lambda: reactor.run_until(lambda: False, timeout=0.01),
        "transport.write": lambda: parent.transport.write(b"from the child"),
        "transport.pause_reading": parent.transport.pause_reading,
        "transport.write_eof": parent.transport.write_eof,
        "transport.close": parent.transport.close,
        "server.close": parent.server.close,
        "timer.cancel": parent.timer.cancel,
    }


def test_every_call_but_close_raises_runtime_error_naming_fork_in_the_child(serving):
    reactor, parent = serving
    names = sorted(_every_call_but_close(reactor, parent))

    def try_each():
        outcomes = []
        for name in names:
            try:
                _every_call_but_close(reactor, parent)[name]()
                outcomes.append(f"{name}: returned")
            except RuntimeError as exc:
                outcomes.append(f"{name}: {'refused' if 'fork()' in str(exc) else exc}")
        reactor.close()
        return "\n".join(outcomes)

    assert in_child(try_each).splitlines() == [f"{name}: refused" for name in names]
    parent.clients[0].settimeout(0.2)
    with pytest.raises(socket.timeout):  # the child wrote nothing, closed nothing (3.9: not TimeoutError)
        parent.clients[0].recv(100)
    _parent_still_serves(reactor, parent)
    _parent_is_idle(reactor)


def test_child_makes_and_runs_a_reactor_of_its_own(serving):
    reactor, parent = serving

    def own_reactor():
        reactor.close()
        mine = Reactor(reactor.backend)
        ran = []
        mine.call_later(0.01, ran.append, "timer")
        mine.run_until(lambda: ran, timeout=LONG)
        mine.close()
        return ",".join(ran)

    assert in_child(own_reactor) == "timer"
    _parent_still_serves(reactor, parent)
