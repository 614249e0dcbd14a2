"""Graceful shutdown of the echo server (one process): a stop signal (SIGINT,
SIGTERM or SIGHUP) stops accepting, open connections are still served until
they end or --grace passes (a second signal: at once), then every connection
gets its queued replies and FIN, never a reset while its peer reads, and the
totals count the bytes the peers really received. Every --api (the reactor,
an asyncio Protocol, streams) passes the same tests."""
import os
import selectors
import signal
import threading
import time

import pytest

from echo_helpers import (EVERY_API, IO_TIMEOUT, SERVED_BY, SHUTTING_DOWN, Sender,  # noqa: F401
                          api, connect, parse_totals, read_to_eof, receive_and_compare,
                          recv_exactly, server_with)

MiB = 1024 * 1024
LONG_GRACE = 600   # longer than every hang guard: only the clients (or a 2nd signal) end it
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def signal_and_wait_for_shutdown(server, sig):
    """Send `sig` to a server started with -v and wait for its log line
    saying it has stopped accepting."""
    os.kill(server.pid, sig)
    server.wait_for_log(SHUTTING_DOWN)


@pytest.mark.parametrize("api, backend", SERVED_BY)
def test_clients_that_read_only_after_sigterm_get_every_byte_and_the_totals_match(
        server_with, backend):
    clients, size = 5, 8 * MiB
    server = server_with("-v", "--grace", LONG_GRACE, backend=backend)
    socks = [connect(server.address) for _ in range(clients)]
    payloads = [os.urandom(size) for _ in range(clients)]
    senders = [Sender(s, p, shutdown=True) for s, p in zip(socks, payloads)]
    for t in senders:
        t.start()
    time.sleep(0.3)   # the server reads until the replies back up, then stops
    signal_and_wait_for_shutdown(server, signal.SIGTERM)
    results = [None] * clients

    def read(i):
        try:
            got, first_bad = receive_and_compare(socks[i], payloads[i])
            results[i] = (got, first_bad, socks[i].recv(1))
        except OSError as exc:
            results[i] = exc

    readers = [threading.Thread(target=read, args=(i,), daemon=True) for i in range(clients)]
    for t in readers:
        t.start()
    for t in readers + senders:
        t.join(IO_TIMEOUT * 2)
    for s in socks:
        s.close()
    code, out = server.wait()
    assert [t.error for t in senders] == [None] * clients
    assert results == [(size, None, b"")] * clients   # every byte, then EOF (no reset)
    assert code == 0, server.stderr_text()
    connections, requests, nbytes = parse_totals(out)
    assert (connections, nbytes) == (clients, clients * size)
    assert requests >= clients


@EVERY_API
@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda s: s.name)
def test_a_stop_signal_stops_accepting_but_serves_open_connections_until_they_close(
        server_with, sig):
    server = server_with("-v", "--grace", LONG_GRACE)
    with connect(server.address) as sock:
        sock.sendall(b"before")
        assert recv_exactly(sock, 6) == b"before"
        signal_and_wait_for_shutdown(server, sig)
        with pytest.raises(ConnectionRefusedError):
            connect(server.address)
        for i in range(3):   # still served during the grace period
            sock.sendall(b"after %d" % i)
            assert recv_exactly(sock, 7) == b"after %d" % i
        assert server.alive()
    code, out = server.wait()   # the client closed: the server ends by itself
    assert code == 0, server.stderr_text()
    assert parse_totals(out)[0::2] == (1, 6 + 3 * 7)


@EVERY_API
@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda s: s.name)
def test_a_second_signal_ends_the_grace_period_at_once(server_with, sig):
    server = server_with("-v", "--grace", LONG_GRACE)
    with connect(server.address) as sock:
        signal_and_wait_for_shutdown(server, sig)
        sock.sendall(b"served")
        assert recv_exactly(sock, 6) == b"served"
        os.kill(server.pid, sig)
        assert read_to_eof(sock) == (b"", None)   # FIN, not a reset
    code, out = server.wait()
    assert code == 0, server.stderr_text()
    assert parse_totals(out) == (1, 1, 6)


