"""Every echo server of bench/servers/ (by its name in the registry) and the study driver.

Every server is started as the harness starts it (``--port 0``, first line
``listening on HOST:PORT``) and must echo byte-exact through bench/loadgen.c
(10 connections, small and 256 KiB messages, so partial sends happen, in
``--upper`` mode), survive peers that half-close or reset, and stop cleanly
(exit status 0) on SIGINT and on SIGTERM, SIGINT even when it was started
with SIGINT ignored (as a shell starts ``cmd &``). Then: the thread pool
really starves connections beyond its threads, select() turns away fds >=
FD_SETSIZE, the selectors model fails clearly without pymux.selectors, the
driver reports such failures and limits in its table instead of crashing, and
bench_echo.py --python runs the Python servers under another interpreter too.
The HTTP "hello" servers (asyncio streams on each loop) answer GET with
keep-alive, HEAD, a bad request and Connection: close as HTTP/1.1 says,
serve loadgen.c --http byte-correct, and stop on SIGTERM; loadgen --http
rejects what is not that response.
"""
import os
import re
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))
from harness.loadgen import loadgen_path, run_loadgen  # noqa: E402
from harness.server_process import ServerProcess, python_env  # noqa: E402
from servers.registry import BY_NAME, SERVERS_DIR  # noqa: E402

HOST = "127.0.0.1"
ECHO_SERVERS = [name for name, server in BY_NAME.items() if not server.http]
HTTP_SERVERS = [name for name, server in BY_NAME.items() if server.http]
HELLO_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"

# A sitecustomize that makes `import pymux.selectors` fail, as on a checkout
# where it does not exist yet.
HIDE_SELECTORS = '''
import sys
class _HidePymuxSelectors:
    def find_spec(self, name, path=None, target=None):
        if name == "pymux.selectors":
            raise ModuleNotFoundError("No module named 'pymux.selectors'", name=name)
        return None
sys.meta_path.insert(0, _HidePymuxSelectors())
'''


def server_argv(name, upper=False):
    """The registry's argv for a server; skipped where it needs a module not installed."""
    why = BY_NAME[name].missing()
    if why:
        pytest.skip(why)
    return BY_NAME[name].argv(HOST, upper)


def program_argv(program, *extra):
    return [sys.executable, str(SERVERS_DIR / program), "--port", "0", *extra]


@pytest.fixture(scope="module")
def loadgen():
    loadgen_path()                   # build once (gcc), before any server starts


@pytest.fixture
def start(request):
    """start(argv, env=None, preexec_fn=None) -> a running ServerProcess; every server
    is stopped at teardown."""
    servers = []

    def make(argv, env=None, preexec_fn=None):
        srv = ServerProcess(argv, env=env or python_env(), start_timeout=20, preexec_fn=preexec_fn)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        if srv.alive():
            srv.stop()


def stopped_by(srv, sig, timeout=10):
    """Send sig; the exit status (None if it did not exit within timeout)."""
    os.kill(srv.pid, sig)
    try:
        return srv.proc.wait(timeout=timeout)
    except Exception:                  # noqa: BLE001: reported by the assert
        return None


