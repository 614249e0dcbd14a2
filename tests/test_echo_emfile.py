"""RLIMIT_NOFILE = 64 for the echo server, 200 connections held open: the
server runs out of fds but must not spin on its still-readable listener
(CPU time from /proc), and once the clients go it serves again. Every
backend. Its warnings about it are rate-limited."""
import os
import re
import socket
import time

import pytest

from echo_helpers import BACKENDS, connect, round_trip, start_echo_server

HELD = 200
SETTLE = 0.3          # once out of fds: let the server settle into its retry pace
MEASURE = 1.5         # CPU sampling window
MAX_CPU_SHARE = 0.25  # of one core; a spinning loop uses ~1.0
RECOVERY_TIMEOUT = 15.0


@pytest.fixture(params=BACKENDS)
def starved_server(request):
    s = start_echo_server(backend=request.param, nofile=(64, 64))
    yield s
    s.stop()


@pytest.fixture
def held_connections(starved_server):
    socks = []
    try:
        for _ in range(HELD):
            socks.append(connect(starved_server.address, timeout=10))
        yield socks
    finally:
        for s in socks:
            s.close()


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_until_out_of_fds(server, timeout=10.0):
    """Wait until the server holds ~all of its 64 fds, then SETTLE more."""
    deadline = time.monotonic() + timeout
    while open_fds(server.pid) < 60:
        assert time.monotonic() < deadline, "the server never ran out of fds"
        time.sleep(0.02)
    time.sleep(SETTLE)


def test_server_out_of_fds_does_not_spin(starved_server, held_connections):
    wait_until_out_of_fds(starved_server)
    cpu0, t0 = starved_server.cpu_seconds(), time.monotonic()
    time.sleep(MEASURE)
    cpu1, t1 = starved_server.cpu_seconds(), time.monotonic()
    assert starved_server.alive(), starved_server.stderr_text()
    share = (cpu1 - cpu0) / (t1 - t0)
    assert share < MAX_CPU_SHARE, f"the server used {share:.0%} of a core while out of fds"


def test_server_out_of_fds_serves_again_once_the_clients_close(starved_server):
    socks = [connect(starved_server.address, timeout=10) for _ in range(HELD)]
    time.sleep(SETTLE)
    for s in socks:
        s.close()
    # The queued (now closed) connections drain first; then ours is served.
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while True:
        try:
            reply = round_trip(starved_server.address, b"back in service", timeout=5)
            break
        except (socket.timeout, ConnectionError):
            if time.monotonic() > deadline:
                raise
    assert reply == b"back in service"
    assert starved_server.alive(), starved_server.stderr_text()


def test_server_out_of_fds_keeps_serving_its_open_connections(starved_server, held_connections):
    wait_until_out_of_fds(starved_server)
    # The first connections were accepted before the fds ran out.
    sock = held_connections[0]
    sock.sendall(b"still served")
    got = b""
    while len(got) < 12:
        chunk = sock.recv(100)
        if not chunk:
            break
        got += chunk
    assert got == b"still served"


def test_out_of_fds_warnings_come_at_most_once_a_second_with_a_count():
    """The reactor retries accept() ten times a second while the fd table is
    full and warns each time; the echo server's log shows one a second."""
    server = start_echo_server(nofile=(64, 64))
    socks = []
    try:
        start = time.monotonic()
        socks += [connect(server.address, timeout=10) for _ in range(HELD)]
        server.wait_for_log("accept() failed", count=2, timeout=15)
        elapsed = time.monotonic() - start
        log = server.stderr_text()
    finally:
        for sock in socks:
            sock.close()
        server.stop()
    warnings = [line for line in log.splitlines() if "accept() failed" in line]
    assert 2 <= len(warnings) <= elapsed + 1, log
    assert "Too many open files" in warnings[0]
    assert re.search(r"\(\d+ similar messages suppressed\)$", warnings[-1]), log
