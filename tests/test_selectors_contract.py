"""Contract of the selectors classes, run against the stdlib and pymux.

Modelled on CPython's Lib/test/test_selectors.py: every test takes the
``make_selector`` fixture and so runs once per (module, class) pair, the
stdlib being the oracle (if its run fails, the test is wrong). Behaviour the
stdlib does not have (edge-triggered mode, refused concurrent selects) lives
in test_selectors_pymux.py; the step-by-step comparison in
test_selectors_stateful.py.
"""

import errno
import os
import selectors as std_selectors
import signal
import threading
import time
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from unittest import mock

import pytest

import pymux.selectors as mux_selectors
from pypy_deviations import (CLOSED_EPOLL_WORDING, EPOLL_TIMEOUT_UNCHECKED, SELECT_FD_WORDING,
                             SELECT_TIMEOUT_UNCHECKED, pypy_stdlib_deviates)

MODULES = {"stdlib": std_selectors, "pymux": mux_selectors}
CLASSES = ["SelectSelector", "PollSelector", "EpollSelector"]
EVENT_READ, EVENT_WRITE = std_selectors.EVENT_READ, std_selectors.EVENT_WRITE


def _selector_fixture(classes, doc):
    """A fixture: a factory for selectors of one class, once per (module,
    class) pair with class in `classes`; all closed at teardown."""

    @pytest.fixture(params=[pytest.param((mod, cls), id=f"{mod}-{cls}")
                            for cls in classes for mod in MODULES])
    def fixture(request):
        mod, cls = request.param
        made = []

        def make():
            sel = getattr(MODULES[mod], cls)()
            made.append(sel)
            return sel

        yield make
        for sel in made:
            sel.close()

    fixture.__doc__ = doc
    return fixture


make_selector = _selector_fixture(CLASSES, "Every selector class.")
make_poll_like = _selector_fixture(["PollSelector", "EpollSelector"], "Poll and epoll selectors.")
make_epoll_selector = _selector_fixture(["EpollSelector"], "Epoll selectors only.")
make_select_selector = _selector_fixture(["SelectSelector"], "Select selectors only.")
make_poll_or_select = _selector_fixture(["SelectSelector", "PollSelector"],
                                        "The selectors without a kernel object.")


# --- names ------------------------------------------------------------------

def test_module_exports_the_stdlib_public_names():
    for name in ["BaseSelector", "SelectorKey", "EVENT_READ", "EVENT_WRITE", "SelectSelector",
                 "PollSelector", "EpollSelector", "DefaultSelector"]:
        assert hasattr(mux_selectors, name), name


def test_default_selector_is_epoll_selector():
    assert mux_selectors.DefaultSelector is mux_selectors.EpollSelector
    assert std_selectors.DefaultSelector is std_selectors.EpollSelector


def test_event_constants_equal_the_stdlib_ones():
    assert (mux_selectors.EVENT_READ, mux_selectors.EVENT_WRITE) == (1, 2)


def test_selectors_are_base_selector_instances(make_selector):
    assert isinstance(make_selector(), std_selectors.BaseSelector)


# --- register ---------------------------------------------------------------

def test_register_returns_a_selector_key_with_the_given_fields(make_selector, socketpair):
    s = make_selector()
    rd, _ = socketpair()
    data = object()
    key = s.register(rd, EVENT_READ, data)
    assert isinstance(key, std_selectors.SelectorKey)
    assert key == (rd, rd.fileno(), EVENT_READ, data)
    assert key.fileobj is rd and key.data is data


def test_register_accepts_an_int_fd(make_selector, socketpair):
    s = make_selector()
    rd, _ = socketpair()
    key = s.register(rd.fileno(), EVENT_WRITE)
    assert key == (rd.fileno(), rd.fileno(), EVENT_WRITE, None)


@pytest.mark.parametrize("events", [0, 4, -1, EVENT_READ | 8, None])
def test_register_rejects_invalid_events_with_value_error(make_selector, socketpair, events):
    s = make_selector()
    rd, _ = socketpair()
    with pytest.raises(ValueError, match="Invalid events"):
        s.register(rd, events)
    assert len(s.get_map()) == 0


@pytest.mark.parametrize("events", ["r", 1.0])
def test_register_rejects_events_of_the_wrong_type_with_type_error(make_selector, socketpair, events):
    s = make_selector()
    rd, _ = socketpair()
    with pytest.raises(TypeError):
        s.register(rd, events)


