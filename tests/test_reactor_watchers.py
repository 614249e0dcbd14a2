"""Reactor fd watchers (add_reader/add_writer) on pipes, and stale events:
a callback that removes (or closes) a watched fd later in the same ready
batch must keep that fd's already-fetched event from being dispatched."""
import os

import pytest

from reactor_helpers import run_a_little, run_until


@pytest.fixture
def pipes():
    """Factory: ``pipes()`` -> (read_fd, write_fd), non-blocking; every fd
    not already closed with ``pipes.close(fd)`` is closed at teardown."""
    made = []

    def make():
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        made.extend((r, w))
        return r, w

    def close(fd):
        made.remove(fd)
        os.close(fd)

    make.close = close
    yield make
    for fd in made:
        os.close(fd)


def test_reader_fires_when_data_is_written(reactor, pipes):
    r, w = pipes()
    got = []
    reactor.add_reader(r, lambda: got.append(os.read(r, 100)))
    run_a_little(reactor)
    assert got == []
    os.write(w, b"hello")
    run_until(reactor, lambda: got)
    assert got == [b"hello"]


def test_reader_passes_its_arguments(reactor, pipes):
    r, w = pipes()
    got = []
    reactor.add_reader(r, lambda *a: (got.append(a), os.read(r, 100)), "x", 2)
    os.write(w, b"!")
    run_until(reactor, lambda: got)
    assert got[0] == ("x", 2)


def test_reader_accepts_an_object_with_fileno(reactor, pipes):
    r, w = pipes()
    got = []

    class File:
        def fileno(self):
            return r

    reactor.add_reader(File(), lambda: got.append(os.read(r, 100)))
    os.write(w, b"obj")
    run_until(reactor, lambda: got)
    assert reactor.remove_reader(File()) is True
    assert got == [b"obj"]


def test_reader_keeps_firing_while_data_is_unread(reactor, pipes):
    r, w = pipes()
    calls = []
    reactor.add_reader(r, calls.append, 1)   # never reads: level-triggered
    os.write(w, b"x")
    run_until(reactor, lambda: len(calls) >= 3)


# kind: (add method, remove method, the pipe end it watches, what makes that end ready)
WATCHERS = {
    "reader": ("add_reader", "remove_reader", 0, lambda r, w: os.write(w, b"data")),
    "writer": ("add_writer", "remove_writer", 1, lambda r, w: None),   # an empty pipe is writable
}


@pytest.mark.parametrize("kind", WATCHERS)
def test_removed_watcher_does_not_fire(reactor, pipes, kind):
    add, remove, end, make_ready = WATCHERS[kind]
    r, w = pipes()
    fd = (r, w)[end]
    got = []
    getattr(reactor, add)(fd, got.append, kind)
    assert getattr(reactor, remove)(fd) is True
    make_ready(r, w)
    run_a_little(reactor)
    assert got == []


@pytest.mark.parametrize("kind", WATCHERS)
def test_remove_watcher_returns_true_once_then_false(reactor, pipes, kind):
    add, remove, end, _ = WATCHERS[kind]
    fd = pipes()[end]
    assert getattr(reactor, remove)(fd) is False
    getattr(reactor, add)(fd, print)
    assert getattr(reactor, remove)(fd) is True
    assert getattr(reactor, remove)(fd) is False


def test_adding_a_reader_again_replaces_the_callback(reactor, pipes):
    r, w = pipes()
    got = []
    reactor.add_reader(r, lambda: got.append(("old", os.read(r, 100))))
    reactor.add_reader(r, lambda: got.append(("new", os.read(r, 100))))
    os.write(w, b"x")
    run_until(reactor, lambda: got)
    run_a_little(reactor)
    assert got == [("new", b"x")]


def test_writer_fires_when_the_pipe_is_writable(reactor, pipes):
    r, w = pipes()
    got = []
    reactor.add_writer(w, lambda: (got.append("writable"), reactor.remove_writer(w)))
    run_until(reactor, lambda: got)
    run_a_little(reactor)
    assert got == ["writable"]


def test_writer_waits_while_the_pipe_is_full_then_fires_once_drained(reactor, pipes):
    r, w = pipes()
    try:
        while True:
            os.write(w, b"\0" * 65536)
    except BlockingIOError:
        pass
    got = []
    reactor.add_writer(w, lambda: (got.append("writable"), reactor.remove_writer(w)))
    run_a_little(reactor)
    assert got == []
    try:
        while os.read(r, 1 << 20):
            pass
    except BlockingIOError:
        pass
    run_until(reactor, lambda: got)
    assert got == ["writable"]




def test_reader_and_writer_on_one_fd_are_independent(reactor, socketpair):
    a, b = socketpair()
    got = []
    reactor.add_reader(a, lambda: got.append(("read", a.recv(100))))
    reactor.add_writer(a, lambda: (got.append(("write",)), reactor.remove_writer(a)))
    run_until(reactor, lambda: ("write",) in got)
    b.send(b"ping")
    run_until(reactor, lambda: ("read", b"ping") in got)
    assert reactor.remove_reader(a) is True
    assert got == [("write",), ("read", b"ping")]


@pytest.mark.parametrize("how", ["remove", "remove_and_close"])
def test_callback_removing_a_reader_later_in_the_same_batch_stops_its_stale_event(
        reactor, pipes, how):
    # Both fds are readable before the loop waits, so one wait reports both;
    # whichever callback runs first removes the other, so exactly one runs.
    fds = [pipes() for _ in range(8)]
    calls = []

    def fire(i):
        calls.append(i)
        for j, (r, _) in enumerate(fds):
            if j != i and reactor.remove_reader(r) and how == "remove_and_close":
                pipes.close(r)
        reactor.remove_reader(fds[i][0])

    for i, (r, w) in enumerate(fds):
        os.write(w, b"x")
        reactor.add_reader(r, fire, i)
    run_until(reactor, lambda: calls)
    run_a_little(reactor)
    assert len(calls) == 1, calls


def test_callback_closing_a_watched_fd_whose_number_is_reused_gets_no_stale_event(
        reactor, pipes):
    # The closed fd's number comes back at once for a new pipe that is
    # watched by nobody; its stale event must not reach anyone.
    (r1, w1), (r2, w2) = pipes(), pipes()
    calls = []
    reused = []

    def fire(name, mine, other):
        calls.append(name)
        if reactor.remove_reader(other):
            pipes.close(other)
            nr, nw = os.pipe()   # likely takes `other`'s number
            reused.extend((nr, nw))
        reactor.remove_reader(mine)

    os.write(w1, b"x")
    os.write(w2, b"x")
    reactor.add_reader(r1, fire, "one", r1, r2)
    reactor.add_reader(r2, fire, "two", r2, r1)
    try:
        run_until(reactor, lambda: calls)
        run_a_little(reactor)
    finally:
        for fd in reused:
            os.close(fd)
    assert len(calls) == 1, calls
