"""--workers: the parent relays each stop signal (SIGINT, SIGTERM, SIGHUP)
to every worker exactly once, prints totals that include every worker's, and
workers never outlive it, not even a SIGKILL. Processes are found by the
PIDs /proc lists as the server's children; only those are ever killed."""
import os
import re
import signal

import pytest

from echo_helpers import (EVERY_API, SHUTTING_DOWN, api, children, connect,  # noqa: F401
                          gone_or_zombie, kill_if_alive, parse_totals, read_to_eof,
                          recv_exactly, round_trip, server_with, stop_and_wait, wait_until_gone)

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


@EVERY_API
def test_two_workers_serve_clients_end_to_end(server_with, workers_of):
    server = server_with("--workers", 2)
    assert len(workers_of(server)) == 2
    for i in range(20):
        data = b"worker round trip %d" % i
        assert round_trip(server.address, data) == data
    assert server.alive(), server.stderr_text()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=lambda s: s.name)
def test_a_stop_signal_to_the_parent_stops_the_workers_and_prints_the_totals(
        server_with, workers_of, sig):
    server = server_with("--workers", 2)
    workers = workers_of(server)
    for i in range(6):
        assert round_trip(server.address, b"hi") == b"hi"
    code, out = server.stop(sig)
    assert code == 0, server.stderr_text()
    assert parse_totals(out) == (6, 6, 12)
    assert wait_until_gone(workers)


@EVERY_API
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


@EVERY_API
@pytest.mark.parametrize("first_signal", ["to-the-parent", "to-the-process-group"])
def test_workers_serve_through_the_grace_period_until_a_second_signal(
        server_with, workers_of, first_signal):
    """The first stop signal, to the parent or (as Ctrl-C or a service
    manager sends it) to every process of its group, counts once: the open
    connection is still served; a second signal to the parent ends it with
    EOF, not a reset."""
    server = server_with("-v", "--workers", 2, "--grace", LONG_GRACE,
                         new_session=first_signal == "to-the-process-group")
    workers_of(server)
    with connect(server.address) as sock:
        if first_signal == "to-the-parent":
            os.kill(server.pid, signal.SIGTERM)
        else:
            os.killpg(server.pid, signal.SIGINT)
        server.wait_for_log(SHUTTING_DOWN, count=2)
        sock.sendall(b"grace")
        assert recv_exactly(sock, 5) == b"grace"
        os.kill(server.pid, signal.SIGINT)
        assert read_to_eof(sock) == (b"", None)
    code, out = server.wait()
    assert code == 0, server.stderr_text()
    assert parse_totals(out) == (1, 1, 5)


@EVERY_API
def test_connections_queued_when_the_order_arrives_are_served_not_reset(
        server_with, workers_of):
    """The workers are stopped (SIGSTOP) while the parent relays the signal
    and clients connect: the kernel queues the connections. Resumed, a
    worker sees its order and its listener ready in one batch; the queued
    connections are open for their clients, so they must be served."""
    server = server_with("-v", "--workers", 2, "--grace", LONG_GRACE)
    workers = workers_of(server)
    socks = []
    try:
        for pid in workers:
            stop_and_wait(pid)
        os.kill(server.pid, signal.SIGTERM)
        server.wait_for_log("stop signal 1 relayed to the workers")
        socks += [connect(server.address) for _ in range(8)]
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
        for i, sock in enumerate(socks):
            sock.sendall(b"queued %d" % i)
            assert recv_exactly(sock, 8) == b"queued %d" % i
    finally:
        for pid in workers:
            if not gone_or_zombie(pid):
                os.kill(pid, signal.SIGCONT)
        for sock in socks:
            sock.close()
    code, out = server.wait()
    assert code == 0, server.stderr_text()
    assert parse_totals(out) == (8, 8, 64)


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
