"""Echo server processes: SIGINT prints the totals and exits 0 (every --api), and the
--connect interactive client. (Graceful shutdown: test_echo_shutdown.py;
--workers: test_echo_workers.py.)"""
import signal
import subprocess
import sys

import pytest

from echo_helpers import (APIS, STOP_TIMEOUT, connect, parse_totals, recv_exactly, round_trip,
                          start_echo_server)


@pytest.mark.parametrize("api", APIS)
def test_sigint_prints_the_totals_and_exits_zero(api):
    server = start_echo_server(api=api)
    try:
        for i in range(3):
            assert round_trip(server.address, b"12345") == b"12345"
        code, out = server.stop(signal.SIGINT)
    finally:
        server.stop(signal.SIGKILL)
    assert code == 0, server.stderr_text()
    connections, requests, nbytes = parse_totals(out)
    assert connections == 3
    assert 3 <= requests <= 15
    assert nbytes == 15


@pytest.mark.parametrize("api", APIS)
def test_sigint_counts_connections_still_open(api):
    server = start_echo_server("--grace", 0.2, api=api)
    sock = connect(server.address)
    try:
        sock.sendall(b"open")
        assert recv_exactly(sock, 4) == b"open"
        code, out = server.stop(signal.SIGINT)
    finally:
        sock.close()
        server.stop(signal.SIGKILL)
    assert code == 0
    assert parse_totals(out) == (1, 1, 4)


@pytest.mark.parametrize("api", APIS)
def test_sigterm_exits_zero_too(api):
    server = start_echo_server(api=api)
    try:
        code, out = server.stop(signal.SIGTERM)
    finally:
        server.stop(signal.SIGKILL)
    assert code == 0
    assert parse_totals(out) == (0, 0, 0)


def test_connect_mode_echoes_stdin_lines():
    server = start_echo_server()
    try:
        host, port = server.address
        client = subprocess.run(
            [sys.executable, "-m", "pymux.echo", "--connect", f"{host}:{port}"],
            input=b"hello\nsecond line\n\xc3\xa9t\xc3\xa9\n", capture_output=True,
            timeout=STOP_TIMEOUT)
    finally:
        server.stop()
    assert client.returncode == 0, client.stderr
    assert client.stdout == b"hello\nsecond line\n\xc3\xa9t\xc3\xa9\n"


def test_connect_mode_against_an_upper_server_prints_the_replies():
    server = start_echo_server("--upper")
    try:
        host, port = server.address
        client = subprocess.run(
            [sys.executable, "-m", "pymux.echo", "--connect", f"{host}:{port}"],
            input=b"shout\n", capture_output=True, timeout=STOP_TIMEOUT)
    finally:
        server.stop()
    assert client.returncode == 0, client.stderr
    assert client.stdout == b"SHOUT\n"
