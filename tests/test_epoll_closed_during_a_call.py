"""An epoll object closed while one of its methods runs (by an argument's
__index__ or fileno(), or by another thread) raises what the stdlib raises:
ValueError when the method finds it closed, OSError(EBADF) when the wait
itself does; never a cffi TypeError, never a crash. Run against the stdlib
and pymux."""

import errno
import threading

import pytest

CLOSED_EPOLL = "I/O operation on closed epoll object"


class ClosesOnUse:
    """An int-like value (or file-like object) that closes `ep` when
    converted, as a callback running in the middle of a call could."""

    def __init__(self, ep, value):
        self.ep, self.value = ep, value

    def __index__(self):
        self.ep.close()
        return self.value

    fileno = __index__


@pytest.mark.parametrize("call", [
    pytest.param(lambda ep, a: ep.poll(0, ClosesOnUse(ep, 1)), id="poll-maxevents"),
    pytest.param(lambda ep, a: ep.register(a, ClosesOnUse(ep, 1)), id="register-eventmask"),
    pytest.param(lambda ep, a: ep.modify(a, ClosesOnUse(ep, 1)), id="modify-eventmask"),
    pytest.param(lambda ep, a: ep.register(ClosesOnUse(ep, a.fileno())), id="register-fd"),
    pytest.param(lambda ep, a: ep.unregister(ClosesOnUse(ep, a.fileno())), id="unregister-fd"),
])
def test_epoll_closed_while_its_arguments_are_parsed_raises_value_error(selectmod, socketpair, call):
    a, _ = socketpair()
    ep = selectmod.epoll()
    ep.register(a, selectmod.EPOLLOUT)
    with pytest.raises(ValueError, match=CLOSED_EPOLL):
        call(ep, a)
    assert ep.closed


def test_epoll_closed_while_the_poll_timeout_is_converted_fails_with_ebadf(selectmod, socketpair):
    # The stdlib converts the timeout after its closed check: the wait
    # itself then finds the fd closed.
    a, _ = socketpair()
    ep = selectmod.epoll()
    ep.register(a, selectmod.EPOLLOUT)
    with pytest.raises(OSError) as info:
        ep.poll(ClosesOnUse(ep, 0))
    assert info.value.errno == errno.EBADF
    assert ep.closed


ROUNDS = 300


def test_epoll_closed_by_another_thread_during_polls_raises_only_closed_errors(selectmod,
                                                                              socketpair):
    a, _ = socketpair()
    unexpected = []

    def poll_until_closed(ep):
        while True:
            try:
                ep.poll(0, 4)
            except ValueError as exc:
                if str(exc) != CLOSED_EPOLL:
                    unexpected.append(exc)
                return
            except OSError as exc:
                if exc.errno != errno.EBADF:
                    unexpected.append(exc)
                return
            except BaseException as exc:    # noqa: BLE001 - what this test looks for
                unexpected.append(exc)
                return

    for _ in range(ROUNDS):
        ep = selectmod.epoll()
        ep.register(a, selectmod.EPOLLOUT)
        thread = threading.Thread(target=poll_until_closed, args=(ep,))
        thread.start()
        ep.close()
        thread.join()
    assert unexpected == []
