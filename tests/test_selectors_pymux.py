"""pymux.selectors behaviour the stdlib does not have: edge-triggered
EpollSelector, refusing ET elsewhere, refusing overlapping selects, and the
documented limits, thread safety. (Everything the stdlib has is compared with it in
test_selectors_contract.py and test_selectors_stateful.py.)"""

import contextlib
import errno
import random
import selectors as std_selectors
import threading
import time

import pytest

import pymux.selectors as mux_selectors
from pymux.selectors import EVENT_READ, EVENT_WRITE


def _drain(sock):
    total = 0
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return total
            total += len(chunk)
    except BlockingIOError:
        return total


@pytest.fixture
def et_selector():
    sel = mux_selectors.EpollSelector(edge_triggered=True)
    yield sel
    sel.close()


def test_keys_are_stdlib_selector_keys():
    with mux_selectors.PollSelector() as sel:
        key = sel.register(0, EVENT_READ)
        assert type(key) is std_selectors.SelectorKey


def test_level_triggered_is_the_default():
    with mux_selectors.EpollSelector() as sel:
        assert sel.edge_triggered is False


# --- edge-triggered mode ---------------------------------------------------------

def test_edge_triggered_selector_says_so(et_selector):
    assert et_selector.edge_triggered is True


def test_default_selector_accepts_edge_triggered():
    with mux_selectors.DefaultSelector(edge_triggered=True) as sel:
        assert sel.edge_triggered


@pytest.mark.parametrize("cls", ["SelectSelector", "PollSelector"])
def test_select_and_poll_selectors_refuse_edge_triggered_with_value_error(cls):
    with pytest.raises(ValueError, match="edge-triggered"):
        getattr(mux_selectors, cls)(edge_triggered=True)


@pytest.mark.parametrize("cls", ["SelectSelector", "PollSelector", "EpollSelector"])
def test_every_selector_accepts_edge_triggered_false(cls):
    getattr(mux_selectors, cls)(edge_triggered=False).close()


@pytest.mark.parametrize("read", [0, 1], ids=["nothing-read", "partial-read"])
def test_edge_triggered_reports_readable_once_per_arrival(et_selector, socketpair, read):
    rd, wr = socketpair()
    key = et_selector.register(rd, EVENT_READ)
    wr.send(b"hello")
    assert et_selector.select(1.0) == [(key, EVENT_READ)]
    assert rd.recv(read) == b"hello"[:read]   # data left: no new edge
    assert et_selector.select(0) == []


def test_edge_triggered_reports_again_when_new_data_arrives(et_selector, socketpair):
    rd, wr = socketpair()
    key = et_selector.register(rd, EVENT_READ)
    wr.send(b"one")
    assert et_selector.select(1.0) == [(key, EVENT_READ)]
    assert _drain(rd) == 3
    wr.send(b"two")
    assert et_selector.select(1.0) == [(key, EVENT_READ)]


def test_edge_triggered_reports_writable_once(et_selector, socketpair):
    rd, _ = socketpair()
    key = et_selector.register(rd, EVENT_WRITE)
    assert et_selector.select(0) == [(key, EVENT_WRITE)]
    assert et_selector.select(0) == []


def test_edge_triggered_modify_rearms_the_fd(et_selector, socketpair):
    # The kernel re-checks readiness on EPOLL_CTL_MOD: a changed interest
    # reports what is ready now, drained or not.
    rd, wr = socketpair()
    et_selector.register(rd, EVENT_READ)
    wr.send(b"x")
    assert et_selector.select(1.0)
    key = et_selector.modify(rd, EVENT_READ | EVENT_WRITE)
    assert et_selector.select(0) == [(key, EVENT_READ | EVENT_WRITE)]


def test_level_triggered_keeps_reporting_undrained_data(socketpair):
    rd, wr = socketpair()
    with mux_selectors.EpollSelector() as sel:
        key = sel.register(rd, EVENT_READ)
        wr.send(b"x")
        assert sel.select(0) == [(key, EVENT_READ)]
        assert sel.select(0) == [(key, EVENT_READ)]


def test_edge_triggered_delivers_every_byte_when_drained_to_eagain(et_selector, socketpair):
    rd, wr = socketpair()
    et_selector.register(rd, EVENT_READ)
    payload = b"y" * (1 << 20)
    sender = threading.Thread(target=wr.sendall, args=(payload,))
    wr.setblocking(True)
    sender.start()
    received = 0
    deadline = time.monotonic() + 10
    while received < len(payload) and time.monotonic() < deadline:
        for _key, _events in et_selector.select(0.5):
            received += _drain(rd)
    sender.join()
    assert received == len(payload)


# --- documented differences ------------------------------------------------------

@pytest.mark.parametrize("cls", ["PollSelector", "EpollSelector"])
def test_poll_like_selectors_refuse_fds_that_cannot_be_open_with_ebadf(cls):
    with getattr(mux_selectors, cls)() as sel:
        with pytest.raises(OSError) as info:
            sel.register(1 << 20, EVENT_READ)
        assert info.value.errno == errno.EBADF
        assert len(sel.get_map()) == 0


