"""Drive the C load generator (bench/loadgen.c, built on first use) against a server.

- ``run_loadgen``: one closed-loop pass; its JSON result as a dict.
- ``measure``: one pass with the server's CPU time per request added.
- ``warm_up``: load a fresh server for a while before measuring it.
- ``warm_up_until_steady``: the same for a JIT-compiled server, in windows,
  until two in a row agree on its CPU per request.
- ``idle_rss_per_conn``: server RSS growth per idle connection.
"""
import json
import re
import resource
import selectors
import subprocess
import time

from harness.c_build import build


def loadgen_path():
    return build("loadgen.c")


def loadgen_argv(host, port, connections=1, size=64, duration=None, requests=None,
                 warmup=0.0, upper=False, http=False, timeout=None):
    """upper: expect the echo in upper case; http: GET requests to an HTTP
    "hello" server instead of echo payloads (``size`` is then not used)."""
    argv = [str(loadgen_path()), "--host", host, "--port", str(port),
            "--connections", str(connections), "--size", str(size)]
    argv += ["--requests", str(requests)] if requests else ["--duration", str(duration)]
    if warmup:
        argv += ["--warmup", str(warmup)]
    if upper:
        argv.append("--upper")
    if http:
        argv.append("--http")
    if timeout:
        argv += ["--timeout", str(timeout)]
    return argv


def run_loadgen(host, port, **kw):
    """Run one load generator pass; return its JSON result as a dict."""
    argv = loadgen_argv(host, port, **kw)
    budget = float(kw.get("timeout") or (kw.get("warmup", 0) + (kw.get("duration") or 0) + 30))
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = subprocess.run(argv, capture_output=True, text=True, timeout=budget + 30)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = res.stdout.strip().splitlines()
    if res.returncode != 0 or not lines:
        raise RuntimeError(f"loadgen failed (status {res.returncode}): {res.stderr.strip()}")
    r = json.loads(lines[-1])
    # Only loadgen is reaped meanwhile, so the children delta is its CPU time: near
    # elapsed_s means the client, not the server, was the bottleneck.
    r["loadgen_cpu_s"] = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return r


def warm_up(server, seconds=1.0, connections=10, size=1024, **options):
    """Load a fresh server for a while: first requests are slow (allocator, caches).
    ``options``: loadgen_argv's upper or http."""
    return run_loadgen(server.host, server.port, connections=connections, size=size,
                       duration=seconds, **options)


JIT_WINDOW = 2.0            # seconds of load per warm-up window of a JIT-compiled server
STEADY = 0.05               # two windows agree when their CPU per request is this close
# PyPy's JIT compiles in stages: two early windows can agree on a plateau
# that a later stage leaves (seen: 8.2 and 7.8 us, then 6 us).
MIN_JIT_WINDOWS = 3


def warm_up_until_steady(server, max_seconds, window=JIT_WINDOW, tolerance=STEADY, **options):
    """Load a server in ``window``-second runs (10 x 1 KiB) until two in a row
    agree within ``tolerance`` on its CPU per request (after at least
    MIN_JIT_WINDOWS), or ``max_seconds`` pass.

    For a server under a JIT (PyPy), whose speed changes while hot loops are
    compiled. Returns each window's ``measure`` result dict; raises
    RuntimeError if one had errors.
    """
    windows = []
    while len(windows) * window < max_seconds:
        r = measure(server, connections=10, size=1024, duration=window, **options)
        if r["errors"] or r["mismatched_bytes"] or not r["requests"]:
            raise RuntimeError(f"{r['errors']} errors, {r['mismatched_bytes']} bad bytes, "
                               f"{r['requests']} requests")
        windows.append(r)
        if len(windows) >= MIN_JIT_WINDOWS and steady([w["cpu_us_per_req"] for w in windows],
                                                      tolerance):
            break
    return windows


def steady(cpus, tolerance=STEADY):
    """True if the last two of ``cpus`` (CPU us per request) agree within ``tolerance``."""
    if len(cpus) < 2 or None in cpus[-2:]:
        return False
    a, b = cpus[-2:]
    return abs(b - a) <= tolerance * a


def measure(server, warmup=0.0, **kw):
    """One load run against ``server`` with its CPU cost per request added.

    A warm-up is a separate loadgen run with the same parameters, so that the
    server CPU read around the measured run covers only measured requests
    (plus C connects and closes). Warm-up errors are reported, not hidden.
    """
    warm_errors = 0
    if warmup:
        w = run_loadgen(server.host, server.port, duration=warmup,
                        **{k: v for k, v in kw.items() if k not in ("duration", "requests")})
        warm_errors = w["errors"] + w["mismatched_bytes"]
    cpu0 = server.cpu_seconds()
    r = run_loadgen(server.host, server.port, **kw)
    cpu = server.cpu_seconds() - cpu0
    r["warmup_errors"] = warm_errors
    r["server_cpu_s"] = cpu
    # CPU covers the whole loadgen run, so divide by every request it completed.
    done = r.get("total_requests") or 0
    r["cpu_us_per_req"] = cpu / done * 1e6 if done else None
    r["server_rss_kb"] = server.rss_kb()
    r["server_alive"] = server.alive()
    return r


def _wait_until(cond, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def idle_rss_per_conn(server, n, settle=1.0, timeout=120.0):
    """Server RSS growth per idle connection, with ``n`` connections held open."""
    run_loadgen(server.host, server.port, connections=4, size=64, requests=200)  # warm paths
    time.sleep(settle)
    fds0, rss0 = server.fd_count(), server.rss_kb()
    argv = [str(loadgen_path()), "--host", server.host, "--port", str(server.port),
            "--idle", str(n), "--timeout", str(timeout)]
    lg = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    out = {"n": n, "rss_before_kb": rss0}
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(lg.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise RuntimeError("loadgen --idle: no 'ready' line")
        ready = lg.stdout.readline()
        m = re.match(r"ready connected=(\d+) failed=(\d+)", ready)
        if not m:
            raise RuntimeError(f"loadgen --idle: unexpected line {ready!r}")
        connected = int(m.group(1))
        out.update(connected=connected, failed=int(m.group(2)))
        # Connected on the client side is not yet accepted by the server: wait for its fds.
        out["accepted_all"] = _wait_until(lambda: server.fd_count() >= fds0 + connected,
                                          timeout=min(timeout, 60))
        time.sleep(settle)
        out["fds_added"] = server.fd_count() - fds0
        out["rss_after_kb"] = rss1 = server.rss_kb()
        out["kb_per_conn"] = (rss1 - rss0) / connected if connected else None
    finally:
        try:
            lg.stdin.close()
            lg.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            lg.kill()
            lg.wait()
    out["fds_back_to_baseline"] = _wait_until(lambda: server.fd_count() <= fds0, 30)
    return out
