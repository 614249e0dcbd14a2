"""Echo command line: every bad option, an address that cannot be listened
on and a server that cannot be reached end with one line
`python -m pymux.echo: error: ...` on stderr and exit status 2, never a
traceback or a server on some other port; IPv6 addresses print in brackets."""
import signal
import socket
import subprocess

import pytest

from echo_helpers import (APIS, START_TIMEOUT, api, echo_command, parse_totals,  # noqa: F401
                          round_trip, server_with)

PREFIX = "python -m pymux.echo: error: "

BAD_OPTIONS = {
    "port-too-big": (["--port", "70000"], "argument --port: must be from 0 to 65535, not 70000"),
    "port-65536": (["--port", "65536"], "argument --port: must be from 0 to 65535, not 65536"),
    "port-negative": (["--port", "-1"], "argument --port: must be from 0 to 65535, not -1"),
    "idle-nan": (["--idle-timeout", "nan"],
                 "argument --idle-timeout: must be a number of seconds from 0 to 1e+09, not nan"),
    "idle-inf": (["--idle-timeout", "inf"],
                 "argument --idle-timeout: must be a number of seconds from 0 to 1e+09, not inf"),
    "idle-negative": (["--idle-timeout", "-1"],
                      "argument --idle-timeout: must be a number of seconds from 0 to 1e+09, "
                      "not -1"),
    "idle-huge": (["--idle-timeout", "1e300"],
                  "argument --idle-timeout: must be a number of seconds from 0 to 1e+09, "
                  "not 1e300"),
    "idle-word": (["--idle-timeout", "soon"],
                  "argument --idle-timeout: not a number of seconds: 'soon'"),
    "grace-nan": (["--grace", "nan"],
                  "argument --grace: must be a number of seconds from 0 to 1e+09, not nan"),
    "grace-negative": (["--grace", "-0.5"],
                       "argument --grace: must be a number of seconds from 0 to 1e+09, not -0.5"),
    "max-buffer-zero": (["--max-buffer", "0"],
                        "argument --max-buffer: must be from 1 to 4294967295, not 0"),
    "max-buffer-huge": (["--max-buffer", str(2**32)],
                        "argument --max-buffer: must be from 1 to 4294967295, not 4294967296"),
    "max-connections-negative": (["--max-connections", "-3"],
                                 "argument --max-connections: must be >= 0, not -3"),
    "workers-zero": (["--workers", "0"], "argument --workers: must be from 1 to 1024, not 0"),
    # Just past the limit: a regression forks this many, not a fork bomb.
    "workers-too-many": (["--workers", "1025"],
                         "argument --workers: must be from 1 to 1024, not 1025"),
    "workers-word": (["--workers", "two"], "argument --workers: not an integer: 'two'"),
    "host-empty": (["--host", ""],
                   "argument --host: empty host (use 0.0.0.0 or :: for every address)"),
    "host-not-local": (["--host", "192.0.2.1"],   # TEST-NET-1: never a local address
                       "cannot listen on 192.0.2.1:0: Cannot assign requested address"),
    "host-not-local-workers": (["--host", "192.0.2.1", "--workers", "2"],
                               "cannot listen on 192.0.2.1:0: Cannot assign requested address"),
    "host-not-local-protocol": (["--host", "192.0.2.1", "--api", "protocol"],
                                "cannot listen on 192.0.2.1:0: Cannot assign requested address"),
    "host-not-local-streams": (["--host", "192.0.2.1", "--api", "streams"],
                               "cannot listen on 192.0.2.1:0: Cannot assign requested address"),
    "host-not-local-ipv6": (["--host", "2001:db8::1"],   # documentation prefix
                            "cannot listen on [2001:db8::1]:0: Cannot assign requested address"),
    "connect-no-port": (["--connect", "localhost"],
                        "argument --connect: expected HOST:PORT, got 'localhost'"),
    "connect-empty-port": (["--connect", "127.0.0.1:"],
                           "argument --connect: not an integer: ''"),
    "connect-port-zero": (["--connect", "127.0.0.1:0"],
                          "argument --connect: must be from 1 to 65535, not 0"),
    "connect-port-too-big": (["--connect", "127.0.0.1:70000"],
                             "argument --connect: must be from 1 to 65535, not 70000"),
    "connect-ipv6-without-brackets": (["--connect", "::1:8088"],
                                      "argument --connect: put an IPv6 address in brackets: "
                                      "[::1]:8088"),
    "connect-unclosed-bracket": (["--connect", "[::1:8088"],
                                 "argument --connect: expected [HOST]:PORT, got '[::1:8088'"),
}


def run_echo(*args):
    """Run the echo command to its end (a server that starts anyway is
    killed at the hang guard, and the test fails)."""
    try:
        return subprocess.run(echo_command(*args), stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{args} did not exit: it printed {exc.stdout!r}") from None


def assert_one_line_error(result, message):
    assert (result.returncode, result.stderr.decode(), result.stdout) == (
        2, PREFIX + message + "\n", b"")


@pytest.mark.parametrize("args, message", BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys())
def test_a_bad_option_is_a_one_line_error_with_status_2(args, message):
    if "--port" not in args and "--connect" not in args:
        args = ["--port", "0", *args]
    assert_one_line_error(run_echo(*args), message)


def test_connect_to_a_closed_port_is_a_one_line_error_with_status_2():
    with socket.socket() as reserved:   # bound, not listening: connections are refused
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        result = run_echo("--connect", f"127.0.0.1:{port}")
    assert_one_line_error(result, f"cannot connect to 127.0.0.1:{port}: Connection refused")


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("workers", [1, 2])
def test_a_port_in_use_is_a_one_line_error_with_status_2(workers, api):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_echo("--port", port, "--workers", workers, "--api", api)
    assert_one_line_error(result, f"cannot listen on 127.0.0.1:{port}: Address already in use")


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback (::1) on this host")
@pytest.mark.parametrize("workers", [1, 2])
def test_an_ipv6_address_prints_in_brackets_and_is_served(server_with, workers):
    server = server_with("--workers", workers, host="::1")
    host, port = server.address
    assert server.listening_line == f"listening on [::1]:{port}"
    assert round_trip(server.address, b"over IPv6") == b"over IPv6"
    code, out = server.stop(signal.SIGTERM)
    assert code == 0
    assert parse_totals(out) == (1, 1, 9)


def test_help_documents_the_stop_signals_and_the_grace_period():
    result = run_echo("--help")
    text = " ".join(result.stdout.decode().split())
    assert result.returncode == 0
    assert "SIGINT, SIGTERM and SIGHUP stop the server gracefully" in text
    assert "A second signal ends the grace period at once" in text
    assert "--grace SECONDS" in text and "(default 5)" in text
