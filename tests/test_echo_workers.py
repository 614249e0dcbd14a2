"""--workers: the parent relays each stop signal (SIGINT, SIGTERM, SIGHUP)
to every worker exactly once, prints totals that include every worker's, and
workers never outlive it, not even a SIGKILL. Processes are found by the
PIDs /proc lists as the server's children; only those are ever killed."""
import os
import re
import signal

import pytest

from echo_helpers import (SHUTTING_DOWN, children, connect, kill_if_alive,  # noqa: F401
                          parse_totals, read_to_eof, recv_exactly, round_trip, server_with,
                          wait_until_gone)

LONG_GRACE = 600   # longer than every hang guard
SERVED_BY = re.compile(r"^\S+ \S+ (\d+) pymux\.echo: connection from ", re.M)


@pytest.fixture
def workers_of():
    """workers_of(server): its worker PIDs; any left running are killed at teardown."""
    seen = []

    def find(server):
        pids = children(server.pid)
        seen.extend(pids)
        return pids

    yield find
    kill_if_alive(seen)


def test_two_workers_serve_clients_end_to_end(server_with, workers_of):
    server = server_with("--workers", 2)
    assert len(workers_of(server)) == 2
    for i in range(20):
        data = b"worker round trip %d" % i
        assert round_trip(server.address, data) == data
    assert server.alive(), server.stderr_text()


def test_sigterm_stops_the_workers_and_the_parent_cleanly(server_with, workers_of):
    server = server_with("--workers", 2)
    workers = workers_of(server)
    for i in range(6):
        assert round_trip(server.address, b"hi") == b"hi"
    code, out = server.stop(signal.SIGTERM)
    assert code == 0, server.stderr_text()
    assert parse_totals(out)[0::2] == (6, 12)
    assert wait_until_gone(workers)


def test_the_totals_include_every_workers_connections_closed_and_still_open(
        server_with, workers_of):
    server = server_with("-v", "--workers", 2, "--grace", 0.3)
    workers = workers_of(server)
    sizes = range(1, 41)
    for n in sizes:
        assert round_trip(server.address, b"x" * n) == b"x" * n
    held = [connect(server.address) for _ in range(10)]
    try:
        for sock in held:
            sock.sendall(b"held")
            assert recv_exactly(sock, 4) == b"held"
        # Both workers served some (SO_REUSEPORT spreads by address hash).
        assert set(map(int, SERVED_BY.findall(server.stderr_text()))) == set(workers)
        code, out = server.stop(signal.SIGTERM)
        assert [read_to_eof(sock) for sock in held] == [(b"", None)] * len(held)
    finally:
        for sock in held:
            sock.close()
    assert code == 0, server.stderr_text()
    assert parse_totals(out) == (40 + 10, 40 + 10, sum(sizes) + 4 * 10)


def test_sigkill_of_the_parent_ends_the_workers(server_with, workers_of):
    server = server_with("--workers", 2, "--grace", 0.3)
    workers = workers_of(server)
    assert len(workers) == 2
    with connect(server.address) as sock:
        sock.sendall(b"orphan?")
        assert recv_exactly(sock, 7) == b"orphan?"
        os.kill(server.pid, signal.SIGKILL)
        # Its worker finishes the connection gracefully, then exits.
        assert read_to_eof(sock) == (b"", None)
    assert wait_until_gone(workers), "workers outlived their parent"


def test_sighup_to_the_parent_stops_the_workers_and_prints_the_totals(server_with, workers_of):
    server = server_with("--workers", 2)
    workers = workers_of(server)
    for i in range(4):
        assert round_trip(server.address, b"hup") == b"hup"
    code, out = server.stop(signal.SIGHUP)
    assert code == 0, server.stderr_text()
    assert parse_totals(out) == (4, 4, 12)
    assert wait_until_gone(workers)


def test_a_second_signal_to_the_parent_ends_the_grace_period(server_with, workers_of):
    server = server_with("-v", "--workers", 2, "--grace", LONG_GRACE)
    workers_of(server)
    with connect(server.address) as sock:
        os.kill(server.pid, signal.SIGTERM)
        server.wait_for_log(SHUTTING_DOWN, count=2)
        sock.sendall(b"grace")   # still served
        assert recv_exactly(sock, 5) == b"grace"
        os.kill(server.pid, signal.SIGTERM)
        assert read_to_eof(sock) == (b"", None)
    code, out = server.wait()
    assert code == 0, server.stderr_text()
    assert parse_totals(out) == (1, 1, 5)


def test_a_signal_to_the_whole_process_group_counts_once(server_with, workers_of):
    """Ctrl-C or a service manager signals every process of the group: the
    workers must not take it as a second signal on top of the parent's."""
    server = server_with("-v", "--workers", 2, "--grace", LONG_GRACE, new_session=True)
    workers_of(server)
    with connect(server.address) as sock:
        os.killpg(server.pid, signal.SIGINT)
        server.wait_for_log(SHUTTING_DOWN, count=2)
        sock.sendall(b"once")   # still in the grace period
        assert recv_exactly(sock, 4) == b"once"
        os.kill(server.pid, signal.SIGINT)
        assert read_to_eof(sock) == (b"", None)
    code, out = server.wait()
    assert code == 0, server.stderr_text()
    assert parse_totals(out) == (1, 1, 4)


def test_a_worker_that_dies_is_reported_and_the_exit_status_says_so(server_with, workers_of):
    server = server_with("--workers", 2)
    workers = workers_of(server)
    os.kill(workers[0], signal.SIGKILL)
    server.wait_for_log(f"worker {workers[0]} ended without its totals (killed by SIGKILL)")
    for i in range(3):   # the other one still serves
        assert round_trip(server.address, b"on") == b"on"
    code, out = server.stop(signal.SIGTERM)
    assert code == 1
    assert parse_totals(out) == (3, 3, 6)
