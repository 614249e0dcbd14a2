"""add_reader, add_writer, remove_reader, remove_writer, on both loops (and every pymux backend)."""
import socket

import pytest

# A representative part of the suite: on every pymux backend (conftest.py).
pytestmark = pytest.mark.every_backend


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


def test_reader_runs_when_data_arrives_with_its_args(aio_loop, pair):
    a, b = pair
    got = []

    def on_readable(tag):
        got.append((tag, a.recv(100)))
        aio_loop.stop()

    aio_loop.add_reader(a.fileno(), on_readable, "tag")
    aio_loop.call_later(0.01, b.send, b"ping")
    aio_loop.run_forever()
    assert got == [("tag", b"ping")]
    assert aio_loop.remove_reader(a.fileno()) is True


def test_reader_accepts_a_file_object(aio_loop, pair):
    a, b = pair
    got = []
    aio_loop.add_reader(a, lambda: (got.append(a.recv(100)), aio_loop.stop()))
    b.send(b"x")
    aio_loop.run_forever()
    assert got == [b"x"]
    assert aio_loop.remove_reader(a) is True


def test_reader_is_level_triggered(aio_loop, pair):
    a, b = pair
    calls = []

    def on_readable():
        calls.append(1)
        if len(calls) == 3:
            aio_loop.stop()

    aio_loop.add_reader(a.fileno(), on_readable)
    b.send(b"unread")          # never read: reported every iteration
    aio_loop.run_forever()
    assert len(calls) == 3
    aio_loop.remove_reader(a.fileno())


def test_writer_runs_when_writable(aio_loop, pair):
    a, _ = pair
    calls = []
    aio_loop.add_writer(a.fileno(), lambda: (calls.append(1), aio_loop.stop()))
    aio_loop.run_forever()
    assert calls == [1]
    assert aio_loop.remove_writer(a.fileno()) is True


def test_reader_and_writer_on_one_fd_are_independent(aio_loop, pair):
    a, b = pair
    seen = []
    aio_loop.add_writer(a.fileno(), lambda: seen.append("w"))
    aio_loop.add_reader(a.fileno(), lambda: seen.append("r"))
    aio_loop.remove_writer(a.fileno())
    b.send(b"x")
    aio_loop.call_later(0.01, aio_loop.stop)
    aio_loop.run_forever()
    assert "r" in seen and "w" not in seen
    aio_loop.remove_reader(a.fileno())


def test_a_reader_removed_by_another_ready_in_the_same_iteration_is_not_called(aio_loop, pair):
    a, b = pair
    c, d = socket.socketpair()
    try:
        seen = []

        def remove_other(me, other):
            seen.append(me)
            aio_loop.remove_reader(other.fileno())
            aio_loop.remove_reader(me.fileno())

        # Both are readable in one batch; whichever runs first removes the
        # other, whose handle is then cancelled and must not run.
        aio_loop.add_reader(a.fileno(), remove_other, a, c)
        aio_loop.add_reader(c.fileno(), remove_other, c, a)
        b.send(b"x")
        d.send(b"x")
        aio_loop.call_later(0.02, aio_loop.stop)
        aio_loop.run_forever()
        assert len(seen) == 1
    finally:
        c.close()
        d.close()


def test_replacing_a_reader_runs_only_the_new_one(aio_loop, pair):
    a, b = pair
    seen = []
    aio_loop.add_reader(a.fileno(), lambda: seen.append("old"))
    aio_loop.add_reader(a.fileno(), lambda: (seen.append("new"), aio_loop.stop()))
    b.send(b"x")
    aio_loop.run_forever()
    assert seen == ["new"]
    aio_loop.remove_reader(a.fileno())


def test_remove_without_a_watcher_returns_false(aio_loop, pair):
    a, _ = pair
    assert aio_loop.remove_reader(a.fileno()) is False
    assert aio_loop.remove_writer(a.fileno()) is False


def test_invalid_fds_raise_value_error(aio_loop):
    with pytest.raises(ValueError):
        aio_loop.add_reader(-1, print)
    with pytest.raises(ValueError):
        aio_loop.add_writer(-5, print)


def test_a_non_socket_object_raises_value_error(aio_loop):
    with pytest.raises(ValueError):
        aio_loop.add_reader("not a file", print)


def test_an_fd_that_is_not_open_is_refused_by_epoll_and_uring_only(aio_loop, aio_backend, pair):
    # poll and select keep fd numbers without asking the kernel (the stdlib's
    # PollSelector and SelectSelector too): only a wait would find it closed.
    # uring checks the fd at once, as epoll_ctl does.
    a, _ = pair
    fd = a.fileno()
    a.detach()
    import os
    os.close(fd)
    if aio_backend.startswith("epoll") or aio_backend == "uring":
        with pytest.raises(OSError):
            aio_loop.add_reader(fd, print)
        assert aio_loop.remove_reader(fd) is False
    else:
        aio_loop.add_reader(fd, print)
        assert aio_loop.remove_reader(fd) is True


def test_a_regular_file_is_refused_by_epoll_and_always_ready_for_poll_and_select(
        aio_loop, aio_backend, tmp_path):
    # uring serves watchers through an epoll instance: epoll's answer.
    with open(tmp_path / "f", "w") as f:
        if aio_backend.startswith("epoll") or aio_backend == "uring":
            with pytest.raises(PermissionError):
                aio_loop.add_reader(f.fileno(), print)
            return
        aio_loop.add_reader(f.fileno(), aio_loop.stop)
        aio_loop.run_forever()   # stopped by the reader, at once
        assert aio_loop.remove_reader(f.fileno())


def test_reader_exception_goes_to_the_handler(aio_loop, pair, handler_contexts):
    a, b = pair

    def fails():
        aio_loop.remove_reader(a.fileno())
        aio_loop.stop()
        raise RuntimeError("reader failed")

    aio_loop.add_reader(a.fileno(), fails)
    b.send(b"x")
    aio_loop.run_forever()
    assert isinstance(handler_contexts[0]["exception"], RuntimeError)
    assert "handle" in handler_contexts[0]


def test_closed_loop_refuses_add_reader_and_remove_returns_false(aio_loop, pair):
    a, _ = pair
    aio_loop.close()
    with pytest.raises(RuntimeError):
        aio_loop.add_reader(a.fileno(), print)
    assert aio_loop.remove_reader(a.fileno()) is False
