"""Lifetimes of the objects of pymux.select and pymux.selectors that hold C
memory (epoll and poll objects, the three selectors): used after close(),
closed or dropped while another thread waits on them, collected without
close(). Every test runs against the stdlib too, so each call gets the
stdlib's answer; CI also runs this file with the extension built under
AddressSanitizer, so a touch of freed memory fails it.
"""
import errno
import gc
import os
import select as std_select
import selectors as std_selectors
import threading
import time

import pytest

import pymux.select as mux_select
import pymux.selectors as mux_selectors

MODULES = {"stdlib": (std_select, std_selectors), "pymux": (mux_select, mux_selectors)}
CLOSED_EPOLL = "I/O operation on closed epoll object"


class Kind:
    """One kind of object, used the same way whatever its API: made,
    watching a socket for reading, waited on for `timeout` seconds."""

    def __init__(self, name, module):
        self.name = name
        self.select, self.selectors = MODULES[module]

    def make(self):
        if self.name in ("epoll", "poll"):
            return getattr(self.select, self.name)()
        return getattr(self.selectors, self.name)()

    def watch(self, obj, sock):
        if self.name == "epoll":
            obj.register(sock, self.select.EPOLLIN)
        elif self.name == "poll":
            obj.register(sock, self.select.POLLIN)
        else:
            obj.register(sock, std_selectors.EVENT_READ)

    def wait(self, obj, timeout):
        if self.name == "epoll":
            return obj.poll(timeout)
        if self.name == "poll":
            return obj.poll(timeout * 1000)
        return obj.select(timeout)

    def kernel_fd(self, obj):
        """The fd of obj's own kernel object, or None."""
        return obj.fileno() if self.name in ("epoll", "EpollSelector") else None

    def ready_fds(self, result):
        if self.name in ("epoll", "poll"):
            return [fd for fd, _ in result]
        return [key.fd for key, _ in result]

    def __repr__(self):
        return self.name


KINDS = ["epoll", "poll", "SelectSelector", "PollSelector", "EpollSelector"]
CLOSABLE = [k for k in KINDS if k != "poll"]
WITH_AN_FD = ["epoll", "EpollSelector"]


def _kinds(names):
    return pytest.mark.parametrize("kind", [
        pytest.param(Kind(name, module), id=f"{module}-{name}")
        for name in names for module in MODULES])


