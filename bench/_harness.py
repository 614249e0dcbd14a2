"""Benchmark plumbing shared by the bench/ scripts (a small library, no CLI).

- ``build(src)``: compile a C source in bench/ with gcc into bench/.build/,
  only when the source is newer than the binary.
- ``Server``: start a server from an argv list, parse the ``listening on
  HOST:PORT`` first stdout line, read its CPU time, RSS and fd count from
  /proc, stop it by PID (SIGTERM, then SIGKILL).
- ``run_loadgen`` / ``measure``: drive the C load generator and turn the
  server's CPU time into microseconds per request.
- ``idle_rss_per_conn``: server RSS growth per idle connection.
- ``syscalls_per_request``: ``strace -c -f -p PID`` around a measured run
  (``None`` when strace is missing or cannot attach).
- ``Session``: the run loop bench_echo.py and run.py share: CPU placement,
  the failure log, starting and warming up a server, every (size,
  connections) cell per rep with the server order rotated, strace.
- report helpers: ``ints``, ``fmt``, ``top_syscalls``, ``failures_md``,
  ``machine_meta``.
- ``Progress``: one-line progress display on stderr.
"""
import importlib.util
import json
import os
import platform
import re
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BUILD_DIR = BENCH / ".build"
SERVERS = BENCH / "servers"
CFLAGS = ("-O2", "-Wall", "-Wextra")
CLK_TCK = os.sysconf("SC_CLK_TCK")
LISTEN_RE = re.compile(r"^listening on (\S+):(\d+)\s*$")


# --------------------------------------------------------------------------- setup

def raise_nofile_limit():
    """Raise RLIMIT_NOFILE to the hard limit (children inherit it); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def build(src, name=None, flags=CFLAGS, libs=()):
    """Compile bench-relative C source ``src`` into BUILD_DIR if it is stale."""
    src = (BENCH / src).resolve()
    out = BUILD_DIR / (name or src.stem)
    if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
        return out
    if shutil.which("gcc") is None:
        raise RuntimeError("gcc not found: needed to build " + str(src))
    BUILD_DIR.mkdir(exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
    cmd = ["gcc", *flags, "-o", str(tmp), str(src), *libs]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"build failed: {' '.join(cmd)}\n{res.stderr}")
    if res.stderr.strip():
        print(res.stderr, file=sys.stderr, end="")
    os.replace(tmp, out)                 # atomic: concurrent runs never see half a file
    return out


def placement(mode):
    """CPU sets (loadgen, server) for mode 'none', 'split' (a CPU each) or 'same'.

    On VMs a request that wakes a process on an idle *other* CPU costs the
    woken server ~15 us more CPU than one on the same CPU, and the scheduler
    picks either way per run; pinning makes the choice explicit and repeatable.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if mode == "none" or len(cpus) < 2:
        return None, None
    if mode == "split":
        return {cpus[0]}, {cpus[1]}
    if mode == "same":
        return {cpus[-1]}, {cpus[-1]}
    raise ValueError(f"unknown placement {mode!r}")


def pin(pid, cpus):
    """Pin pid and its live descendants (all their threads) to cpus."""
    for p in process_tree(pid):
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                os.sched_setaffinity(int(tid), cpus)
        except OSError:                  # exited meanwhile
            pass


def loadgen_path():
    return build("loadgen.c")


def python_env():
    """Environment for Python servers: make the source tree's pymux importable."""
    env = dict(os.environ)
    if importlib.util.find_spec("pymux") is None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


# --------------------------------------------------------------------------- /proc

def _children(pid):
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def process_tree(pid):
    """pid and its live descendants (workers of a multi-process server)."""
    seen, todo = [], [pid]
    while todo and len(seen) < 10000:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def cpu_seconds(pid):
    """utime + stime of pid and its live descendants, in seconds (tick resolution)."""
    total = 0
    for p in process_tree(pid):
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()   # comm may contain spaces
        total += int(fields[11]) + int(fields[12])       # utime, stime (fields 14, 15)
    return total / CLK_TCK


def rss_kb(pid):
    """VmRSS of pid and its live descendants, in KiB."""
    total = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


# --------------------------------------------------------------------------- servers

class ServerStartError(RuntimeError):
    pass