@EVERY_API
def test_grace_expiry_closes_an_idle_connection_with_eof_not_a_reset(server_with):
    server = server_with("--grace", 0.3)
    with connect(server.address) as idle:
        os.kill(server.pid, signal.SIGTERM)
        assert read_to_eof(idle) == (b"", None)
        # The peer ignores the FIN: the server closes anyway, cleanly.
        code, out = server.wait()
        assert read_to_eof(idle) == (b"", None)
    assert code == 0, server.stderr_text()
    assert parse_totals(out) == (1, 0, 0)


@EVERY_API
def test_grace_expiry_finishes_a_busy_connection_without_reset_and_counts_what_came_back(
        server_with):
    """A client that sends and reads all the time: once the grace period is
    over it gets the echo of everything the server read, then EOF."""
    server = server_with("--grace", 0.3)
    pattern = bytes(range(251)) * 8192   # period 251: a lost or moved byte shows
    sent = received = 0
    mismatch = None
    with connect(server.address) as sock:
        sock.setblocking(False)
        os.kill(server.pid, signal.SIGTERM)
        deadline = time.monotonic() + IO_TIMEOUT * 2
        with selectors.DefaultSelector() as sel:
            sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            eof = False
            while not eof and time.monotonic() < deadline:
                for _, events in sel.select(1.0):
                    if events & selectors.EVENT_WRITE:
                        start = sent % 251
                        try:
                            sent += sock.send(pattern[start:start + 64 * 1024])
                        except BlockingIOError:
                            pass
                    if events & selectors.EVENT_READ:
                        chunk = sock.recv(MiB)   # a reset raises here and fails the test
                        eof = not chunk
                        start = received % 251
                        if mismatch is None and chunk != pattern[start:start + len(chunk)]:
                            mismatch = received
                        received += len(chunk)
    code, out = server.wait()
    assert eof, "no EOF from the server"
    assert mismatch is None
    assert 0 < received <= sent
    assert code == 0, server.stderr_text()
    assert parse_totals(out)[0::2] == (1, received)


@EVERY_API
@pytest.mark.parametrize("size, client_buffer", [(256 * 1024, 32 * 1024), (8 * MiB, None)],
                         ids=["fits-in-kernel-buffers", "backs-up-in-the-server"])
def test_a_peer_that_never_reads_is_reset_at_the_end_and_counted_for_what_it_received(
        server_with, size, client_buffer):
    """It neither reads nor closes: once the grace period and the finishing
    second are over, the server resets it; the totals count exactly the
    bytes that reached it, which it can still read before the reset."""
    server = server_with("--grace", 0.3)
    payload = os.urandom(size)
    with connect(server.address, bufsize=client_buffer) as sock:
        sender = Sender(sock, payload)   # completes once the server drops input
        sender.start()
        time.sleep(0.3)
        os.kill(server.pid, signal.SIGTERM)
        code, out = server.wait()
        sender.join(IO_TIMEOUT)
        got, error = read_to_eof(sock)
    assert sender.error is None
    assert code == 0, server.stderr_text()
    connections, _, nbytes = parse_totals(out)
    assert got == payload[:len(got)]
    assert (connections, nbytes) == (1, len(got))
    assert 0 < len(got) < size
    assert isinstance(error, ConnectionResetError)


@EVERY_API
def test_sighup_after_the_terminal_went_away_exits_zero_without_a_traceback(server_with):
    """A hangup usually means stdout is gone too: printing the totals fails
    (EPIPE here, EIO on a terminal), and the server still exits cleanly."""
    server = server_with()
    server.proc.stdout.close()   # the reader of its stdout is gone
    os.kill(server.pid, signal.SIGHUP)
    code = server.proc.wait(timeout=IO_TIMEOUT)
    assert (code, server.stderr_text()) == (0, "")