def _is_an_open_epoll(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[eventpoll]"
    except FileNotFoundError:
        return False


def _closed_outcome(exc):
    """Whether exc is what a wait on an object closed under it may raise:
    ValueError for a closed epoll, or EBADF from the kernel."""
    if isinstance(exc, ValueError):
        return str(exc) == CLOSED_EPOLL
    return isinstance(exc, OSError) and exc.errno == errno.EBADF


class Waiter(threading.Thread):
    """A thread that waits on obj once and keeps what happened."""

    def __init__(self, kind, obj, timeout):
        super().__init__()
        self.kind, self.obj, self.timeout = kind, obj, timeout
        self.result = self.error = None

    def run(self):
        obj, self.obj = self.obj, None    # only this frame holds it now
        try:
            self.result = self.kind.wait(obj, self.timeout)
        except Exception as exc:    # noqa: BLE001 - the test looks at it
            self.error = exc


# --- closed while another thread waits ----------------------------------------

@_kinds(CLOSABLE)
def test_closed_while_another_thread_waits_the_wait_ends_cleanly(kind, socketpair):
    rd, _ = socketpair()
    obj = kind.make()
    kind.watch(obj, rd)
    waiter = Waiter(kind, obj, 0.3)
    waiter.start()
    time.sleep(0.05)
    obj.close()
    waiter.join()
    assert waiter.result == [] or _closed_outcome(waiter.error), waiter.error
    if kind.name in WITH_AN_FD:
        with pytest.raises(ValueError, match=CLOSED_EPOLL):
            kind.wait(obj, 0)
    else:
        assert kind.wait(obj, 0) == []


@_kinds(["epoll"])
def test_epoll_closed_while_two_threads_wait_on_it_both_waits_end_cleanly(kind, socketpair):
    rd, _ = socketpair()
    ep = kind.make()
    kind.watch(ep, rd)
    waiters = [Waiter(kind, ep, 0.3) for _ in range(2)]
    for waiter in waiters:
        waiter.start()
    time.sleep(0.05)
    ep.close()
    for waiter in waiters:
        waiter.join()
        assert waiter.result == [] or _closed_outcome(waiter.error), waiter.error


# --- dropped while another thread waits ---------------------------------------

@_kinds(KINDS)
def test_dropped_while_another_thread_waits_it_lives_until_the_wait_ends(kind, socketpair):
    rd, wr = socketpair()
    obj = kind.make()
    kind.watch(obj, rd)
    fd = kind.kernel_fd(obj)
    waiter = Waiter(kind, obj, 5)
    del obj
    waiter.start()
    time.sleep(0.05)
    gc.collect()
    wr.send(b"x")
    waiter.join()
    assert waiter.error is None
    assert kind.ready_fds(waiter.result) == [rd.fileno()]
    gc.collect()
    if fd is not None:
        assert not _is_an_open_epoll(fd)


@_kinds(KINDS)
def test_a_bound_wait_method_keeps_its_object_alive(kind, socketpair):
    rd, wr = socketpair()
    obj = kind.make()
    kind.watch(obj, rd)
    wait = obj.poll if kind.name in ("epoll", "poll") else obj.select
    del obj
    gc.collect()
    wr.send(b"x")
    assert len(wait(0)) == 1


@_kinds(["SelectSelector", "PollSelector", "EpollSelector"])
def test_a_selectors_map_keeps_working_after_the_selector_is_dropped(kind, socketpair):
    rd, _ = socketpair()
    sel = kind.make()
    kind.watch(sel, rd)
    mapping = sel.get_map()
    del sel
    gc.collect()
    assert len(mapping) == 1
    assert mapping[rd].fd == rd.fileno()


# --- collected without close() ------------------------------------------------

@_kinds(WITH_AN_FD)
def test_collected_without_close_releases_its_kernel_object(kind, socketpair):
    rd, _ = socketpair()
    obj = kind.make()
    kind.watch(obj, rd)
    fd = kind.kernel_fd(obj)
    assert _is_an_open_epoll(fd)
    del obj
    gc.collect()
    assert not _is_an_open_epoll(fd)


@_kinds(KINDS)
def test_many_objects_made_and_dropped_with_registrations_leak_no_fds(kind, socketpair):
    rd, _ = socketpair()
    for _ in range(3):   # PyPy: earlier tests' garbage, freed in turns
        gc.collect()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(200):
        obj = kind.make()
        kind.watch(obj, rd)
        kind.wait(obj, 0)
        del obj
    for _ in range(3):
        gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before


# --- used after close() -------------------------------------------------------

def _outcome(call):
    try:
        result = call()
    except Exception as exc:    # noqa: BLE001 - compared with the stdlib's
        return type(exc), getattr(exc, "errno", None)
    return "returned", None if result is None else type(result)


SELECTOR_CALLS = {
    "register": lambda sel, sock: sel.register(sock, std_selectors.EVENT_WRITE),
    "unregister": lambda sel, sock: sel.unregister(sock),
    "modify": lambda sel, sock: sel.modify(sock, std_selectors.EVENT_WRITE),
    "select": lambda sel, sock: sel.select(0),
    "get_key": lambda sel, sock: sel.get_key(sock),
    "get_map": lambda sel, sock: sel.get_map(),
    "close": lambda sel, sock: sel.close(),
}


@pytest.mark.parametrize("call", SELECTOR_CALLS.values(), ids=SELECTOR_CALLS.keys())
@pytest.mark.parametrize("cls", ["SelectSelector", "PollSelector", "EpollSelector"])
def test_a_closed_selector_answers_each_call_as_the_stdlibs_does(cls, call, socketpair):
    rd, wr = socketpair()
    outcomes = []
    for select_module, selectors_module in MODULES.values():
        sel = getattr(selectors_module, cls)()
        sel.register(rd, std_selectors.EVENT_READ)
        sel.close()
        outcomes.append(_outcome(lambda: call(sel, wr)))
        outcomes.append(_outcome(lambda: call(sel, rd)))
    assert outcomes[:2] == outcomes[2:]


EPOLL_CALLS = {
    "register": lambda ep, fd: ep.register(fd),
    "modify": lambda ep, fd: ep.modify(fd, 1),
    "unregister": lambda ep, fd: ep.unregister(fd),
    "poll": lambda ep, fd: ep.poll(0),
    "poll-maxevents": lambda ep, fd: ep.poll(0, 1),
    "fileno": lambda ep, fd: ep.fileno(),
    "closed": lambda ep, fd: ep.closed,
    "enter": lambda ep, fd: ep.__enter__(),
    "exit": lambda ep, fd: ep.__exit__(None, None, None),
    "close": lambda ep, fd: ep.close(),
}


@pytest.mark.parametrize("call", EPOLL_CALLS.values(), ids=EPOLL_CALLS.keys())
def test_a_closed_epoll_answers_each_call_as_the_stdlibs_does(call, socketpair):
    rd, _ = socketpair()
    outcomes = []
    for select_module, _ in MODULES.values():
        ep = select_module.epoll()
        ep.register(rd, select_module.EPOLLIN)
        ep.close()
        outcomes.append(_outcome(lambda: call(ep, rd.fileno())))
    assert outcomes[0] == outcomes[1]


# --- races, many times over (for the sanitizer build) --------------------------

ROUNDS = 100


@_kinds(CLOSABLE)
def test_close_racing_waits_and_registrations_in_other_threads(kind, socketpair):
    rd, wr = socketpair()
    other, _ = socketpair()
    wr.send(b"x")
    unexpected = []

    def churn(obj):
        try:
            for _ in range(20):
                kind.watch(obj, other)
                obj.unregister(other)
        except (ValueError, KeyError, OSError):
            pass    # closed meanwhile: what each kind raises then
        except Exception as exc:    # noqa: BLE001 - the test looks at it
            unexpected.append(exc)

    for _ in range(ROUNDS):
        obj = kind.make()
        kind.watch(obj, rd)
        waiter = Waiter(kind, obj, 0.001)
        churner = threading.Thread(target=churn, args=(obj,))
        waiter.start()
        churner.start()
        obj.close()
        waiter.join()
        churner.join()
        if waiter.error is not None and not _closed_outcome(waiter.error):
            unexpected.append(waiter.error)
        del obj
    gc.collect()
    assert unexpected == []