class Server:
    """A server subprocess started from ``argv``; use as a context manager."""

    def __init__(self, argv, name=None, env=None, start_timeout=15.0, preexec_fn=None):
        self.argv = [str(a) for a in argv]
        self.name = name or Path(self.argv[0]).name
        self._errf = tempfile.TemporaryFile(mode="w+b")
        self._tail = []                  # later stdout lines, kept for diagnostics
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._errf,
                                     env=env, start_new_session=True,
                                     preexec_fn=preexec_fn)
        self.pid = self.proc.pid
        try:
            self.host, self.port = self._read_listening(start_timeout)
        except BaseException:
            self.stop()
            raise
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()

    def _read_listening(self, timeout):
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + timeout
            line = b""
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise ServerStartError(f"no 'listening on' line within "
                                           f"{timeout:.0f}s{self._why()}")
                chunk = os.read(self.proc.stdout.fileno(), 1)   # never read past the line
                if not chunk:
                    self.proc.wait(timeout=5)
                    raise ServerStartError(f"exited with status {self.proc.returncode}"
                                           f"{self._why()}")
                line += chunk
        m = LISTEN_RE.match(line.decode(errors="replace"))
        if not m:
            raise ServerStartError(f"first line was {line!r}, "
                                   f"expected 'listening on HOST:PORT'{self._why()}")
        return m.group(1), int(m.group(2))

    def _drain(self):
        for line in self.proc.stdout:
            self._tail = (self._tail + [line.decode(errors="replace")])[-20:]

    def stderr_tail(self, n=800):
        self._errf.seek(0)
        return self._errf.read().decode(errors="replace")[-n:]

    def _why(self):
        tail = self.stderr_tail().strip()
        return f": {tail.splitlines()[-1]}" if tail else ""

    def alive(self):
        return self.proc.poll() is None

    def cpu_seconds(self):
        return cpu_seconds(self.pid)

    def rss_kb(self):
        return rss_kb(self.pid)

    def fd_count(self):
        return fd_count(self.pid)

    def stop(self, timeouts=(5.0, 3.0)):
        """SIGTERM, then SIGKILL, each after a timeout; return status.

        SIGTERM, not SIGINT: a process started with SIGINT ignored (a shell's
        background job) passes SIG_IGN on, and a server may leave it so.
        """
        for sig, t in zip((signal.SIGTERM, signal.SIGKILL), timeouts):
            if self.proc.poll() is not None:
                break
            # SIGKILL cannot be forwarded: kill the server's descendants too, by PID.
            for pid in process_tree(self.pid) if sig == signal.SIGKILL else [self.pid]:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(timeout=t)
            except subprocess.TimeoutExpired:
                continue
        rc = self.proc.wait(timeout=10)
        drainer = getattr(self, "_drainer", None)
        if drainer is not None:
            drainer.join(timeout=2)      # EOF once the server (and its children) exit
        if drainer is None or not drainer.is_alive():
            self.proc.stdout.close()
        self._errf.close()
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.returncode is None:
            self.stop()


# --------------------------------------------------------------------------- load

def loadgen_argv(host, port, connections=1, size=64, duration=None, requests=None,
                 warmup=0.0, upper=False, timeout=None):
    argv = [str(loadgen_path()), "--host", host, "--port", str(port),
            "--connections", str(connections), "--size", str(size)]
    argv += ["--requests", str(requests)] if requests else ["--duration", str(duration)]
    if warmup:
        argv += ["--warmup", str(warmup)]
    if upper:
        argv.append("--upper")
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


def warm_up(server, seconds=1.0, connections=10, size=1024, upper=False):
    """Load a fresh server for a while: first requests are slow (allocator, caches)."""
    return run_loadgen(server.host, server.port, connections=connections, size=size,
                       duration=seconds, upper=upper)


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


# --------------------------------------------------------------------------- strace

def strace_available():
    return shutil.which("strace") is not None


_STRACE_ROW = re.compile(r"^\s*([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(\d+\s+)?(\w+)\s*$")


def parse_strace_summary(text):
    """{syscall: calls} from an ``strace -c`` table (the 'total' row excluded)."""
    calls = {}
    for line in text.splitlines():
        m = _STRACE_ROW.match(line)
        if m and m.group(6) != "total":
            calls[m.group(6)] = calls.get(m.group(6), 0) + int(m.group(4))
    return calls


