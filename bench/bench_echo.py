"""Echo server comparison: pymux vs stdlib selectors, asyncio, uvloop and a C floor.

    python bench/bench_echo.py [--quick] [--reps 5] [--duration 2] [--sizes 64,1024,16384]
                               [--conns 1,10,100] [--servers pymux,selectors,...]
                               [--python PATH ...] [--upper] [--idle-conns 10000] [--json out.json]

The servers are chosen by name from bench/servers/registry.py (any of its
names, the study's models too); the default is pymux, selectors, asyncio,
uvloop and c-floor. The same asyncio Protocol and streams echo servers run
on the stdlib loop, uvloop and pymux.aio (asyncio, uvloop, pymux-aio,
asyncio-streams, uvloop-streams, pymux-aio-streams), and an HTTP/1.1
"hello" server on asyncio streams on each (http-asyncio, http-uvloop,
http-pymux-aio): the load generator sends it keep-alive GETs (--sizes is
not used for it) and checks every response. With --python PATH (for example a PyPy venv's python
with pymux installed) the Python servers also run under that interpreter,
side by side, named NAME@TAG (pymux@pypy3.9); --python may be given more
than once (two checkouts of pymux: before and after a change, in one run;
a second interpreter with the same tag is NAME@TAG-2). A server under a JIT (PyPy)
is warmed up in 2 s windows (at least three) until two in a row agree within
5% on its CPU per request (at most --jit-warmup seconds); the report lists
the windows.

One interleaved run: for each rep, for each server (order rotated per rep),
start the server, run every (size, connections) cell with the C load
generator, stop it. Reports medians over reps of requests/s, p50/p99 latency
and server CPU us per request, with CPU ratios to pymux and to the C floor;
then syscalls per request (strace -c, 1 KiB x 10 connections, if strace is
installed) and server RSS growth per idle connection. A server that fails to
start is reported as such and the run goes on with the others.
"""
import argparse
import json

from harness.interpreter import THIS, Interpreter
from harness.loadgen import (JIT_WINDOW, STEADY, idle_rss_per_conn, loadgen_path, steady,
                             warm_up_until_steady)
from harness.proc import raise_nofile_limit
from harness.progress import Progress
from harness.report import failures_md, fmt, machine_meta, median
from harness.session import Session, ints
from harness.strace import top_syscalls
from servers.registry import BY_NAME, ECHO_COMPARISON, URING_COMPARISON

HOST = "127.0.0.1"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--servers", default=",".join(ECHO_COMPARISON),
                   help="comma-separated names from bench/servers/registry.py")
    p.add_argument("--uring", action="store_const", dest="servers",
                   const=",".join(URING_COMPARISON),
                   help=f"--servers {','.join(URING_COMPARISON)}: pymux on epoll and on "
                        f"io_uring beside the C floors of both")
    p.add_argument("--sizes", type=ints, default=[64, 1024, 16384])
    p.add_argument("--conns", type=ints, default=[1, 10, 100])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--duration", type=float, default=2.0, help="seconds per cell")
    p.add_argument("--warmup", type=float, default=0.3, help="seconds before each cell")
    p.add_argument("--server-warmup", type=float, default=1.0,
                   help="seconds of load (10 x 1 KiB) after each server start")
    p.add_argument("--python", metavar="PATH", action="append", default=[],
                   help="also run the Python servers under this interpreter (pymux installed); "
                        "repeatable (two pymux checkouts: before/after in one run)")
    p.add_argument("--jit-warmup", type=float, default=30.0,
                   help="at most this many seconds of warm-up for a server under a JIT")
    p.add_argument("--upper", action="store_true", help="servers upper-case, loadgen checks it")
    p.add_argument("--idle-conns", type=int, default=10000, help="0 skips the idle test")
    p.add_argument("--strace-requests", type=int, default=5000, help="0 skips strace")
    p.add_argument("--pin", choices=("same", "split", "none"), default="same",
                   help="same: loadgen and server share one CPU (default: repeatable CPU "
                        "per request); split: a CPU each (server-bound req/s, but 1-conn "
                        "cells then pay idle-CPU wake-ups); none: scheduler's choice")
    p.add_argument("--json", metavar="PATH", help="write raw results here")
    p.add_argument("--quick", action="store_true", help="~1 minute smoke run")
    a = p.parse_args(argv)
    if a.quick:
        a.reps, a.duration, a.warmup, a.server_warmup = 1, 1.0, 0.2, 0.5
        a.jit_warmup = min(a.jit_warmup, 16.0)
        a.sizes, a.conns = [64, 16384], [1, 100]
        a.idle_conns = min(a.idle_conns, 2000)
        a.strace_requests = min(a.strace_requests, 2000)
    if a.reps < 1 or a.duration <= 0:
        p.error("--reps must be >= 1 and --duration > 0")
    unknown = set(a.servers.split(",")) - set(BY_NAME)
    if unknown:
        p.error(f"unknown server(s) {', '.join(sorted(unknown))}; choose from {', '.join(BY_NAME)}")
    return a