def test_register_twice_raises_key_error(make_selector, socketpair):
    s = make_selector()
    rd, _ = socketpair()
    s.register(rd, EVENT_READ)
    with pytest.raises(KeyError, match="already registered"):
        s.register(rd, EVENT_WRITE)
    with pytest.raises(KeyError):
        s.register(rd.fileno(), EVENT_READ)


def test_register_negative_fd_raises_value_error(make_selector):
    with pytest.raises(ValueError, match="Invalid file descriptor"):
        make_selector().register(-1, EVENT_READ)


@pytest.mark.parametrize("fileobj", ["", 1.5, object()])
def test_register_invalid_file_object_raises_value_error(make_selector, fileobj):
    with pytest.raises(ValueError, match="Invalid file object"):
        make_selector().register(fileobj, EVENT_READ)


def test_register_object_whose_fileno_returns_a_non_number_raises_value_error(make_selector):
    class Bad:
        def fileno(self):
            return "three"
    with pytest.raises(ValueError, match="Invalid file object"):
        make_selector().register(Bad(), EVENT_READ)


def test_register_object_with_fileno_method(make_selector, socketpair):
    rd, _ = socketpair()

    class Wrapper:
        def fileno(self):
            return rd.fileno()

    w = Wrapper()
    key = make_selector().register(w, EVENT_READ)
    assert key.fileobj is w and key.fd == rd.fileno()


@pytest.mark.parametrize("registered,call", [
    pytest.param(False, lambda s, fd: s.register(fd, EVENT_READ), id="register-rolls-back"),
    pytest.param(True, lambda s, fd: s.modify(fd, EVENT_WRITE), id="modify-events-forgets-the-key"),
])
def test_epoll_selector_given_a_closed_fd_raises_ebadf_and_keeps_no_key(make_epoll_selector,
                                                                         socketpair, registered, call):
    s = make_epoll_selector()
    rd, _ = socketpair()
    fd = rd.fileno()
    if registered:
        s.register(fd, EVENT_READ)
    rd.close()
    with pytest.raises(OSError) as info:
        call(s, fd)
    assert info.value.errno == errno.EBADF
    with pytest.raises(KeyError):
        s.get_key(fd)


def test_register_regular_file_on_epoll_raises_permission_error_and_rolls_back(make_epoll_selector):
    s = make_epoll_selector()
    with open(__file__, "rb") as f:
        with pytest.raises(PermissionError):
            s.register(f, EVENT_READ)
        with pytest.raises(KeyError):
            s.get_key(f)


def test_register_fd_too_large_for_c_int_raises_overflow_error(make_poll_like):
    s = make_poll_like()
    with pytest.raises(OverflowError):
        s.register(2**31, EVENT_READ)
    assert len(s.get_map()) == 0


# --- unregister ---------------------------------------------------------------

def test_unregister_returns_the_key_and_forgets_it(make_selector, socketpair):
    s = make_selector()
    rd, _ = socketpair()
    key = s.register(rd, EVENT_READ)
    assert s.unregister(rd) is key
    assert rd not in s.get_map()
    with pytest.raises(KeyError, match="is not registered"):
        s.unregister(rd)


def test_unregister_unknown_object_raises_key_error(make_selector, socketpair):
    rd, _ = socketpair()
    with pytest.raises(KeyError):
        make_selector().unregister(rd)


@pytest.mark.parametrize("reuse", [False, True], ids=["closed", "closed-and-number-reused"])
def test_unregister_after_fd_close(make_selector, socketpair, reuse):
    s = make_selector()
    rd, wr = socketpair()
    r, w = rd.fileno(), wr.fileno()
    s.register(r, EVENT_READ)
    s.register(w, EVENT_WRITE)
    rd2, wr2 = socketpair()
    rd.close()
    wr.close()
    if reuse:   # the numbers now name other open sockets
        os.dup2(rd2.fileno(), r)
        os.dup2(wr2.fileno(), w)
    try:
        s.unregister(r)
        s.unregister(w)
    finally:
        if reuse:
            os.close(r)
            os.close(w)
    assert len(s.get_map()) == 0


def test_unregister_after_socket_close_finds_the_key_by_object(make_selector, socketpair):
    s = make_selector()
    rd, wr = socketpair()
    s.register(rd, EVENT_READ)
    s.register(wr, EVENT_WRITE)
    rd.close()
    wr.close()
    assert s.unregister(rd).fileobj is rd
    assert s.unregister(wr).fileobj is wr


