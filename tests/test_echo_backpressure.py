"""A client that sends up to 100 MB and never reads: the echo server must
stop reading from it once its reply buffer reaches --max-buffer, so the
client's send blocks and the server's memory stays flat (RSS, from /proc).
Every backend and --api."""
import select
import time

import pytest

from echo_helpers import (SERVED_BY, connect, env_for_memory_measurement, receive_and_compare,
                          start_echo_server)

MiB = 1024 * 1024
MAX_BUFFER = 1 * MiB
TOTAL = 100 * 1000 * 1000
# The server may hold its reply queue (up to --max-buffer plus one read
# chunk, maybe doubled by realloc) and some allocator slack; a server that
# keeps reading would hold tens of MB.
RSS_GROWTH_LIMIT = 3 * MAX_BUFFER + 2 * MiB
BLOCKED_FOR = 1.0      # no send progress for this long: the client is blocked (a loaded
                       # machine can stall the server for a moment; it is not blocked then)
SEND_DEADLINE = 30.0   # hang guard for the whole send phase
WARM_UP = 4 * MiB


@pytest.fixture(params=SERVED_BY, ids="-".join)
def server(request):
    api, backend = request.param
    s = start_echo_server("--max-buffer", MAX_BUFFER, api=api, backend=backend,
                          env=env_for_memory_measurement())
    yield s
    s.stop()


def send_until_blocked(sock, data, total):
    """Send data[0:total] (data repeated) without blocking, until nothing more
    goes out for BLOCKED_FOR seconds or all went out. Returns the bytes sent."""
    sock.setblocking(False)
    view = memoryview(data)
    sent = 0
    deadline = time.monotonic() + SEND_DEADLINE
    while sent < total and time.monotonic() < deadline:
        _, writable, _ = select.select([], [sock], [], BLOCKED_FOR)
        if not writable:
            break
        start = sent % len(data)
        try:
            sent += sock.send(view[start:start + min(total - sent, MiB)])
        except BlockingIOError:
            pass
    return sent


def warm_up(server):
    """Echo WARM_UP bytes through the server and read them back, so that its
    baseline RSS already holds what serving costs once (PyPy's JIT compiles
    the hot paths then: machine code and traces, a few MB)."""
    data = b"\x5a" * WARM_UP
    with connect(server.address) as sock:
        sock.sendall(data)
        assert receive_and_compare(sock, data) == (WARM_UP, None)


def test_client_that_never_reads_is_not_read_either_and_server_memory_stays_flat(server):
    chunk = b"\xa5" * (1 * MiB)
    warm_up(server)
    rss_before = server.rss_bytes()
    with connect(server.address) as sock:
        sent = send_until_blocked(sock, chunk, TOTAL)
        rss_blocked = server.rss_bytes()
        # Still blocked a moment later, and the server did not grow meanwhile.
        more = send_until_blocked(sock, chunk, TOTAL)
        rss_after = server.rss_bytes()
    assert server.alive(), server.stderr_text()
    assert sent < TOTAL, "the whole 100 MB went out: the server never stopped reading"
    assert more < 4 * MiB
    growth = max(rss_blocked, rss_after) - rss_before
    assert growth < RSS_GROWTH_LIMIT, (
        f"server RSS grew by {growth / MiB:.1f} MiB while the client had sent "
        f"{sent / MiB:.1f} MiB")


def test_client_that_stops_reading_then_reads_gets_every_byte_back(server):
    # Everything that went out before the client blocked includes bytes the
    # server left unread; they come back only if it resumes reading.
    data = bytes(range(251)) * (80 * 1024)   # ~20 MB, a period prime to the chunk sizes
    with connect(server.address) as sock:
        sent = send_until_blocked(sock, data, len(data))
        sock.setblocking(True)
        sock.settimeout(15)
        received = bytearray()
        while len(received) < sent:
            chunk = sock.recv(MiB)
            if not chunk:
                break
            received += chunk
    assert 0 < sent < len(data)
    assert len(received) == sent
    assert received == data[:sent]
