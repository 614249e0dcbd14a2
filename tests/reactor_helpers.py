"""Helpers shared by the reactor tests (tests/test_reactor_*.py)."""

LONG = 10.0   # a hang guard only: generous even under ASan


def run_until(reactor, predicate, timeout=LONG):
    assert reactor.run_until(predicate, timeout=timeout), "the reactor timed out"


def run_a_little(reactor, seconds=0.05):
    """Run some iterations with nothing to wake the loop but a timer."""
    done = []
    reactor.call_later(seconds, done.append, True)
    run_until(reactor, lambda: done)
