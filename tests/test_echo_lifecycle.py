"""Echo server processes: SIGINT prints the totals and exits 0, --workers 2
serves and shuts down on SIGTERM, and the --connect interactive client."""
import os
import re
import signal
import subprocess
import sys
import time

from echo_helpers import STOP_TIMEOUT, connect, recv_exactly, round_trip, start_echo_server

TOTALS = re.compile(r"^totals: (\d+) connections, (\d+) requests, (\d+) bytes$")


def children(pid):
    """PIDs of the direct children of `pid` (Linux 3.5+)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def gone_or_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_sigint_prints_the_totals_and_exits_zero():
    server = start_echo_server()
    try:
        for i in range(3):
            assert round_trip(server.address, b"12345") == b"12345"
        code, out = server.stop(signal.SIGINT)
    finally:
        server.stop(signal.SIGKILL)
    assert code == 0, server.stderr_text()
    lines = out.strip().splitlines()
    assert len(lines) == 1 and TOTALS.match(lines[0]), out
    connections, requests, nbytes = map(int, TOTALS.match(lines[0]).groups())
    assert connections == 3
    assert 3 <= requests <= 15
    assert nbytes == 15


def test_sigint_counts_connections_still_open():
    server = start_echo_server()
    sock = connect(server.address)
    try:
        sock.sendall(b"open")
        assert recv_exactly(sock, 4) == b"open"
        code, out = server.stop(signal.SIGINT)
    finally:
        sock.close()
        server.stop(signal.SIGKILL)
    assert code == 0
    assert TOTALS.match(out.strip()).groups() == ("1", "1", "4")


def test_sigterm_exits_zero_too():
    server = start_echo_server()
    try:
        code, out = server.stop(signal.SIGTERM)
    finally:
        server.stop(signal.SIGKILL)
    assert code == 0
    assert TOTALS.match(out.strip()), out


def test_two_workers_serve_clients_end_to_end():
    server = start_echo_server("--workers", 2)
    try:
        assert len(children(server.pid)) == 2
        for i in range(20):
            data = b"worker round trip %d" % i
            assert round_trip(server.address, data) == data
        assert server.alive(), server.stderr_text()
    finally:
        server.stop(signal.SIGTERM)


def test_sigterm_stops_the_workers_and_the_parent_cleanly():
    server = start_echo_server("--workers", 2)
    workers = children(server.pid)
    try:
        for i in range(6):
            assert round_trip(server.address, b"hi") == b"hi"
        code, out = server.stop(signal.SIGTERM)
    finally:
        server.stop(signal.SIGKILL)
        for pid in workers:   # only if they outlived their parent
            if not gone_or_zombie(pid):
                os.kill(pid, signal.SIGKILL)
    assert len(workers) == 2
    assert code == 0, server.stderr_text()
    match = TOTALS.match(out.strip())
    assert match, out
    assert match.groups()[0] == "6" and match.groups()[2] == "12"
    deadline = time.monotonic() + STOP_TIMEOUT
    while not all(gone_or_zombie(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(gone_or_zombie(pid) for pid in workers)


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