def wait_until_asleep_in_a_wait(thread):
    """Return once ``thread`` sleeps in the kernel other than on a futex (the
    GIL, a lock): in these tests, inside select(); fail after 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/self/task/{thread.native_id}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
        with open(f"/proc/self/task/{thread.native_id}/wchan") as f:
            wchan = f.read()
        if state == "S" and wchan not in ("", "0") and "futex" not in wchan:
            return
        time.sleep(0.001)
    pytest.fail(f"the thread never went to sleep in a wait (wchan {wchan!r})")


@pytest.mark.parametrize("cls", ["SelectSelector", "PollSelector", "EpollSelector"])
def test_overlapping_selects_from_two_threads_raise_runtime_error(cls, socketpair):
    rd, wr = socketpair()
    with getattr(mux_selectors, cls)() as sel:
        sel.register(rd, EVENT_READ)
        waiter = threading.Thread(target=sel.select, args=(5,))
        waiter.start()
        try:
            wait_until_asleep_in_a_wait(waiter)
            with pytest.raises(RuntimeError, match="already running"):
                sel.select(0)
        finally:
            wr.send(b"x")
            waiter.join()
        assert sel.select(0)    # usable again once the first returned


def test_select_works_from_another_thread_after_the_first_returns(socketpair):
    rd, wr = socketpair()
    results = []
    with mux_selectors.EpollSelector() as sel:
        key = sel.register(rd, EVENT_READ)
        wr.send(b"x")
        worker = threading.Thread(target=lambda: results.append(sel.select(1.0)))
        worker.start()
        worker.join()
        assert results == [[(key, EVENT_READ)]]
        assert sel.select(0) == [(key, EVENT_READ)]


def test_unregister_from_another_thread_during_select_is_safe(socketpair):
    # Registrations change while a wait runs: no crash, and an fd that was
    # unregistered meanwhile is never reported.
    pairs = [socketpair() for _ in range(20)]
    with mux_selectors.EpollSelector() as sel:
        for rd, _ in pairs:
            sel.register(rd, EVENT_READ)
        stop = time.monotonic() + 0.3

        def churn():
            while time.monotonic() < stop:
                for rd, wr in pairs:
                    sel.unregister(rd)
                    _drain(rd)
                    wr.send(b"x")
                    sel.register(rd, EVENT_READ)

        worker = threading.Thread(target=churn)
        worker.start()
        try:
            while time.monotonic() < stop:
                for key, events in sel.select(0.01):
                    assert events == EVENT_READ
                    assert key.fileobj in {rd for rd, _ in pairs}
        finally:
            worker.join()


def _in_select_on_another_thread(sel, wake):
    """Context: a thread blocked in sel.select(5) until wake() is called."""

    @contextlib.contextmanager
    def running():
        waiter = threading.Thread(target=sel.select, args=(5,))
        waiter.start()
        try:
            wait_until_asleep_in_a_wait(waiter)
            yield
        finally:
            wake()
            waiter.join()
    return running()


@pytest.mark.parametrize("cls", ["SelectSelector", "PollSelector", "EpollSelector"])
def test_every_selector_accepts_changes_during_select_in_another_thread(cls, socketpair):
    rd, wr = socketpair()
    other, _ = socketpair()
    with getattr(mux_selectors, cls)() as sel:
        sel.register(rd, EVENT_READ)
        with _in_select_on_another_thread(sel, lambda: wr.send(b"x")):
            sel.register(other, EVENT_WRITE)
            sel.modify(other, EVENT_READ)
            sel.unregister(other)
        assert [k.fd for k, _ in sel.select(0)] == [rd.fileno()]


def _raised_by_select(sel):
    try:
        sel.select(0)
    except (ValueError, OverflowError) as exc:
        return type(exc)
    return None


def test_select_selector_raises_for_the_unselectable_fd_the_stdlib_meets_first():
    # With several unselectable fds, which error select() raises depends on
    # the order the stdlib's reader and writer sets iterate in: on CPython
    # their whole add/discard history, on PyPy insertion order. Random
    # histories of registrations (never-opened fd numbers: the error comes
    # before any system call), compared with the stdlib after each step.
    rng = random.Random(10)
    numbers = [*range(1024, 1040), *range(2**31, 2**31 + 8), 2**70]
    for _ in range(60):
        std, mux = std_selectors.SelectSelector(), mux_selectors.SelectSelector()
        for _ in range(40):
            fd = rng.choice(numbers)
            events = rng.choice([EVENT_READ, EVENT_WRITE, EVENT_READ | EVENT_WRITE])
            if fd not in std.get_map():
                op = ("register", fd, events)
            else:
                op = rng.choice([("unregister", fd), ("modify", fd, events)])
            for sel in (std, mux):
                getattr(sel, op[0])(*op[1:])
            assert _raised_by_select(mux) is _raised_by_select(std), op
            assert list(mux.get_map()) == list(std.get_map())
