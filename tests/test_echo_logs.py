"""The echo server's log rate limit (pymux/echo/_logs.py), on a fake clock:
at most one warning per logger and message template a second, the next one
passed says how many were suppressed; info lines (-v) all pass."""
import logging

import pytest

from pymux.echo._logs import RateLimit

TEMPLATE = "accept() failed on %s: %s; retrying in %.1fs"


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def limit(clock):
    return RateLimit(interval=1.0, clock=clock)


def record(msg=TEMPLATE, args=(("127.0.0.1", 8088), "Too many open files", 0.1),
           level=logging.WARNING, name="pymux.reactor"):
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def passed(limit, rec):
    return limit.filter(rec), rec.getMessage()


def test_eight_warnings_a_second_become_one_then_one_that_counts_the_rest(limit, clock):
    results = []
    for _ in range(20):   # 2.5 s, 8 a second (binary-exact steps)
        results.append(passed(limit, record()))
        clock.now += 0.125
    shown = [message for ok, message in results if ok]
    assert len(shown) == 3
    assert shown[0] == ("accept() failed on ('127.0.0.1', 8088): Too many open files; "
                        "retrying in 0.1s")
    assert shown[1] == shown[0] + " (7 similar messages suppressed)"
    assert shown[2] == shown[0] + " (7 similar messages suppressed)"


def test_a_warning_after_a_quiet_second_passes_unchanged(limit, clock):
    assert passed(limit, record())[0]
    clock.now += 1.0
    assert passed(limit, record()) == passed(RateLimit(), record())


def test_other_templates_and_loggers_have_their_own_limit(limit):
    assert limit.filter(record())
    assert limit.filter(record(msg="worker %d ended without its totals (%s)", args=(7, "x")))
    assert limit.filter(record(name="pymux.echo"))
    assert not limit.filter(record())


@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO])
def test_lines_below_warning_all_pass(limit, level):
    assert all(limit.filter(record("connection from %s", ("peer",), level)) for _ in range(50))