def test_unregister_closed_unknown_socket_raises_value_error(make_selector, socketpair):
    rd, _ = socketpair()
    rd.close()
    with pytest.raises(ValueError):
        make_selector().unregister(rd)


def test_fd_is_not_reported_after_unregister(make_selector, socketpair):
    s = make_selector()
    rd, wr = socketpair()
    s.register(rd, EVENT_READ | EVENT_WRITE)
    s.unregister(rd)
    wr.send(b"x")
    assert s.select(0) == []


def test_an_fd_unregistered_and_closed_since_the_last_select_is_not_waited_on(make_selector,
                                                                               socketpair):
    # A select backend still waiting on the closed fd would fail with EBADF.
    s = make_selector()
    rd, wr = socketpair()
    other_rd, other_wr = socketpair()
    s.register(rd, EVENT_READ)
    key = s.register(other_rd, EVENT_READ)
    assert s.select(0) == []
    s.unregister(rd)
    rd.close()
    other_wr.send(b"x")
    assert s.select(0) == [(key, EVENT_READ)]


def test_an_fd_number_reused_between_two_selects_is_reported_for_its_new_key(make_selector,
                                                                             socketpair):
    s = make_selector()
    rd, _ = socketpair()
    number = rd.fileno()
    s.register(number, EVENT_READ | EVENT_WRITE)
    assert s.select(0) == [(s.get_key(number), EVENT_WRITE)]
    new_rd, new_wr = socketpair()
    s.unregister(number)
    rd.close()
    os.dup2(new_rd.fileno(), number)   # the number now names another socket
    try:
        key = s.register(number, EVENT_READ, "new")
        new_wr.send(b"x")
        assert s.select(0) == [(key, EVENT_READ)]
    finally:
        s.unregister(number)
        os.close(number)


def test_changes_that_cancel_out_between_two_selects_leave_the_fd_as_it_was(make_selector,
                                                                            socketpair):
    s = make_selector()
    rd, wr = socketpair()
    wr.send(b"x")
    key = s.register(rd, EVENT_READ)
    s.unregister(rd)
    s.register(rd, EVENT_WRITE)
    s.modify(rd, EVENT_READ | EVENT_WRITE)
    s.unregister(rd)
    assert s.select(0) == []
    key = s.register(rd, EVENT_READ)
    s.modify(rd, EVENT_WRITE)
    s.modify(rd, EVENT_READ, "data")
    key = s.get_key(rd)
    assert s.select(0) == [(key, EVENT_READ)]


# --- modify ---------------------------------------------------------------

def test_modify_events_returns_a_new_key(make_selector, socketpair):
    s = make_selector()
    rd, _ = socketpair()
    key = s.register(rd, EVENT_READ)
    key2 = s.modify(rd, EVENT_WRITE)
    assert key2 != key
    assert key2 == (rd, rd.fileno(), EVENT_WRITE, None)
    assert s.get_key(rd) == key2


def test_modify_data_returns_a_new_key_with_the_same_events(make_selector, socketpair):
    s = make_selector()
    rd, _ = socketpair()
    d1, d2 = object(), object()
    s.register(rd, EVENT_READ, d1)
    key = s.modify(rd, EVENT_READ, d2)
    assert key.data is d2 and key.events == EVENT_READ
    assert s.get_key(rd) is key


def test_modify_with_nothing_changed_returns_the_same_key(make_selector, socketpair):
    s = make_selector()
    rd, _ = socketpair()
    data = object()
    key = s.register(rd, EVENT_READ, data)
    assert s.modify(rd, EVENT_READ, data) is key


def test_modify_data_only_takes_a_shortcut(make_selector, socketpair):
    # As in CPython's test: neither register nor unregister is called.
    s = make_selector()
    rd, _ = socketpair()
    s.register(rd, EVENT_READ)
    s.register = mock.Mock()
    s.unregister = mock.Mock()
    s.modify(rd, EVENT_READ, object())
    assert not s.register.called
    assert not s.unregister.called


def test_select_selector_modify_events_calls_unregister_and_register(make_select_selector, socketpair):
    s = make_select_selector()
    rd, _ = socketpair()
    s.register(rd, EVENT_READ)
    s.unregister = mock.Mock(wraps=s.unregister)
    s.register = mock.Mock(wraps=s.register)
    s.modify(rd, EVENT_WRITE)
    assert s.unregister.called and s.register.called


