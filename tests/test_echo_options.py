"""Echo server options: --idle-timeout, --upper, --max-connections; the
same tests for every --api (the reactor, an asyncio Protocol, streams)."""
import socket
import time

from echo_helpers import (EVERY_API, api, connect, recv_exactly, round_trip,  # noqa: F401
                          server_with)

pytestmark = EVERY_API

IDLE = 0.5
IDLE_GUARD = 10.0   # hang guard: the idle close must come well before this


def wait_for_close(sock, timeout):
    """Seconds until the server closes `sock` (EOF or reset), reading nothing else."""
    sock.settimeout(timeout)
    start = time.monotonic()
    try:
        data = sock.recv(100)
    except ConnectionResetError:
        data = b""
    assert data == b"", f"unexpected bytes {data!r}"
    return time.monotonic() - start


def assert_closed_by_the_server(address):
    """The server accepts and drops a connection: the reset may even beat
    connect() to its return, or the client's first send."""
    try:
        sock = connect(address)
    except ConnectionError:
        return
    with sock:
        try:
            sock.sendall(b"one too many")
        except ConnectionError:
            return
        wait_for_close(sock, IDLE_GUARD)


def test_idle_timeout_closes_a_silent_connection(server_with):
    server = server_with("--idle-timeout", IDLE)
    with connect(server.address) as sock:
        wait_for_close(sock, IDLE_GUARD)


def test_idle_timeout_does_not_close_a_silent_connection_early(server_with):
    server = server_with("--idle-timeout", IDLE)
    for _ in range(3):   # different phases against the server's sweep timer
        start = time.monotonic()
        with connect(server.address) as sock:
            elapsed = (time.monotonic() - start) + wait_for_close(sock, IDLE_GUARD)
        assert elapsed >= IDLE, f"closed after {elapsed:.3f} s of silence"
        time.sleep(0.04)


def test_idle_timeout_counts_from_the_last_request(server_with):
    # A 1 s timeout against 0.2 s gaps: a slow (loaded, sanitized) server or
    # client still answers every request well within the timeout.
    idle = 1.0
    server = server_with("--idle-timeout", idle)
    with connect(server.address) as sock:
        for i in range(7):   # active for 7 x 0.2 s, longer than the timeout
            time.sleep(0.2)
            last_sent = time.monotonic()   # the server sees the request after this
            sock.sendall(b"ping")
            assert recv_exactly(sock, 4) == b"ping"
        wait_for_close(sock, IDLE_GUARD)
        assert time.monotonic() - last_sent >= idle


def test_upper_replies_in_upper_case(server_with):
    server = server_with("--upper")
    assert round_trip(server.address, b"hello, World 123\n") == b"HELLO, WORLD 123\n"


def test_without_upper_replies_unchanged(server_with):
    server = server_with()
    assert round_trip(server.address, b"hello, World\n") == b"hello, World\n"


def test_max_connections_refuses_the_connection_beyond_the_limit(server_with):
    limit = 3
    server = server_with("--max-connections", limit)
    held = []
    try:
        for i in range(limit):
            sock = connect(server.address)
            held.append(sock)
            sock.sendall(b"in %d" % i)   # served: counted by the server now
            assert recv_exactly(sock, 4) == b"in %d" % i
        assert_closed_by_the_server(server.address)
        for i, sock in enumerate(held):   # the first N are untouched
            sock.sendall(b"ok %d" % i)
            assert recv_exactly(sock, 4) == b"ok %d" % i
    finally:
        for sock in held:
            sock.close()


def test_max_connections_admits_a_new_client_after_one_leaves(server_with):
    server = server_with("--max-connections", 1)
    assert round_trip(server.address, b"first") == b"first"
    # The first client is gone; the server may see that a moment later.
    deadline = time.monotonic() + IDLE_GUARD
    while True:
        try:
            reply = round_trip(server.address, b"second", timeout=2)
        except (ConnectionError, socket.timeout):
            reply = b""
        if reply == b"second" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert reply == b"second"
