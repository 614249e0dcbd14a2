"""The echo server (`python -m pymux.echo`) on every backend and --api: byte-exact round
trips from 0 B to 64 MiB, 1,000 concurrent connections, half-close, and a
client reset in the middle of a transfer.

One server per (api, backend) serves the whole module; every test checks that it
is still alive afterwards.
"""
import random
import selectors
import socket
import struct

import pytest

from echo_helpers import (IO_TIMEOUT, SERVED_BY, Sender, connect, receive_and_compare,
                          recv_exactly, recv_until_eof, round_trip, start_echo_server)

MiB = 1024 * 1024
SIZES = {"0B": 0, "1B": 1, "64KiB": 64 * 1024, "64MiB": 64 * MiB}
BIG_BUFFERS = 4 * MiB      # client socket buffers for the big transfers
CONCURRENT = 1000
NOFILE = 4096              # for the server and for this process


@pytest.fixture(scope="module", params=SERVED_BY, ids="-".join)
def echo_server(request):
    api, backend = request.param
    server = start_echo_server(api=api, backend=backend, nofile=(NOFILE, None))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def random_bytes():
    """64 MiB of seeded random bytes (slices of it serve every size)."""
    return random.Random(64).randbytes(64 * MiB)


def assert_alive(server):
    assert server.alive(), f"the echo server died: {server.stderr_text()}"


def test_connect_and_close_without_data_gets_eof_and_no_bytes(echo_server):
    with connect(echo_server.address) as sock:
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == b""
    assert_alive(echo_server)


@pytest.mark.parametrize("size", ["1B", "64KiB"])
def test_small_payload_comes_back_byte_exact(echo_server, random_bytes, size):
    data = random_bytes[:SIZES[size]]
    assert round_trip(echo_server.address, data) == data
    assert_alive(echo_server)


def test_nul_and_high_bytes_come_back_byte_exact(echo_server):
    data = bytes(range(256)) * 4 + b"\0" * 1000
    assert round_trip(echo_server.address, data) == data


def test_64_mib_payload_comes_back_byte_exact(echo_server, random_bytes):
    data = random_bytes
    with connect(echo_server.address, bufsize=BIG_BUFFERS) as sock:
        sender = Sender(sock, data)
        sender.start()
        got, first_difference = receive_and_compare(sock, data)
        sender.join(IO_TIMEOUT)
    assert sender.error is None
    assert first_difference is None, f"first wrong byte at offset {first_difference}"
    assert got == len(data)
    assert_alive(echo_server)


def test_thousand_concurrent_connections_each_get_their_own_bytes_back(
        nofile_limit, echo_server):
    nofile_limit(NOFILE)
    address = echo_server.address
    payloads = [(f"connection {i:04d};" * 64).encode() for i in range(CONCURRENT)]
    received = [bytearray() for _ in range(CONCURRENT)]
    sent = [0] * CONCURRENT
    failures = {}
    socks = []
    with selectors.DefaultSelector() as sel:
        try:
            for i in range(CONCURRENT):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(sock)
                sock.setblocking(False)
                sock.connect_ex(address)
                sel.register(sock, selectors.EVENT_WRITE, i)
            pending = CONCURRENT
            idle_rounds = 0
            while pending and idle_rounds < IO_TIMEOUT:   # ~1 s per idle round
                events = sel.select(timeout=1.0)
                idle_rounds = 0 if events else idle_rounds + 1
                for key, mask in events:
                    i, sock = key.data, key.fileobj
                    try:
                        if mask & selectors.EVENT_WRITE:
                            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                            if err:
                                raise OSError(err, "connect failed")
                            sent[i] += sock.send(payloads[i][sent[i]:])
                            if sent[i] == len(payloads[i]):
                                sel.modify(sock, selectors.EVENT_READ, i)
                        elif mask & selectors.EVENT_READ:
                            chunk = sock.recv(65536)
                            if not chunk:
                                raise EOFError("closed before the whole echo came back")
                            received[i] += chunk
                            if len(received[i]) >= len(payloads[i]):
                                sel.unregister(sock)
                                pending -= 1
                    except (OSError, EOFError) as exc:
                        failures[i] = exc
                        sel.unregister(sock)
                        pending -= 1
        finally:
            for sock in socks:
                sock.close()
    assert failures == {}
    wrong = [i for i in range(CONCURRENT) if received[i] != payloads[i]]
    assert wrong == [], f"{len(wrong)} connections got wrong or missing bytes"
    assert_alive(echo_server)


def test_half_close_gets_every_byte_back_then_eof(echo_server, random_bytes):
    data = random_bytes[:4 * MiB]
    with connect(echo_server.address, bufsize=BIG_BUFFERS) as sock:
        sender = Sender(sock, data, shutdown=True)
        sender.start()
        got = recv_until_eof(sock, limit=len(data))
        sender.join(IO_TIMEOUT)
    assert sender.error is None
    assert len(got) == len(data)
    assert got == data
    assert_alive(echo_server)


def test_half_close_after_one_byte_gets_it_back_then_eof(echo_server):
    with connect(echo_server.address) as sock:
        sock.sendall(b"x")
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == b"x"


def test_client_reset_mid_transfer_leaves_other_clients_unaffected(echo_server, random_bytes):
    data = random_bytes[:16 * MiB]
    with connect(echo_server.address, bufsize=BIG_BUFFERS) as other:
        sender = Sender(other, data)
        sender.start()
        # The client that resets: sends a lot, reads nothing, so the server
        # is busy writing to it (and has queued bytes) when the RST arrives.
        with connect(echo_server.address) as rude:
            rude.settimeout(0.5)
            try:
                for _ in range(64):
                    rude.sendall(random_bytes[:64 * 1024])
            except socket.timeout:
                pass   # the server stopped reading it: enough is in flight
            rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        got, first_difference = receive_and_compare(other, data)
        sender.join(IO_TIMEOUT)
    assert sender.error is None
    assert first_difference is None, f"first wrong byte at offset {first_difference}"
    assert got == len(data)
    assert round_trip(echo_server.address, b"after the reset") == b"after the reset"
    assert_alive(echo_server)


def test_many_sequential_connections_are_served(echo_server):
    for i in range(50):
        data = f"sequential {i}".encode()
        with connect(echo_server.address) as sock:
            sock.sendall(data)
            assert recv_exactly(sock, len(data)) == data
    assert_alive(echo_server)