@pytest.mark.parametrize("events", [1.0, True], ids=["float", "bool"])
def test_poll_like_modify_with_equal_events_of_another_type_stores_them(make_poll_like, socketpair,
                                                                        events):
    s = make_poll_like()
    rd, _ = socketpair()
    s.register(rd, EVENT_READ)
    key = s.modify(rd, events, "new")
    assert (key.events, type(key.events), key.data) == (events, type(events), "new")
    assert s.get_key(rd) is key
    assert s.select(0) == []


def test_poll_like_select_raises_type_error_for_a_ready_fd_whose_events_are_a_float(
        make_poll_like, socketpair):
    # The stdlib masks the ready events with the key's events (int & float).
    s = make_poll_like()
    _, wr = socketpair()
    s.register(wr, EVENT_WRITE)
    s.modify(wr, 2.0, "new")
    with pytest.raises(TypeError):
        s.select(0)
    assert s.unregister(wr).events == 2.0
    assert s.select(0) == []


def test_select_selector_modify_with_equal_events_of_another_type_keeps_the_int(
        make_select_selector, socketpair):
    s = make_select_selector()
    _, wr = socketpair()
    s.register(wr, EVENT_WRITE)
    key = s.modify(wr, 2.0, "new")
    assert (key.events, type(key.events), key.data) == (EVENT_WRITE, int, "new")
    assert s.select(0) == [(key, EVENT_WRITE)]


def test_modify_unknown_object_raises_key_error(make_selector, socketpair):
    rd, _ = socketpair()
    with pytest.raises(KeyError, match="is not registered"):
        make_selector().modify(rd, EVENT_READ)


def test_modify_data_only_of_a_closed_fd_needs_no_system_call(make_selector, socketpair):
    s = make_selector()
    rd, _ = socketpair()
    fd = rd.fileno()
    s.register(fd, EVENT_READ)
    rd.close()
    assert s.modify(fd, EVENT_READ, "new data").data == "new data"


def test_poll_like_modify_keeps_the_registered_file_object(make_poll_like, socketpair):
    s = make_poll_like()
    rd, _ = socketpair()
    s.register(rd, EVENT_READ)
    assert s.modify(rd.fileno(), EVENT_WRITE).fileobj is rd


def test_select_selector_modify_events_stores_the_object_passed(make_select_selector, socketpair):
    s = make_select_selector()
    rd, _ = socketpair()
    s.register(rd, EVENT_READ)
    assert s.modify(rd.fileno(), EVENT_WRITE).fileobj == rd.fileno()


def test_select_selector_modify_events_of_a_closed_object_unregisters_it_and_raises_value_error(
        make_select_selector, socketpair):
    s = make_select_selector()
    rd, _ = socketpair()
    s.register(rd, EVENT_READ)
    rd.close()
    assert s.modify(rd, EVENT_READ, "data").data == "data"   # found by the search
    with pytest.raises(ValueError):
        s.modify(rd, EVENT_WRITE)
    assert len(s.get_map()) == 0


def test_select_selector_modify_events_of_an_object_with_fileno_keeps_it_and_moves_it_last(
        make_select_selector, socketpair):
    class FileLike:
        def __init__(self, sock):
            self.sock = sock

        def fileno(self):
            return self.sock.fileno()

    s = make_select_selector()
    a, b = socketpair()
    obj = FileLike(a)
    s.register(obj, EVENT_READ)
    s.register(b, EVENT_READ)
    key = s.modify(obj, EVENT_WRITE, "data")
    assert (key.fileobj, key.fd, key.events, key.data) == (obj, a.fileno(), EVENT_WRITE, "data")
    assert list(s.get_map()) == [b.fileno(), a.fileno()]
    assert s.select(0) == [(key, EVENT_WRITE)]


def test_select_selector_modify_events_looks_a_file_object_up_three_times(make_select_selector,
                                                                          socketpair):
    # The stdlib's modify() is lookup, unregister (lookup) and register
    # (lookup): an object whose fileno() changes sees each call.
    class Counting:
        calls = 0

        def __init__(self, sock):
            self.sock = sock

        def fileno(self):
            self.calls += 1
            return self.sock.fileno()

    s = make_select_selector()
    a, _ = socketpair()
    obj = Counting(a)
    s.register(obj, EVENT_READ)
    s.modify(obj, EVENT_WRITE)
    assert obj.calls == 4


@pytest.mark.parametrize("events", [0, 4])
def test_poll_like_modify_accepts_events_register_would_refuse(make_poll_like, socketpair, events):
    s = make_poll_like()
    rd, _ = socketpair()
    s.register(rd, EVENT_READ)
    assert s.modify(rd, events).events == events
    assert s.select(0) == []