def recv_exactly(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def test_every_program_in_the_servers_folder_is_in_the_registry():
    programs = {p.name for p in SERVERS_DIR.iterdir()
                if p.suffix in (".py", ".c") and not p.name.startswith("_")}
    assert programs - {"registry.py"} == {s.program for s in BY_NAME.values()}


@pytest.mark.parametrize("name", ECHO_SERVERS)
def test_server_echoes_byte_exact_and_stops_on_sigint(name, loadgen, start):
    srv = start(server_argv(name, upper=True))
    for size, requests in ((100, 400), (256 * 1024, 20)):
        r = run_loadgen(srv.host, srv.port, connections=10, size=size, requests=requests,
                          upper=True, timeout=30)
        assert (r["errors"], r["mismatched_bytes"], r["requests"]) == (0, 0, requests), r
        assert r["conn_min_requests"] > 0, f"a connection got no reply: {r}"
    assert srv.alive()
    assert stopped_by(srv, signal.SIGINT) == 0, srv.stderr_tail()


def ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("name", BY_NAME)
def test_server_stops_on_sigint_even_when_started_with_sigint_ignored(name, start):
    # A shell starts a background job (`cmd &`) with SIGINT ignored, and the
    # child inherits that: the server must still make Ctrl-C (SIGINT) stop it.
    srv = start(server_argv(name), preexec_fn=ignore_sigint)
    assert stopped_by(srv, signal.SIGINT) == 0, srv.stderr_tail()


@pytest.mark.parametrize("name", ECHO_SERVERS)
def test_server_survives_closed_connections_and_stops_on_sigterm(name, start):
    srv = start(server_argv(name))
    addr = (srv.host, srv.port)
    payload = bytes(range(256)) * 1024                     # 256 KiB: many partial sends
    # A peer that half-closes gets every byte back, then EOF.
    with socket.create_connection(addr, timeout=10) as c:
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        assert recv_exactly(c, len(payload)) == payload
        assert c.recv(1) == b"", "no EOF after the echo of a half-closed connection"
    # A peer that resets with unsent replies pending must not break the server.
    with socket.create_connection(addr, timeout=10) as c:
        c.sendall(payload)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))   # RST
    # A connection still open at SIGTERM does not stop a clean exit.
    idle = socket.create_connection(addr, timeout=10)
    with socket.create_connection(addr, timeout=10) as c:
        c.sendall(b"still serving")
        assert recv_exactly(c, 13) == b"still serving"
    assert srv.alive()
    assert stopped_by(srv, signal.SIGTERM) == 0, srv.stderr_tail()
    idle.close()


