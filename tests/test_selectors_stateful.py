"""Stateful comparison of pymux.selectors with the stdlib's selectors.

A hypothesis state machine drives a stdlib selector and a pymux selector of
the same class with one random sequence of operations on the same real
socketpairs (register, unregister, modify, get_key, and socket traffic: sends,
drains, filling the buffer, half-closes, closes and fd reuse). After every
step both must have returned equal results or raised the same exception
(same type, and same errno or message), their select(0) results must be
equal, and so must their get_map() views, in the same order.

select() results are compared sorted by fd: the stdlib leaves their order
unspecified (epoll's follows the kernel's ready list).
"""
import selectors as std_selectors
import socket

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import pymux.selectors as mux_selectors
from pymux._code_table import CodeTable

N_PAIRS = 2
SOCKETS = st.integers(min_value=0, max_value=2 * N_PAIRS - 1)
# Valid events, events register() refuses but modify() accepts, and types
# that make both raise TypeError.
EVENTS = st.sampled_from([1, 2, 3, 1, 2, 3, 0, 4, 5, 7, -1, True, None, "r"])
DATA = st.sampled_from([None, "a", "b", 1])

SETTINGS = settings(max_examples=40, stateful_step_count=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _same_outcome(what, std_outcome, mux_outcome):
    (std_ok, std_value), (mux_ok, mux_value) = std_outcome, mux_outcome
    assert std_ok == mux_ok, f"{what}: stdlib gave {std_value!r}, pymux {mux_value!r}"
    if std_ok:
        return std_value, mux_value
    assert type(std_value) is type(mux_value), f"{what}: {std_value!r} vs {mux_value!r}"
    if isinstance(std_value, OSError):
        assert std_value.errno == mux_value.errno, f"{what}: {std_value!r} vs {mux_value!r}"
    elif not isinstance(std_value, OverflowError):     # CPython's wording varies
        assert str(std_value) == str(mux_value), f"{what}: {std_value!r} vs {mux_value!r}"
    return None, None


def _by_fd(ready):
    return sorted(ready, key=lambda pair: pair[0].fd)


class SelectorComparison(RuleBasedStateMachine):
    CLASS = None
    OTHER_PATH = False

    def __init__(self):
        super().__init__()
        # pymux.selectors keeps its pairs and maps ready codes one way on
        # PyPy and another on CPython (JIT_INLINES_CFFI): the OTHER_PATH
        # machines run the other interpreter's way on this one, so both
        # are checked everywhere.
        self.jit_path = mux_selectors.JIT_INLINES_CFFI
        if self.OTHER_PATH:
            mux_selectors.JIT_INLINES_CFFI = not self.jit_path
        self.std = getattr(std_selectors, self.CLASS)()
        self.mux = getattr(mux_selectors, self.CLASS)()
        self.made = []
        self.socks = []
        self.fds = []       # the fd number each socket had when it was made
        for _ in range(N_PAIRS):
            self._new_pair()

    def _new_pair(self, index=None):
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        self.made += [a, b]
        if index is None:
            self.socks += [a, b]
            self.fds += [a.fileno(), b.fileno()]
        else:
            base = index - index % 2
            self.socks[base:base + 2] = [a, b]
            self.fds[base:base + 2] = [a.fileno(), b.fileno()]

    def teardown(self):
        self.std.close()
        self.mux.close()
        mux_selectors.JIT_INLINES_CFFI = self.jit_path
        for sock in self.made:
            sock.close()

    def _peer(self, i):
        return self.socks[i ^ 1]

    def _target(self, i, as_fd):
        return self.fds[i] if as_fd else self.socks[i]

    def _both(self, method, *args):
        outcomes = []
        for sel in (self.std, self.mux):
            try:
                outcomes.append((True, getattr(sel, method)(*args)))
            except Exception as exc:     # compared below
                outcomes.append((False, exc))
        return _same_outcome(f"{self.CLASS}.{method}{args!r}", *outcomes)

    # --- selector operations -------------------------------------------------

    @rule(i=SOCKETS, as_fd=st.booleans(), events=EVENTS, data=DATA)
    def register(self, i, as_fd, events, data):
        std_key, mux_key = self._both("register", self._target(i, as_fd), events, data)
        assert std_key == mux_key

    @rule(i=SOCKETS, as_fd=st.booleans())
    def unregister(self, i, as_fd):
        std_key, mux_key = self._both("unregister", self._target(i, as_fd))
        assert std_key == mux_key

    @rule(i=SOCKETS, as_fd=st.booleans(), events=EVENTS, data=DATA)
    def modify(self, i, as_fd, events, data):
        std_key, mux_key = self._both("modify", self._target(i, as_fd), events, data)
        assert std_key == mux_key

    @rule(i=SOCKETS, as_fd=st.booleans())
    def get_key(self, i, as_fd):
        std_key, mux_key = self._both("get_key", self._target(i, as_fd))
        assert std_key == mux_key

    # --- socket traffic --------------------------------------------------------

    @rule(i=SOCKETS)
    def send(self, i):
        try:
            self._peer(i).send(b"x")
        except OSError:     # closed, shut down, or full
            pass

    @rule(i=SOCKETS)
    def drain(self, i):
        try:
            while self.socks[i].recv(65536):
                pass
        except OSError:
            pass

    @rule(i=SOCKETS)
    def fill(self, i):
        """Make socket i unwritable (and its peer readable)."""
        try:
            while True:
                self.socks[i].send(b"x" * 65536)
        except OSError:
            pass

    @rule(i=SOCKETS)
    def make_readable_only(self, i):
        """Readable but not writable: the case where READ|WRITE interest
        must be masked down to READ."""
        self.fill(i)
        self.send(i)

    @rule(i=SOCKETS)
    def shut_down_peer(self, i):
        try:
            self._peer(i).shutdown(socket.SHUT_WR)
        except OSError:
            pass

    @rule(i=SOCKETS)
    def close(self, i):
        self.socks[i].close()

    @rule(i=SOCKETS)
    def replace_pair(self, i):
        """Close socket i's pair and make a new one: its fds reuse the
        freed numbers, possibly still registered under the old objects."""
        self.socks[i].close()
        self._peer(i).close()
        self._new_pair(i)

    # --- invariants ------------------------------------------------------------

    @invariant()
    def selects_agree(self):
        # select(0) is level-triggered and side-effect free: checking it
        # after every step covers every state the other rules reach.
        std_ready, mux_ready = self._both("select", 0)
        if std_ready is not None:
            assert _by_fd(std_ready) == _by_fd(mux_ready)

    @invariant()
    def maps_are_equal(self):
        std_map, mux_map = self.std.get_map(), self.mux.get_map()
        assert len(std_map) == len(mux_map)
        assert list(std_map.items()) == list(mux_map.items())


def _test_case(cls_name, other_path=False):
    machine = type(f"{cls_name}Comparison", (SelectorComparison,),
                   {"CLASS": cls_name, "OTHER_PATH": other_path})
    case = machine.TestCase
    case.settings = SETTINGS
    return case


TestSelectSelectorMatchesStdlib = _test_case("SelectSelector")
TestPollSelectorMatchesStdlib = _test_case("PollSelector")
TestEpollSelectorMatchesStdlib = _test_case("EpollSelector")
TestSelectSelectorOtherPathMatchesStdlib = _test_case("SelectSelector", other_path=True)
TestPollSelectorOtherPathMatchesStdlib = _test_case("PollSelector", other_path=True)
TestEpollSelectorOtherPathMatchesStdlib = _test_case("EpollSelector", other_path=True)


def test_other_path_machines_use_the_other_code_table():
    machine = type("Other", (SelectorComparison,),
                   {"CLASS": "EpollSelector", "OTHER_PATH": True})()
    try:
        uses_list_table = isinstance(machine.mux._pairs, CodeTable)
        assert uses_list_table is not machine.jit_path
    finally:
        machine.teardown()


@pytest.mark.parametrize("cls_name", ["SelectSelector", "PollSelector", "EpollSelector"])
def test_state_machine_catches_a_different_result(cls_name):
    # The comparison itself must be able to fail: a wrong key is noticed.
    machine = type("Broken", (SelectorComparison,), {"CLASS": cls_name})()
    try:
        sock = machine.socks[0]
        machine.std.register(sock, 1, "a")
        machine.mux.register(sock, 1, "b")
        with pytest.raises(AssertionError):
            machine.maps_are_equal()
    finally:
        machine.teardown()