@pytest.mark.parametrize("events", [0, 4])
def test_select_selector_modify_with_invalid_events_unregisters_then_raises(make_select_selector,
                                                                           socketpair, events):
    s = make_select_selector()
    rd, _ = socketpair()
    s.register(rd, EVENT_READ)
    with pytest.raises(ValueError):
        s.modify(rd, events)
    assert rd not in s.get_map()


def test_modify_changes_what_select_reports(make_selector, socketpair):
    s = make_selector()
    rd, wr = socketpair()
    key = s.register(rd, EVENT_READ)
    assert s.select(0) == []
    key = s.modify(rd, EVENT_WRITE)
    assert s.select(0) == [(key, EVENT_WRITE)]
    wr.send(b"x")
    key = s.modify(rd, EVENT_READ | EVENT_WRITE)
    assert s.select(0) == [(key, EVENT_READ | EVENT_WRITE)]
    key = s.modify(rd, EVENT_READ)
    assert s.select(0) == [(key, EVENT_READ)]


def test_modify_keeps_the_fd_in_place_in_get_map_except_on_select_selector(make_selector, socketpair):
    s = make_selector()
    a, b = socketpair()
    s.register(a, EVENT_READ)
    s.register(b, EVENT_READ)
    s.modify(a, EVENT_WRITE)
    # SelectSelector's modify is the stdlib's generic unregister + register.
    in_place = type(s).__name__ != "SelectSelector"
    assert list(s.get_map()) == ([a.fileno(), b.fileno()] if in_place else [b.fileno(), a.fileno()])


# --- get_key, get_map, close, context manager ----------------------------------

def test_get_key_returns_the_registered_key(make_selector, socketpair):
    s = make_selector()
    rd, _ = socketpair()
    key = s.register(rd, EVENT_READ, "data")
    assert s.get_key(rd) is key
    assert s.get_key(rd.fileno()) is key


def test_get_key_of_unknown_object_raises_key_error(make_selector, socketpair):
    rd, _ = socketpair()
    with pytest.raises(KeyError, match="is not registered"):
        make_selector().get_key(rd)


def test_get_key_of_invalid_object_raises_value_error(make_selector):
    with pytest.raises(ValueError):
        make_selector().get_key("not a file")


def test_get_map_is_a_read_only_live_mapping(make_selector, socketpair):
    s = make_selector()
    keys = s.get_map()
    rd, _ = socketpair()
    assert isinstance(keys, Mapping)
    assert not keys and len(keys) == 0 and list(keys) == []
    key = s.register(rd, EVENT_READ, "data")
    assert rd in keys and rd.fileno() in keys
    assert keys[rd] is key
    assert len(keys) == 1
    assert list(keys) == [rd.fileno()]
    assert list(keys.values()) == [key]
    assert keys.get(12345) is None
    with pytest.raises(KeyError):
        keys[12345]
    with pytest.raises(TypeError):
        del keys[rd]
    with pytest.raises(TypeError):
        keys[rd] = key
    s.unregister(rd)
    assert rd not in keys


def test_get_map_finds_a_closed_socket_by_object(make_selector, socketpair):
    s = make_selector()
    rd, _ = socketpair()
    key = s.register(rd, EVENT_READ)
    rd.close()
    assert s.get_map()[rd] is key
    assert s.get_key(rd) is key


def _close_with_a_with_block(s):
    with s as sel:
        assert sel is s


@pytest.mark.parametrize("close", [pytest.param(lambda s: s.close(), id="close"),
                                   pytest.param(_close_with_a_with_block, id="with-block")])
def test_closing_makes_get_key_raise_runtime_error(make_selector, socketpair, close):
    s = make_selector()
    mapping = s.get_map()
    rd, wr = socketpair()
    s.register(rd, EVENT_READ)
    s.register(wr, EVENT_WRITE)
    close(s)
    with pytest.raises(RuntimeError):
        s.get_key(rd)
    with pytest.raises(RuntimeError):
        s.get_key(wr)
    with pytest.raises(KeyError):
        mapping[rd]
    assert mapping.get(wr) is None
    assert s.get_map() is None


def test_close_twice_is_harmless(make_selector):
    s = make_selector()
    s.close()
    s.close()


def _closed_after_registering(make, socketpair):
    """(selector, rd, wr): a selector closed while rd was registered for reading."""
    s = make()
    rd, wr = socketpair()
    s.register(rd, EVENT_READ)
    s.close()
    return s, rd, wr