def syscalls_per_request(server, requests=5000, attach_timeout=10.0, **kw):
    """Syscalls the server makes per request under ``strace -c -f -p``, or None."""
    if not strace_available():
        return None
    with tempfile.NamedTemporaryFile(mode="r", suffix=".strace") as summary:
        st = subprocess.Popen(["strace", "-c", "-f", "-o", summary.name, "-p", str(server.pid)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        try:
            attached = _wait_for_attach(st, attach_timeout)
            if not attached:
                return None
            time.sleep(0.2)
            r = run_loadgen(server.host, server.port, requests=requests,
                            timeout=max(60.0, requests / 200), **kw)
        finally:
            if st.poll() is None:
                st.send_signal(signal.SIGINT)        # strace detaches and writes the summary
            try:
                st.wait(timeout=30)
            except subprocess.TimeoutExpired:
                st.kill()
                st.wait()
        calls = parse_strace_summary(summary.read())
    done = r.get("total_requests") or 0
    if not calls or not done:
        return None
    total = sum(calls.values())
    top = sorted(calls.items(), key=lambda kv: -kv[1])[:6]
    return {"requests": done, "errors": r["errors"], "syscalls": total,
            "per_request": total / done,
            "top": {k: v / done for k, v in top}}


def _wait_for_attach(st, timeout):
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(st.stderr, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(deadline - time.monotonic()):
                break
            line = st.stderr.readline()
            if not line:
                return False                            # strace exited: cannot attach
            if "attached" in line:
                threading.Thread(target=st.stderr.read, daemon=True).start()
                return True
    return False


# --------------------------------------------------------------------------- sessions

class Session:
    """One benchmark run over several servers: what bench_echo.py and run.py share.

    A subclass sets ``self.entries`` (server names, study models, ...),
    ``self.cells`` ([(size, conns)]) and ``self.progress`` (a Progress), and
    defines ``name_of(entry)``, ``argv_of(entry)`` and ``run_extras()`` (what
    runs after the reps); it may override ``cannot(entry, conns)`` (why a
    cell cannot run, or None) and ``load_run(srv, entry, size, conns)``. A failure is recorded in
    ``self.failures`` and reported; the run goes on with the others.
    """

    def __init__(self, args):
        self.a = args
        self.env = python_env()
        loadgen_cpus, self.server_cpus = placement(args.pin)
        if loadgen_cpus:
            os.sched_setaffinity(0, loadgen_cpus)      # loadgen runs inherit it
        self.raw = []                   # one dict per (rep, entry, cell) load run
        self.failures = {}              # name -> [messages]
        self.syscalls = {}              # name -> strace summary or {"error": ...}

    def cannot(self, entry, conns):
        return None

    def fail(self, name, msg):
        msg = " ".join(str(msg).split())           # one line, for the markdown report
        self.failures.setdefault(name, []).append(msg)
        self.progress.note(f"!! {name}: {msg}")

    def start(self, entry):
        """Start and warm up an entry's server, or record why not and return None."""
        name = self.name_of(entry)
        try:
            srv = Server(self.argv_of(entry), name=name, env=self.env)
        except (ServerStartError, RuntimeError, OSError) as e:
            self.fail(name, f"failed to start: {e}")
            return None
        if self.server_cpus:
            pin(srv.pid, self.server_cpus)
        if self.a.server_warmup:
            try:
                w = warm_up(srv, self.a.server_warmup, upper=self.a.upper)
                if w["errors"] or w["mismatched_bytes"] or not w["requests"]:
                    raise RuntimeError(f"{w['errors']} errors, {w['mismatched_bytes']} bad "
                                       f"bytes, {w['requests']} requests")
            except Exception as e:                     # noqa: BLE001: record, go on
                self.fail(name, f"warm-up failed: {e}")
                srv.stop()
                return None
        return srv

    def load_run(self, srv, entry, size, conns):
        """One measured cell: ``measure``'s result dict (raises on failure)."""
        return measure(srv, connections=conns, size=size, duration=self.a.duration,
                       warmup=self.a.warmup, upper=self.a.upper)

    def run_cells(self, rep, entries):
        """One rep: each entry (order rotated per rep) started once for every cell."""
        k = rep % len(entries)
        for entry in entries[k:] + entries[:k]:
            name = self.name_of(entry)
            label = f"rep {rep + 1}/{self.a.reps}: {name}"
            self.progress.show(f"{label}: starting")
            srv = self.start(entry)
            if srv is None:
                self.progress.step(len(self.cells))
                continue
            with srv:
                for i, (size, conns) in enumerate(self.cells):
                    self.progress.show(f"{label} {size} B x {conns} conn")
                    self.progress.step()
                    if self.cannot(entry, conns):
                        continue
                    try:
                        r = self.load_run(srv, entry, size, conns)
                    except Exception as e:             # noqa: BLE001: record, go on
                        self.fail(name, f"{size} B x {conns}: load run failed: {e}")
                        continue
                    self.raw.append(dict(r, rep=rep, cell=[size, conns]))
                    if not srv.alive():
                        self.fail(name, f"died during {size} B x {conns} (status "
                                        f"{srv.proc.returncode}): {srv.stderr_tail(300)}")
                        self.progress.step(len(self.cells) - i - 1)
                        break

    def run(self):
        """Every rep, then run_extras(); Ctrl-C keeps what was measured."""
        try:
            for rep in range(self.a.reps):
                self.run_cells(rep, self.entries)
            self.run_extras()
        except KeyboardInterrupt:
            self.progress.note("interrupted: reporting what was measured")
        self.progress.close()

    def with_server(self, entry, what, fn):
        """fn(server) on a freshly started server; {"error": ...} if it fails."""
        srv = self.start(entry)
        if srv is None:
            return {"error": "failed to start"}
        with srv:
            try:
                return fn(srv)
            except Exception as e:                     # noqa: BLE001
                self.fail(self.name_of(entry), f"{what}: {e}")
                return {"error": str(e)}

    def strace(self, entry, size, requests):
        """Syscalls per request at 10 connections x ``size`` B, or {"error": ...}."""
        self.progress.show(f"syscalls/request under strace: {self.name_of(entry)}")
        self.progress.step()
        if not strace_available():
            return {"error": "strace not installed"}
        return self.with_server(entry, "strace", lambda s: syscalls_per_request(
            s, requests=requests, connections=10, size=size, upper=self.a.upper)
            or {"error": "strace could not attach"})


# --------------------------------------------------------------------------- report

def ints(text):
    """"1,10,100" -> [1, 10, 100] (an argparse type)."""
    return [int(x) for x in text.split(",") if x]


def fmt(x, spec=".0f", none="n/a"):
    return none if x is None else format(x, spec)


def top_syscalls(summary):
    """"epoll_wait 1.02, sendto 1.00, ...": the top syscalls per request of a strace summary."""
    return ", ".join(f"{k} {v:.2f}" for k, v in summary["top"].items() if v >= 0.005)


def failures_md(failures):
    """A markdown ``### Failures`` section (as a list of lines), each message once with its count."""
    if not failures:
        return []
    lines = ["", "### Failures", ""]
    for name, msgs in failures.items():
        for msg in dict.fromkeys(msgs):          # unique, in order
            n = msgs.count(msg)
            lines.append(f"- {name}: {msg}" + (f" (x{n})" if n > 1 else ""))
    return lines


def machine_meta(settings):
    """Run settings plus the machine: Python, platform, CPU model and count, load, time."""
    def read(path):
        try:
            return Path(path).read_text().strip()
        except OSError:
            return None
    cpu = next((line.split(":", 1)[1].strip() for line in (read("/proc/cpuinfo") or "").splitlines()
                if line.startswith("model name")), None)
    return {"args": settings, "python": sys.version, "platform": platform.platform(),
            "cpu": cpu, "ncpu": os.cpu_count(), "loadavg": read("/proc/loadavg"),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


# --------------------------------------------------------------------------- display

def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


class Progress:
    """``[ 7/45  15%  eta 2m10s] label`` on stderr; redraws in place on a tty."""

    def __init__(self, total, stream=sys.stderr):
        self.total, self.done, self.stream = max(total, 1), 0, stream
        self.t0 = time.monotonic()
        self.tty = stream.isatty()

    def show(self, label):
        el = time.monotonic() - self.t0
        eta = el / self.done * (self.total - self.done) if self.done else 0
        eta_s = f"eta {int(eta // 60)}m{int(eta % 60):02d}s" if self.done else "eta ?"
        line = f"[{self.done:>3}/{self.total} {100 * self.done // self.total:3d}%  {eta_s}] {label}"
        if self.tty:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def step(self, n=1):
        self.done = min(self.total, self.done + n)

    def note(self, msg):
        """A message that stays on screen."""
        self.stream.write(("\r\033[K" if self.tty else "") + msg + "\n")
        self.stream.flush()

    def close(self):
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(f"done in {time.monotonic() - self.t0:.0f}s\n")
        self.stream.flush()