def read_response(sock):
    """One HTTP response: (its head, its body), read by its Content-Length."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        if not byte:
            raise AssertionError(f"EOF inside a response head: {head!r}")
        head += byte
    length = [int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
              if line.startswith(b"content-length:")]
    assert len(length) == 1, head
    return head, recv_exactly(sock, length[0])


@pytest.mark.parametrize("name", HTTP_SERVERS)
def test_http_server_answers_get_on_a_kept_alive_connection_and_stops_on_sigterm(name, start):
    srv = start(server_argv(name))
    with socket.create_connection((srv.host, srv.port), timeout=10) as c:
        for path in (b"/", b"/again", b"/"):   # one connection: keep-alive
            c.sendall(b"GET %s HTTP/1.1\r\nHost: test\r\n\r\n" % path)
            assert read_response(c) == (HELLO_HEAD, b"Hello, World!")
        c.sendall(b"HEAD / HTTP/1.1\r\nHost: test\r\n\r\n")
        c.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")   # HEAD had no body
        assert recv_exactly(c, len(HELLO_HEAD)) == HELLO_HEAD
        assert read_response(c) == (HELLO_HEAD, b"Hello, World!")
        c.sendall(b"DELETE / HTTP/1.1\r\nHost: test\r\n\r\n")
        head, body = read_response(c)
        assert head.startswith(b"HTTP/1.1 405 ") and body == b""
        c.sendall(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert read_response(c) == (HELLO_HEAD, b"Hello, World!")
        assert c.recv(1) == b"", "still open after Connection: close"
    for bad in (b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", b"nonsense\r\n\r\n"):
        with socket.create_connection((srv.host, srv.port), timeout=10) as c:
            c.sendall(bad)
            head, _ = read_response(c)
            assert head.startswith(b"HTTP/1.1 400 "), (bad, head)
            assert c.recv(1) == b""
    assert srv.alive()
    assert stopped_by(srv, signal.SIGTERM) == 0, srv.stderr_tail()


@pytest.mark.parametrize("name", HTTP_SERVERS)
def test_http_server_serves_the_load_generator_correct_responses(name, loadgen, start):
    srv = start(server_argv(name))
    r = run_loadgen(srv.host, srv.port, connections=10, requests=2000, http=True, timeout=30)
    assert (r["errors"], r["mismatched_bytes"], r["requests"]) == (0, 0, 2000), r
    assert r["conn_min_requests"] > 0, f"a connection got no response: {r}"
    assert stopped_by(srv, signal.SIGINT) == 0, srv.stderr_tail()


def test_loadgen_http_mode_rejects_what_is_not_the_hello_response(loadgen, start):
    # An echo server sends the GET back: not a 200 response.
    srv = start(server_argv("c-floor"))
    r = run_loadgen(srv.host, srv.port, connections=2, requests=10, http=True, timeout=30)
    assert r["requests"] == 0 and r["errors"] == 2 and r["mismatched_requests"] == 2, r


def test_pool_starves_connections_beyond_its_threads(start):
    srv = start(program_argv("blocking_pool.py", "--threads", "2"))
    conns = [socket.create_connection((srv.host, srv.port), timeout=10) for _ in range(3)]
    try:
        for i, c in enumerate(conns):
            c.sendall(b"hello %d" % i)
        assert recv_exactly(conns[0], 7) == b"hello 0"
        assert recv_exactly(conns[1], 7) == b"hello 1"
        conns[2].settimeout(0.5)
        with pytest.raises(socket.timeout):
            conns[2].recv(7)                               # queued: no worker is free
        conns[0].close()                                   # frees a worker
        conns[2].settimeout(10)
        assert recv_exactly(conns[2], 7) == b"hello 2"
    finally:
        for c in conns:
            c.close()


def open_files_limit(pid):
    """The 'Max open files' line of /proc/PID/limits (for a failure message)."""
    try:
        with open(f"/proc/{pid}/limits") as f:
            return next((line.strip() for line in f if line.startswith("Max open files")), "?")
    except OSError as e:
        return repr(e)


def test_select_model_turns_away_fds_beyond_fd_setsize(start):
    wanted = 2200                                          # 1030 connections and room to spare
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is too low for 1030 connections")

    def raise_server_limit():
        # Set in the child, so the server's limit does not depend on the
        # test process's at the moment of the fork (a limit of 1024 would
        # make its accept() fail with EMFILE before any fd reaches 1024).
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))

    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))   # for the clients
    clients = []
    try:
        srv = start(program_argv("select_loop.py"), preexec_fn=raise_server_limit)
        for _ in range(1030):                              # server fds pass 1023
            clients.append(socket.create_connection((srv.host, srv.port), timeout=10))
        deadline = time.monotonic() + 30
        while "FD_SETSIZE" not in srv.stderr_tail() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "FD_SETSIZE" in srv.stderr_tail(), (
            f"no refusal reported: server alive={srv.alive()}, {srv.fd_count()} fds open, "
            f"{open_files_limit(srv.pid)}")
        clients[0].sendall(b"ping")                        # a low fd is still served
        assert recv_exactly(clients[0], 4) == b"ping"
        clients[-1].settimeout(10)                         # a high one was closed
        assert clients[-1].recv(4) == b""
        assert srv.alive()
    finally:
        for c in clients:
            c.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize("name", ["c-uring", "uring"])
def test_uring_server_keeps_serving_others_while_a_peer_does_not_read(start, name):
    # A peer that never reads stalls its own connection (c-uring: its one
    # send waits in the kernel; uring: its recv is cancelled above the high
    # water mark), not the others.
    srv = start(server_argv(name))
    stalled = socket.create_connection((srv.host, srv.port), timeout=10)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.setblocking(False)
    sent = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sent < 64 * 1024 * 1024:
        try:
            sent += stalled.send(b"x" * 65536)
        except BlockingIOError:
            if not select.select([], [stalled], [], 1.0)[1]:
                break                   # full for a second: the server stopped reading
    assert sent < 64 * 1024 * 1024, "the server read everything: no backpressure"
    with socket.create_connection((srv.host, srv.port), timeout=10) as c:
        for i in range(20):
            c.sendall(b"ping %d" % i)
            assert recv_exactly(c, len(b"ping %d" % i)) == b"ping %d" % i
    stalled.close()
    assert srv.alive()


@pytest.fixture
def env_without_pymux_selectors(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(HIDE_SELECTORS)
    env = python_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    return env


def test_selectors_model_without_pymux_selectors_fails_clearly(env_without_pymux_selectors):
    res = subprocess.run(program_argv("selectors_callbacks.py"), env=env_without_pymux_selectors,
                         capture_output=True, text=True, timeout=30)
    assert res.returncode != 0
    assert "listening on" not in res.stdout            # fails before it announces itself
    assert "pymux.selectors" in res.stderr and "--stdlib" in res.stderr, res.stderr


@pytest.mark.parametrize("argv, says", [
    (["--loop", "pymux", "--backend", "nonesuch"], "unknown backend 'nonesuch'"),
    (["--loop", "asyncio", "--backend", "epoll"], "--backend is for --loop pymux"),
])
def test_asyncio_server_refuses_a_bad_backend_clearly(argv, says):
    res = subprocess.run(program_argv("asyncio_echo.py", *argv), env=python_env(),
                         capture_output=True, text=True, timeout=30)
    assert res.returncode != 0
    assert "listening on" not in res.stdout
    assert says in res.stderr and "Traceback" not in res.stderr, res.stderr


def test_driver_reports_limits_and_failures_instead_of_crashing(
        loadgen, tmp_path, monkeypatch, env_without_pymux_selectors, capsys):
    import study
    monkeypatch.setenv("PYTHONPATH", env_without_pymux_selectors["PYTHONPATH"])
    out = tmp_path / "results"
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)     # the driver raises it
    try:
        study.main(["--models", "select,selectors-callbacks", "--conns", "1,1100", "--sizes", "64",
                    "--reps", "1", "--duration", "0.2", "--warmup", "0",
                    "--server-warmup", "0.1", "--strace-requests", "0", "--idle-max", "30",
                    "--idle-rounds", "1",
                    "--pin", "none", "--out", str(out), "--no-plots"])
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, limits)
    md = (out / "study.md").read_text()
    rows = {tuple(c.strip() for c in line.split("|")[1:4]): line
            for line in md.splitlines() if line.startswith("| 64 |")}
    assert "| ok" in rows[("64", "1", "select")], md
    assert "cannot run: select() cannot watch fd >= FD_SETSIZE" in rows[("64", "1100", "select")]
    assert "FAILED: failed to start" in rows[("64", "1", "selectors-callbacks")], md
    assert "pymux.selectors" in rows[("64", "1", "selectors-callbacks")]
    [idle] = [line for line in md.splitlines() if line.startswith("| 30 |")]  # idle scaling
    n, select_us, poll_us, epoll_us, uring_us, _ = (c.strip() for c in idle.split("|")[1:-1])
    assert float(select_us) > 0 and float(poll_us) > 0 and float(epoll_us) > 0, idle
    from pymux import uring
    assert float(uring_us) > 0 if uring.available() else uring_us.startswith("n/a"), idle
    assert (out / "study.json").exists()
    capsys.readouterr()


def test_driver_reports_a_model_the_kernel_refuses_with_the_reason(tmp_path, monkeypatch,
                                                                  capsys):
    import study
    from pymux import uring
    refusal = "io_uring is disabled by sysctl kernel.io_uring_disabled=2"
    monkeypatch.setattr(uring, "unavailable_reason", lambda: refusal)
    out = tmp_path / "results"
    study.main(["--models", "uring", "--conns", "1", "--sizes", "64", "--reps", "1",
                "--duration", "0.2", "--warmup", "0", "--server-warmup", "0.1",
                "--strace-requests", "10", "--idle-max", "10", "--idle-rounds", "1",
                "--pin", "none", "--out", str(out), "--no-plots"])
    md = (out / "study.md").read_text()
    [row] = [line for line in md.splitlines() if line.startswith("| 64 | 1 | uring |")]
    assert f"cannot run: io_uring is refused here: {refusal}" in row, md
    assert "FAILED" not in md                             # not started, so not failed
    [strace_row] = [line for line in md.splitlines() if line.startswith("| uring |")]
    assert refusal in strace_row
    [idle] = [line for line in md.splitlines() if line.startswith("| 10 |")]
    assert idle.split("|")[5].strip() == f"n/a ({refusal})", idle   # the io_uring column
    capsys.readouterr()


def verified(row):
    """A bench_echo report row whose check column says every byte (every HTTP
    response) was right and every rep ran. An 'unfair' remark is allowed: it
    is about how evenly a short run's connections were served, not an error."""
    check = row.split("|")[-2].strip()
    return check == "ok" or re.fullmatch(r"ok, unfair: min/max requests per conn [0-9.]+", check)