def test_unregister_and_modify_after_close_raise_key_error(make_selector, socketpair):
    s, rd, _ = _closed_after_registering(make_selector, socketpair)
    with pytest.raises(KeyError):
        s.unregister(rd)
    with pytest.raises(KeyError):
        s.modify(rd, EVENT_WRITE)


def test_epoll_selector_register_select_and_fileno_after_close_raise_value_error(make_epoll_selector, socketpair):
    s = make_epoll_selector()
    pypy_stdlib_deviates(s, CLOSED_EPOLL_WORDING)
    rd, _ = socketpair()
    s.close()
    with pytest.raises(ValueError, match="closed epoll object"):
        s.register(rd, EVENT_READ)
    with pytest.raises(KeyError):
        s.unregister(rd)    # rolled back
    with pytest.raises(ValueError):
        s.select(0)
    with pytest.raises(ValueError):
        s.fileno()


@pytest.mark.parametrize("timeout", [1e300, 2**40, 2147483.648])
def test_closed_epoll_selector_select_raises_value_error_for_a_timeout_epoll_refuses(
        make_epoll_selector, timeout):
    s = make_epoll_selector()
    s.close()
    with pytest.raises(ValueError, match="closed epoll object"):
        s.select(timeout)


@pytest.mark.parametrize("timeout", [1e300, 2**40, 2147483.648])
def test_open_epoll_selector_select_raises_overflow_error_for_a_timeout_epoll_refuses(
        make_epoll_selector, socketpair, timeout):
    s = make_epoll_selector()
    _, wr = socketpair()
    s.register(wr, EVENT_WRITE)     # writable: a timeout wrongly accepted returns at once
    with pytest.raises(OverflowError):
        s.select(timeout)


def test_poll_and_select_selectors_keep_working_after_close(make_poll_or_select, socketpair):
    s, _, wr = _closed_after_registering(make_poll_or_select, socketpair)
    key = s.register(wr, EVENT_WRITE)
    assert s.select(0) == [(key, EVENT_WRITE)]


def test_epoll_selector_fileno_is_an_open_epoll_fd(make_epoll_selector):
    fd = make_epoll_selector().fileno()
    assert type(fd) is int and fd >= 0
    assert os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[eventpoll]"


def test_selector_instances_accept_attribute_assignment(make_selector):
    s = make_selector()
    s.user_attribute = 42
    assert s.user_attribute == 42


# --- select -----------------------------------------------------------------

def test_select_with_nothing_registered_returns_empty_list(make_selector):
    assert make_selector().select(timeout=0) == []


def test_select_reports_writable_and_readable_keys(make_selector, socketpair):
    s = make_selector()
    rd, wr = socketpair()
    rkey = s.register(rd, EVENT_READ)
    wkey = s.register(wr, EVENT_WRITE)
    assert s.select(0) == [(wkey, EVENT_WRITE)]
    wr.send(b"x")
    assert sorted(s.select(0), key=lambda p: p[0].fd) == sorted(
        [(rkey, EVENT_READ), (wkey, EVENT_WRITE)], key=lambda p: p[0].fd)


def test_select_masks_events_by_the_registered_interest(make_selector, socketpair):
    s = make_selector()
    rd, wr = socketpair()
    wr.send(b"x")     # rd is readable and writable
    key = s.register(rd, EVENT_READ)
    assert s.select(0) == [(key, EVENT_READ)]


def _fill(sock):
    try:
        while True:
            sock.send(b"x" * 65536)
    except BlockingIOError:
        pass


def test_select_reports_only_the_ready_half_of_read_write_interest(make_selector, socketpair):
    s = make_selector()
    rd, wr = socketpair()
    key = s.register(rd, EVENT_READ | EVENT_WRITE)
    _fill(rd)           # rd is no longer writable ...
    assert s.select(0) == []
    wr.send(b"x")       # ... but now readable
    assert s.select(0) == [(key, EVENT_READ)]


def test_select_reports_hangup_as_registered_events(make_selector, socketpair):
    s = make_selector()
    rd, wr = socketpair()
    key = s.register(rd, EVENT_READ)
    wr.close()
    assert s.select(0) == [(key, EVENT_READ)]


def test_select_results_hold_selector_keys_and_event_subsets(make_selector, socketpair):
    s = make_selector()
    pairs = [socketpair() for _ in range(4)]
    for rd, wr in pairs:
        s.register(rd, EVENT_READ | EVENT_WRITE)
        wr.send(b"x")
    result = s.select(0)
    assert len(result) == 4
    for key, events in result:
        assert isinstance(key, std_selectors.SelectorKey)
        assert events and not events & ~key.events