class Bench(Session):
    def __init__(self, args):
        super().__init__(args)
        self.cells = [(s, c) for s in args.sizes for c in args.conns]
        self.interpreters = {}          # entry -> the Interpreter its server runs under (C: None)
        self.servers, self.skipped = [], {}
        others = [Interpreter(path) for path in args.python]
        for other in others:
            if not other.can_import("pymux._mux", env=self.env):
                raise SystemExit(f"bench_echo.py: error: --python {other.path}: pymux does "
                                 f"not import there; install it there first "
                                 f"({other.path} -m pip install -e .)")
        tags = interpreter_tags(others)
        for name in args.servers.split(","):
            server = BY_NAME[name]
            for interp in [THIS] + (others if server.is_python else []):
                entry = name if interp is THIS else f"{name}@{tags[interp]}"
                why = server.missing(interp)
                if why:
                    self.skipped[entry] = why
                else:
                    self.servers.append(entry)
                    self.interpreters[entry] = interp if server.is_python else None
        self.entries = self.servers
        self.idle = {}
        self.warmups = {}               # entry -> [the CPU us/request of each warm-up window]
        n = len(self.servers)
        self.progress = Progress(args.reps * n * len(self.cells)
                                   + (n if args.strace_requests else 0)
                                   + (n if args.idle_conns else 0))

    def name_of(self, name):
        return name

    def argv_of(self, name):
        return BY_NAME[name.split("@")[0]].argv(HOST, self.a.upper,
                                                  self.interpreters[name] or THIS)

    def warm_up(self, srv, name):
        interp = self.interpreters[name]
        if interp is None or not interp.jit:
            return super().warm_up(srv, name)
        windows = warm_up_until_steady(srv, self.a.jit_warmup, **self.load_options(name))
        self.warmups.setdefault(name, []).append([w["cpu_us_per_req"] for w in windows])

    def load_options(self, name):
        return BY_NAME[name.split("@")[0]].load_options(self.a.upper)

    def load_run(self, srv, name, size, conns):
        return dict(super().load_run(srv, name, size, conns), server=name)

    def run_extras(self):
        if self.a.strace_requests:
            for name in self.servers:
                self.syscalls[name] = self.strace(name, 1024, self.a.strace_requests)
        if self.a.idle_conns:
            for name in self.servers:
                self.progress.show(f"idle memory, {self.a.idle_conns} connections: {name}")
                self.progress.step()
                self.idle[name] = self.with_server(name, "idle", lambda s: idle_rss_per_conn(
                    s, self.a.idle_conns))


# --------------------------------------------------------------------------- report

def summarize(bench):
    """Medians per (server, cell) over reps."""
    out = []
    for name in bench.servers:
        for size, conns in bench.cells:
            runs = [r for r in bench.raw if r["server"] == name and r["cell"] == [size, conns]]
            row = {"server": name, "size": size, "conns": conns, "reps": len(runs)}
            if runs:
                rps = [r["rps"] for r in runs]
                row.update(rps=median(rps), p50_us=median([r["p50_us"] for r in runs]),
                           p99_us=median([r["p99_us"] for r in runs]),
                           cpu_us=median([r["cpu_us_per_req"] for r in runs]),
                           rps_spread=(max(rps) - min(rps)) / median(rps)
                           if len(rps) > 1 and median(rps) else None,
                           fairness=median([r["conn_min_requests"] / r["conn_max_requests"]
                                              for r in runs if r["conn_max_requests"]]),
                           client_busy=median([r["loadgen_cpu_s"] / r["elapsed_s"]
                                                 for r in runs if r["elapsed_s"]]),
                           errors=sum(r["errors"] + r["warmup_errors"] for r in runs),
                           mismatched_bytes=sum(r["mismatched_bytes"] for r in runs),
                           requests=sum(r["requests"] for r in runs))
            out.append(row)
    return out


def interpreter_tags(interpreters):
    """{interpreter: its tag in entry names}: Interpreter.tag, numbered from
    the second on when two share it (pypy3.9, pypy3.9-2)."""
    tags, seen = {}, {}
    for interp in interpreters:
        seen[interp.tag] = seen.get(interp.tag, 0) + 1
        tags[interp] = interp.tag if seen[interp.tag] == 1 else f"{interp.tag}-{seen[interp.tag]}"
    return tags


def by_interpreter(bench):
    """[(interpreter, [entries])] in the order the entries run."""
    groups = {}
    for name in bench.servers:
        groups.setdefault(bench.interpreters[name], []).append(name)
    return list(groups.items())


def ratio(a, b):
    return None if a is None or not b else a / b


