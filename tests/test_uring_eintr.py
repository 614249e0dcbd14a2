"""PEP 475 for Ring.wait(), as tests/test_eintr_retry.py checks it for
select, poll and epoll: a signal handler that returns does not shorten the
wait; one that raises propagates promptly."""
import signal
import time

import pytest

from uring_helpers import listener, ring, tcp_pair  # noqa: F401 (fixtures)


class Interrupted(Exception):
    pass


def test_wait_retries_with_the_remaining_time_when_the_handler_returns(ring, alarm):
    calls = []
    alarm(lambda signum, frame: calls.append(signum), 0.05, 0.05)
    start = time.monotonic()
    result = ring.wait(1, 0.5)
    elapsed = time.monotonic() - start
    signal.setitimer(signal.ITIMER_REAL, 0)
    assert result == []
    assert len(calls) >= 3, "signals did not interrupt the wait"
    assert 0.5 - 0.005 <= elapsed < 5.0


@pytest.mark.parametrize("timeout", [3.0, None])
def test_wait_propagates_the_exception_a_handler_raises(ring, alarm, timeout):
    def handler(signum, frame):
        raise Interrupted

    ring.prep_timeout(3.0, 99)     # the rescue: an infinite wait ends by itself
    alarm(handler, 0.1)
    start = time.monotonic()
    with pytest.raises(Interrupted):
        ring.wait(1, timeout)
    assert time.monotonic() - start < 1.5


def test_a_signal_during_a_wait_that_also_submits_does_not_end_it_early(ring, alarm, tcp_pair):
    # io_uring_enter reports how many SQEs it took, hiding that its wait
    # was interrupted: the ring must still wait out the remaining time.
    _, server = tcp_pair
    calls = []
    ring.prep_recv(server, bytearray(8), 1)        # submitted by the wait; never completes
    alarm(lambda signum, frame: calls.append(signum), 0.05)
    start = time.monotonic()
    assert ring.wait(1, 0.5) == []
    assert calls
    assert 0.5 - 0.005 <= time.monotonic() - start < 5.0