def test_select_ping_pong_between_many_socketpairs(make_selector, socketpair):
    # CPython's test_selector: each writer sends once, each reader reads once.
    s = make_selector()
    readers, writers = [], {}
    for _ in range(12):
        rd, wr = socketpair()
        s.register(rd, EVENT_READ)
        s.register(wr, EVENT_WRITE)
        readers.append(rd)
        writers[wr.fileno()] = wr
    bufs = []
    while writers:
        ready = s.select(1.0)
        assert ready
        for key, events in ready:
            if events & EVENT_WRITE:
                wr = writers.pop(key.fd)
                wr.send(b"x")
                s.unregister(wr)
    for rd in readers:
        ready_fds = {key.fd for key, _ in s.select(1.0)}
        assert rd.fileno() in ready_fds
        bufs.append(rd.recv(1))
        s.unregister(rd)
    assert bufs == [b"x"] * 12


def test_select_timeout_zero_and_negative_do_not_block(make_selector, socketpair):
    s = make_selector()
    rd, _ = socketpair()
    s.register(rd, EVENT_READ)
    start = time.monotonic()
    assert s.select(0) == []
    assert s.select(-1) == []
    assert s.select(-1.5) == []
    assert time.monotonic() - start < 0.5


def test_select_positive_timeout_waits_at_least_that_long(make_selector, socketpair):
    s = make_selector()
    rd, _ = socketpair()
    s.register(rd, EVENT_READ)
    start = time.monotonic()
    assert s.select(0.05) == []
    assert 0.05 <= time.monotonic() - start < 2.0


def test_select_short_timeouts_round_up_instead_of_spinning(make_selector, socketpair):
    s = make_selector()
    rd, _ = socketpair()
    s.register(rd, EVENT_READ)
    calls = 0
    deadline = time.monotonic() + 0.1
    while time.monotonic() < deadline:
        s.select(0.0001)
        calls += 1
    # A 1 ms (poll, epoll) or 0.1 ms (select) floor: a spin would do ~10**5.
    assert calls < 1500


def test_select_none_blocks_until_an_fd_is_ready(make_selector, socketpair):
    s = make_selector()
    rd, wr = socketpair()
    key = s.register(rd, EVENT_READ)
    timer = threading.Timer(0.05, wr.send, (b"x",))
    timer.start()
    try:
        assert s.select(None) == [(key, EVENT_READ)]
    finally:
        timer.join()


@pytest.mark.parametrize("timeout", [Fraction(0), Decimal(0)], ids=["Fraction-0", "Decimal-0"])
def test_select_selector_select_refuses_a_zero_select_refuses(make_select_selector, timeout):
    # The stdlib passes max(timeout, 0), the timeout itself, to select().
    with pytest.raises(TypeError):
        make_select_selector().select(timeout)


@pytest.mark.parametrize("timeout", [Fraction(-1), Decimal(-1)],
                         ids=["Fraction-minus-1", "Decimal-minus-1"])
def test_select_takes_a_negative_number_of_another_type_as_zero(make_selector, timeout):
    assert make_selector().select(timeout) == []


@pytest.mark.parametrize("timeout", [Fraction(0), Decimal(0)], ids=["Fraction-0", "Decimal-0"])
def test_poll_like_select_takes_a_zero_of_another_type_as_zero(make_poll_like, timeout):
    assert make_poll_like().select(timeout) == []


@pytest.mark.parametrize("timeout", [float("nan"), "1", float("inf"), 1e300])
def test_select_rejects_bad_timeouts_like_the_stdlib(make_selector, timeout):
    s = make_selector()
    if isinstance(s, std_selectors.SelectSelector) and timeout != "1":
        pypy_stdlib_deviates(s, SELECT_TIMEOUT_UNCHECKED)
    if isinstance(s, std_selectors.EpollSelector) and timeout == 1e300:   # finite: reaches epoll
        pypy_stdlib_deviates(s, EPOLL_TIMEOUT_UNCHECKED)
    expected = {"nan": ValueError, "1": TypeError, "inf": OverflowError, "1e+300": OverflowError}
    with pytest.raises(expected[str(timeout)]):
        s.select(timeout)


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("exc,outcome", [
    pytest.param(Interrupted, Interrupted, id="propagates-it"),
    pytest.param(InterruptedError, [], id="interrupted-error-returns-empty-list"),
])
def test_select_interrupted_by_a_raising_signal_handler(make_selector, socketpair, alarm, exc,
                                                        outcome):
    s = make_selector()
    rd, _ = socketpair()
    s.register(rd, EVENT_READ)

    def handler(signum, frame):
        raise exc

    alarm(handler, 0.05)
    start = time.monotonic()
    try:
        result = s.select(5)
    except Interrupted:
        result = Interrupted
    assert result == outcome
    assert time.monotonic() - start < 2.5


