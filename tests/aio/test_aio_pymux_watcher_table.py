"""pymux.aio only: the WatcherTable that stands in for asyncio's selector
(its short paths for int fds) gives the stdlib selector's results and
exceptions, call for call."""
import selectors
import socket

import pytest

import pymux.aio

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


def outcome(call):
    """A key's fields (and type), a plain result, or the exception's type and text."""
    try:
        result = call()
    except Exception as exc:
        return type(exc), str(exc)
    if isinstance(result, tuple):
        return type(result), tuple(result)
    return result


@pytest.fixture
def tables():
    """(pymux WatcherTable, stdlib EpollSelector); both closed after."""
    loop = pymux.aio.Loop()
    stdlib = selectors.EpollSelector()
    try:
        yield loop._selector, stdlib
    finally:
        loop.close()
        stdlib.close()


@pytest.fixture
def socks():
    pair = socket.socketpair()
    yield pair
    for s in pair:
        s.close()


def same(tables, method, *args):
    """Calls `method` on both tables; asserts the same outcome."""
    ours, theirs = (outcome(lambda t=t: getattr(t, method)(*args)) for t in tables)
    assert ours == theirs, (method, args)
    return ours


def test_int_fds_and_file_objects_register_look_up_modify_and_unregister_alike(tables, socks):
    a, b = socks
    fa, fb = a.fileno(), b.fileno()
    same(tables, "register", fa, READ, "a")
    same(tables, "register", b, WRITE, "b")       # a file object
    for fileobj in (fa, a, fb, b):
        same(tables, "get_key", fileobj)
    same(tables, "modify", fa, READ | WRITE, "a2")
    same(tables, "modify", fa, READ | WRITE, "a3")   # data only
    same(tables, "modify", b, READ, "b2")
    same(tables, "get_key", fa)
    same(tables, "unregister", fa)
    same(tables, "unregister", b)
    same(tables, "register", fa, WRITE, None)       # registered again after removal
    same(tables, "get_key", fa)


@pytest.mark.parametrize("fileobj", [-1, "not a file", 10**6, True, 3.0])
def test_bad_or_unknown_fds_raise_the_same_exceptions(tables, fileobj):
    for method, args in (("get_key", ()), ("unregister", ()), ("modify", (READ,)),
                         ("register", (0,)), ("register", (8,))):
        same(tables, method, fileobj, *args)


def test_registering_twice_and_bad_events_raise_the_same_exceptions(tables, socks):
    a, _ = socks
    fa = a.fileno()
    same(tables, "register", fa, READ)
    assert same(tables, "register", fa, WRITE)[0] is KeyError
    assert same(tables, "register", a, WRITE)[0] is KeyError
    same(tables, "unregister", fa)
    assert same(tables, "unregister", fa)[0] is KeyError
    assert same(tables, "get_key", fa)[0] is KeyError


def test_modify_refuses_events_that_are_not_read_or_write(tables, socks):
    # Where the table differs on purpose: the stdlib's epoll selector keeps
    # a registration with no events (asyncio never asks for one); for the C
    # loop, no events means no watcher.
    table, _ = tables
    a, _ = socks
    table.register(a.fileno(), READ)
    for events in (0, 4, READ | 4):
        with pytest.raises(ValueError, match="Invalid events"):
            table.modify(a.fileno(), events)
    assert table.get_key(a.fileno()).events == READ


def test_a_closed_table_raises_what_a_closed_selector_raises(socks):
    a, _ = socks
    loop = pymux.aio.Loop()
    tables = loop._selector, selectors.EpollSelector()
    tables[0].register(a.fileno(), READ)
    tables[1].register(a.fileno(), READ)
    loop.close()   # closes its table
    tables[1].close()
    assert same(tables, "get_key", a.fileno())[0] is RuntimeError
    assert same(tables, "get_key", a)[0] is RuntimeError
