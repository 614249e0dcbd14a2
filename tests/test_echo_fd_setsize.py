"""--backend select past 1,024 connections: select() cannot watch an fd at
or above FD_SETSIZE, so the server closes those connections; its log must
say so (not "Invalid argument"), and the connections it holds stay served."""
import time

from echo_helpers import IO_TIMEOUT, connect, recv_exactly, start_echo_server

FD_SETSIZE = 1024
CONNECTIONS = FD_SETSIZE + 60


def test_select_backend_past_fd_setsize_says_so_and_keeps_serving(nofile_limit):
    nofile_limit(CONNECTIONS + 200)   # this process holds the client ends
    server = start_echo_server("--max-buffer", 4096, backend="select", nofile=(4096, None))
    socks = []
    try:
        socks += [connect(server.address, timeout=10) for _ in range(CONNECTIONS)]
        deadline = time.monotonic() + IO_TIMEOUT
        while "accept() failed" not in server.stderr_text():
            assert time.monotonic() < deadline, "no warning past FD_SETSIZE"
            time.sleep(0.05)
        socks[0].sendall(b"first")   # accepted long before the limit
        assert recv_exactly(socks[0], 5) == b"first"
        log = server.stderr_text()
    finally:
        for sock in socks:
            sock.close()
        server.stop()
    warning = next(line for line in log.splitlines() if "accept() failed" in line)
    assert "Invalid argument" not in warning
    assert warning.endswith(
        "the accepted fd is at or above FD_SETSIZE (1024), the select backend's limit: "
        "connection closed; retrying in 0.1s"), warning