def report(bench, summary):
    lines = [f"## Echo benchmark: medians of {bench.a.reps} reps, {bench.a.duration:g} s per cell"
             f", CPU placement --pin {bench.a.pin}{', --upper' if bench.a.upper else ''}", "",
             "Servers run on: " + "; ".join(
                 f"{', '.join(names)}: {interp or 'native code'}"
                 for interp, names in by_interpreter(bench)) + ".",
             "",
             "CPU = server CPU time (utime+stime) per request; x pymux / x C floor = "
             "this server's CPU per request divided by pymux's / the C floor's. "
             "check: every echoed byte (HTTP: every response) verified; 'unfair' when the least served connection "
             "got under half the requests of the most served one.", "",
             "| size B | conns | server | req/s | p50 us | p99 us | CPU us/req | x pymux | x C floor "
             "| rps spread | check |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    by = {(r["server"], r["size"], r["conns"]): r for r in summary}
    for size, conns in bench.cells:
        ref = by.get(("pymux", size, conns), {}).get("cpu_us")
        floor = by.get(("c-floor", size, conns), {}).get("cpu_us")
        for name in bench.servers:
            r = by[(name, size, conns)]
            if not r["reps"]:
                why = (bench.failures.get(name) or ["no data"])[-1]
                lines.append(f"| {size} | {conns} | {name} | {why} ||||||||")
                continue
            ok = "ok" if r["errors"] == 0 and r["mismatched_bytes"] == 0 and r["requests"] else \
                f"ERR {r['errors']} errors, {r['mismatched_bytes']} bad bytes"
            if conns > 1 and r["fairness"] is not None and r["fairness"] < 0.5:
                ok += f", unfair: min/max requests per conn {r['fairness']:.2f}"
            if r["reps"] != bench.a.reps:
                ok += f" ({r['reps']} reps)"
            lines.append(
                f"| {size} | {conns} | {name} | {fmt(r['rps'])} | {fmt(r['p50_us'], '.1f')} "
                f"| {fmt(r['p99_us'], '.1f')} | {fmt(r['cpu_us'], '.2f')} "
                f"| {fmt(ratio(r['cpu_us'], ref), '.2f')} | {fmt(ratio(r['cpu_us'], floor), '.2f')} "
                f"| {fmt(r['rps_spread'], '.0%')} | {ok} |")
    for name, why in bench.skipped.items():
        lines.append(f"\n{name}: skipped ({why})")
    if bench.syscalls:
        lines += ["", "### Syscalls per request (strace -c -f, 1 KiB x 10 connections)", "",
                  "| server | syscalls/req | top syscalls per request |", "|---|---:|---|"]
        for name in bench.servers:
            s = bench.syscalls.get(name) or {"error": "not run"}
            if "error" in s:
                lines.append(f"| {name} | n/a | {s['error'][:80]} |")
            else:
                top = top_syscalls(s)
                lines.append(f"| {name} | {s['per_request']:.2f} | {top} |")
    if bench.warmups:
        lines += ["", f"### JIT warm-up: server CPU us/request of each {JIT_WINDOW:g} s window "
                      f"(10 x 1 KiB), per server start", "",
                  f"| server | windows | steady (last two within {STEADY:.0%}) |", "|---|---|---|"]
        for name, starts in bench.warmups.items():
            for cpus in starts:
                lines.append(f"| {name} | {', '.join(fmt(c, '.2f') for c in cpus)} "
                             f"| {'yes' if steady(cpus) else 'NO: raise --jit-warmup'} |")
    if bench.idle:
        lines += ["", "### Idle memory: server RSS growth per idle connection", "",
                  "| server | connections | RSS before MiB | RSS after MiB | KB/conn |",
                  "|---|---:|---:|---:|---:|"]
        for name in bench.servers:
            s = bench.idle.get(name) or {"error": "not run"}
            if "error" in s:
                lines.append(f"| {name} | n/a | | | {s['error'][:60]} |")
            else:
                note = "" if s.get("accepted_all") else " (not all accepted)"
                lines.append(f"| {name} | {s['connected']}{note} | {s['rss_before_kb'] / 1024:.1f} "
                             f"| {s['rss_after_kb'] / 1024:.1f} | {fmt(s['kb_per_conn'], '.2f')} |")
    lines += failures_md(bench.failures)
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    raise_nofile_limit()
    loadgen_path()
    m = machine_meta(vars(args))
    bench = Bench(args)
    bench.run()
    summary = summarize(bench)
    print(report(bench, summary))
    if args.json:
        m["loadavg_after"] = open("/proc/loadavg").read().strip()
        with open(args.json, "w") as f:
            json.dump({"meta": m, "summary": summary, "runs": bench.raw,
                       "syscalls": bench.syscalls, "idle": bench.idle,
                       "warmups": bench.warmups,
                       "interpreters": {n: str(i) for n, i in bench.interpreters.items()},
                       "failures": bench.failures, "skipped": bench.skipped}, f, indent=1,
                      default=str)


if __name__ == "__main__":
    main()