def test_bench_echo_runs_the_python_servers_under_another_interpreter_too(loadgen, capsys):
    import bench_echo
    from harness.interpreter import Interpreter
    other = Interpreter(sys.executable)      # another path to this one: what --python does
    bench_echo.main(["--servers", "pymux,c-floor", "--python", sys.executable, "--reps", "1",
                     "--duration", "0.3", "--warmup", "0", "--server-warmup", "0.2",
                     "--jit-warmup", "2", "--sizes", "64", "--conns", "1", "--pin", "none",
                     "--idle-conns", "0", "--strace-requests", "0"])
    out = capsys.readouterr().out
    rows = {line.split("|")[3].strip(): line for line in out.splitlines()
            if line.startswith("| 64 | 1 |")}
    assert set(rows) == {"pymux", f"pymux@{other.tag}", "c-floor"}, out
    assert all(verified(row) for row in rows.values()), out
    assert f"pymux@{other.tag}: {other}" in out                    # which interpreter ran it
    if other.jit:                 # PyPy: warmed up in windows, which the report lists
        assert f"| pymux@{other.tag} | " in out.split("### JIT warm-up")[1], out


def test_bench_echo_runs_each_of_several_interpreters_under_its_own_name(loadgen, capsys):
    # --python twice with the same interpreter (two pymux checkouts look
    # alike): each gets its own entries, the second tagged TAG-2.
    import bench_echo
    from harness.interpreter import Interpreter
    tag = Interpreter(sys.executable).tag
    bench_echo.main(["--servers", "pymux", "--python", sys.executable, "--python", sys.executable,
                     "--reps", "1", "--duration", "0.3", "--warmup", "0", "--server-warmup", "0.2",
                     "--jit-warmup", "2", "--sizes", "64", "--conns", "1", "--pin", "none",
                     "--idle-conns", "0", "--strace-requests", "0"])
    out = capsys.readouterr().out
    rows = {line.split("|")[3].strip(): line for line in out.splitlines()
            if line.startswith("| 64 | 1 |")}
    assert set(rows) == {"pymux", f"pymux@{tag}", f"pymux@{tag}-2"}, out
    assert all(verified(row) for row in rows.values()), out


def test_bench_echo_drives_the_http_servers(loadgen, capsys):
    import bench_echo
    bench_echo.main(["--servers", ",".join(HTTP_SERVERS), "--reps", "1", "--duration", "0.3",
                     "--warmup", "0", "--server-warmup", "0.2", "--sizes", "64", "--conns", "10",
                     "--pin", "none", "--idle-conns", "0", "--strace-requests", "0"])
    out = capsys.readouterr().out
    rows = {line.split("|")[3].strip(): line for line in out.splitlines()
            if line.startswith("| 64 | 10 |")}
    ran = {name for name in HTTP_SERVERS if BY_NAME[name].missing() is None}
    assert set(rows) == ran, out
    assert all(verified(row) for row in rows.values()), out