def test_select_retries_with_the_remaining_time_when_handler_returns(make_selector, socketpair, alarm):
    s = make_selector()
    rd, _ = socketpair()
    s.register(rd, EVENT_READ)
    calls = []
    alarm(lambda signum, frame: calls.append(signum), 0.01, 0.01)
    start = time.monotonic()
    assert s.select(0.5) == []      # ~50 alarms: some reach the wait however loaded the CPU
    elapsed = time.monotonic() - start
    signal.setitimer(signal.ITIMER_REAL, 0)
    assert len(calls) >= 3, "signals did not interrupt the wait"
    assert 0.5 <= elapsed < 2.5


def test_epoll_select_wakes_for_an_fd_registered_from_another_thread(make_epoll_selector, socketpair):
    s = make_epoll_selector()
    rd, wr = socketpair()
    wr.send(b"x")
    timer = threading.Timer(0.05, s.register, (rd, EVENT_READ))
    timer.start()
    try:
        start = time.monotonic()
        result = s.select(5)
        assert [(k.fd, ev) for k, ev in result] == [(rd.fileno(), EVENT_READ)]
        assert time.monotonic() - start < 2.5
    finally:
        timer.join()


# --- many fds -------------------------------------------------------------------

@pytest.fixture
def fds_above_setsize(nofile_limit, socketpair):
    """Socketpairs until some fds are above FD_SETSIZE (1024)."""
    limit = nofile_limit(4096)
    assert limit >= 2400, f"RLIMIT_NOFILE allows only {limit} fds"
    pairs = []
    while not pairs or pairs[-1][1].fileno() < 1100:
        pairs.append(socketpair())
    return pairs


def test_poll_like_selectors_handle_fds_above_fd_setsize(make_poll_like, fds_above_setsize):
    s = make_poll_like()
    for rd, wr in fds_above_setsize:
        s.register(rd, EVENT_READ)
        s.register(wr, EVENT_WRITE)
    ready = s.select(0)
    assert {k.fd for k, _ in ready} == {wr.fileno() for _, wr in fds_above_setsize}
    high = fds_above_setsize[-1]
    high[1].send(b"x")
    ready = dict((k.fd, ev) for k, ev in s.select(0))
    assert ready[high[0].fileno()] == EVENT_READ
    assert len(ready) == len(fds_above_setsize) + 1


def test_select_selector_registers_fd_above_fd_setsize_then_select_raises(make_select_selector, fds_above_setsize):
    s = make_select_selector()
    pypy_stdlib_deviates(s, SELECT_FD_WORDING)
    high = fds_above_setsize[-1][1]
    key = s.register(high, EVENT_WRITE)
    assert s.get_key(high) is key
    with pytest.raises(ValueError, match=r"filedescriptor out of range in select\(\)"):
        s.select(0)
    s.unregister(high)
    assert s.select(0) == []


def test_select_selector_select_raises_overflow_error_for_huge_fd(make_select_selector):
    s = make_select_selector()
    s.register(2**31, EVENT_READ)
    with pytest.raises(OverflowError):
        s.select(0)


@pytest.mark.parametrize("write_fd,read_fd,exc", [
    pytest.param(2**20, 2**31, OverflowError, id="huge-reader"),
    pytest.param(2**31, 2**20, ValueError, id="huge-writer"),
])
def test_select_selector_select_raises_for_the_first_unselectable_reader_first(
        make_select_selector, write_fd, read_fd, exc):
    # The stdlib hands select() its readers, then its writers.
    s = make_select_selector()
    s.register(write_fd, EVENT_WRITE)
    s.register(read_fd, EVENT_READ)
    with pytest.raises(exc):
        s.select(0)


def test_every_ready_fd_among_many_is_reported_in_one_select(make_poll_like, fds_above_setsize):
    s = make_poll_like()
    for rd, wr in fds_above_setsize:
        s.register(rd, EVENT_READ | EVENT_WRITE)
        s.register(wr, EVENT_READ | EVENT_WRITE)
    assert len(s.select(0)) == 2 * len(fds_above_setsize)
