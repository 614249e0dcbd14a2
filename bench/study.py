"""The I/O-models study: one echo server per I/O model under the C load generator.

    python bench/study.py [--quick] [--models threads,pool,...] [--conns 1,10,100,1000]
                          [--sizes 64,16384] [--reps 2] [--duration 1.5] [--pin same]
                          [--strace-requests 2000] [--upper] [--out bench/results]

The models are servers in bench/servers/, chosen by name from
bench/servers/registry.py (``--models`` takes any name there; the default
is the study's eleven). For each rep and each model (order rotated per rep):
start the model's server on a free port, warm it up, run every (message
size, connections) cell with bench/loadgen.c (closed loop: each connection
sends a message, waits for the echo and checks it byte for byte), stop it.
Then, per model, syscalls per request under ``strace -c -f`` (10
connections), and the idle-scaling measurement: the cost of one wait with 1
ready fd among N registered, for pymux.select's select, poll and epoll and
for io_uring (pymux.uring: N - 1 multishot polls pending on idle fds, and
each wait submits a poll of the ready fd and reaps its completion), in this
process.

Writes into --out (default bench/results/, gitignored): study.md (the tables,
also printed), study.json (everything measured), and with matplotlib (the
``bench`` extra: ``pip install -e '.[bench]'``) study_throughput.png,
study_cpu.png and study_idle_scaling.png. A model that cannot run a cell
(select above FD_SETSIZE) or fails (pymux.selectors missing) is reported in
the table, never dropped. --quick takes about a minute. Built on
bench/harness/ (server start/stop, /proc CPU, strace, progress).
"""
import argparse
import importlib.util
import json
import sys
import threading
from pathlib import Path

from harness import BENCH
from harness.loadgen import loadgen_path
from harness.proc import raise_nofile_limit, rss_kb, thread_count
from harness.progress import Progress
from harness.report import failures_md, fmt, machine_meta, median
from harness.session import Session, ints
from harness.strace import strace_available, top_syscalls
from servers.registry import BY_NAME, FD_SETSIZE, STUDY_MODELS

HOST = "127.0.0.1"
IDLE_NS = (10, 30, 100, 300, 1000, 3000, 10000)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(STUDY_MODELS),
                   help=f"comma-separated, from: {', '.join(BY_NAME)}")
    p.add_argument("--conns", type=ints, default=[1, 10, 100, 1000])
    p.add_argument("--sizes", type=ints, default=[64, 16384], help="message sizes in bytes")
    p.add_argument("--reps", type=int, default=2, help="repetitions; the table shows medians")
    p.add_argument("--duration", type=float, default=1.5, help="measured seconds per cell")
    p.add_argument("--warmup", type=float, default=0.3, help="seconds of load before each cell")
    p.add_argument("--server-warmup", type=float, default=0.5,
                   help="seconds of load (10 x 1 KiB) after each server start")
    p.add_argument("--strace-requests", type=int, default=2000,
                   help="requests counted under strace per model (10 connections); 0 skips")
    p.add_argument("--idle-rounds", type=int, default=5, help="rounds of the idle-scaling test")
    p.add_argument("--idle-max", type=int, default=max(IDLE_NS),
                   help="largest N of the idle-scaling test")
    p.add_argument("--pin", choices=("same", "split", "none"), default="same",
                   help="same (default): load generator and server share one CPU, the "
                        "repeatable CPU-per-request setting of bench_echo.py; split: a CPU "
                        "each; none: the scheduler's choice")
    p.add_argument("--upper", action="store_true", help="servers reply in upper case")
    p.add_argument("--out", default=str(BENCH / "results"), help="output directory")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--quick", action="store_true", help="about a minute: 64 B only, short cells")
    a = p.parse_args(argv)
    if a.quick:
        a.sizes, a.reps, a.duration, a.warmup, a.server_warmup = [64], 1, 0.5, 0.2, 0.3
        a.strace_requests = min(a.strace_requests, 300)
        a.idle_rounds, a.idle_max = 3, min(a.idle_max, 3000)
    unknown = [m for m in a.models.split(",") if m not in BY_NAME]
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(BY_NAME)}")
    if a.reps < 1 or a.duration <= 0 or not a.conns or not a.sizes:
        p.error("--reps >= 1, --duration > 0 and non-empty --conns/--sizes needed")
    a.models = [BY_NAME[m] for m in a.models.split(",")]
    return a


# --------------------------------------------------------------------------- measuring

class PeakSampler:
    """Peak thread count and RSS of a server process while a load run goes on."""

    def __init__(self, pid, every=0.05):
        self.pid, self.every = pid, every
        self.threads, self.rss_kb = 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        threads = thread_count(self.pid)
        if threads is None:                 # exited
            return
        self.threads = max(self.threads, threads)
        self.rss_kb = max(self.rss_kb, rss_kb(self.pid))

    def _run(self):
        self._sample()
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=2)


class Study(Session):
    def __init__(self, args):
        super().__init__(args)
        self.models = self.entries = args.models
        self.cells = [(s, c) for s in args.sizes for c in args.conns]
        self.idle = {"rows": [], "fd_setsize": FD_SETSIZE}
        self.idle_ns = [n for n in IDLE_NS if n <= args.idle_max]
        n = len(self.models)
        self.progress = Progress(args.reps * n * len(self.cells)
                                   + (n if args.strace_requests else 0) + len(self.idle_ns))

    def name_of(self, model):
        return model.name

    def argv_of(self, model):
        return model.argv(HOST, self.a.upper)

    def cannot(self, model, conns):
        return why_not(model, conns)

    def start(self, model):
        if model.missing():     # e.g. io_uring refused: its cells say why; nothing to start
            return None
        return super().start(model)

    def load_options(self, model):
        return model.load_options(self.a.upper)

    def load_run(self, srv, model, size, conns):
        with PeakSampler(srv.pid) as peak:
            r = super().load_run(srv, model, size, conns)
        return dict(r, model=model.name, peak_threads=peak.threads, peak_rss_kb=peak.rss_kb)

    def run_idle_scaling(self):
        """ns per wait (timeout 0) with 1 ready fd among N, for select, poll,
        epoll and io_uring."""
        import select as stdlib_select

        import pymux.select as select
        from harness.microbench import Fds, interleaved, per_call
        self.idle["uring"] = uring_unavailable()
        for n in self.idle_ns:
            self.progress.show(f"idle scaling: one wait among N = {n} fds")
            self.progress.step()
            if n + 64 > raise_nofile_limit():
                self.idle["rows"].append({"n": n, "error": "over RLIMIT_NOFILE"})
                continue
            fds = Fds(n, 1)
            nums = [s.fileno() for s in fds.ends]
            poller, ep = select.poll(), select.epoll()
            for fd in nums:
                poller.register(fd, select.POLLIN)
                ep.register(fd, select.EPOLLIN)
            waits = {"poll": lambda: poller.poll(0), "epoll": lambda: ep.poll(0)}
            ring = None if self.idle["uring"] else uring_polling(nums)
            if ring is not None:
                waits["uring"] = ring_wait(ring, nums[0])
            if max(nums) < FD_SETSIZE:
                waits["select"] = lambda: select.select(nums, [], [], 0)
                # Reference only: the stdlib's select() converts the lists in C.
                waits["select_stdlib"] = lambda: stdlib_select.select(nums, [], [], 0)
            for name, wait in waits.items():           # 1 ready, or the test is wrong
                got = wait()
                assert len(got[0] if name.startswith("select") else got) == 1, (name, got)
            calls = max(30, 300_000 // (n + 30))
            row = {"n": n, "calls": calls}
            row.update(interleaved({name: per_call(wait) for name, wait in waits.items()},
                                   self.a.idle_rounds, calls))
            self.idle["rows"].append(row)
            ep.close()
            if ring is not None:
                ring.close()
            fds.close()

    def run_extras(self):
        """After the reps: syscalls per request under strace, then idle scaling."""
        if self.a.strace_requests:
            for model in self.models:
                why = model.missing()
                self.syscalls[model.name] = {"error": why} if why else self.strace(
                    model, self.a.sizes[0], self.a.strace_requests)
        self.run_idle_scaling()


def uring_unavailable():
    """None where this process can make an io_uring ring, else why not."""
    from pymux import uring
    return uring.unavailable_reason()


def uring_polling(fds):
    """A ring with a multishot poll (POLLIN) pending on each of fds[1:]: the
    idle fds an io_uring server keeps operations on."""
    from pymux import uring
    ring = uring.Ring(min(uring.MAX_ENTRIES, max(len(fds), 8)))
    for i, fd in enumerate(fds[1:], 1):
        ring.prep_poll(fd, 1, i, multishot=True)    # 1: POLLIN
        if i % ring.sq_entries == 0:
            ring.submit()
    ring.submit()
    return ring


def ring_wait(ring, ready_fd):
    """One io_uring wait that finds the ready fd: a poll of it, submitted and
    reaped by the same io_uring_enter (it completes at once)."""
    def wait():
        ring.prep_poll(ready_fd, 1, 0)
        return ring.wait(1, 0)
    return wait


def why_not(model, conns):
    """Why a model cannot serve `conns` connections, or cannot run here at all
    (io_uring refused by this kernel), or None."""
    return model.cannot(conns) or model.missing()


# --------------------------------------------------------------------------- report

def summarize(study):
    """One row per (model, size, conns): medians over reps, sums of errors."""
    out = []
    for model in study.models:
        for size, conns in study.cells:
            row = {"model": model.name, "size": size, "conns": conns}
            why = why_not(model, conns)
            runs = [r for r in study.raw if r["model"] == model.name and r["cell"] == [size, conns]]
            if why:
                row.update(status="cannot", note=why)
            elif not runs:
                msgs = study.failures.get(model.name) or ["not run"]
                row.update(status="failed", note=msgs[0])
            else:
                row.update(
                    status="ok", reps=len(runs),
                    rps=median(r["rps"] for r in runs),
                    p50_us=median(r["p50_us"] for r in runs),
                    p99_us=median(r["p99_us"] for r in runs),
                    cpu_us=median(r["cpu_us_per_req"] for r in runs),
                    errors=sum(r["errors"] + r["warmup_errors"] for r in runs),
                    mismatched_bytes=sum(r["mismatched_bytes"] for r in runs),
                    requests=sum(r["requests"] for r in runs),
                    starved=any(conns > 1 and r["conn_min_requests"] == 0 for r in runs),
                    fairness=min((r["conn_min_requests"] / r["conn_max_requests"]
                                  for r in runs if r["conn_max_requests"]), default=None),
                    peak_threads=max(r["peak_threads"] for r in runs),
                    peak_rss_kb=max(r["peak_rss_kb"] for r in runs))
            out.append(row)
    return out


def notes(row, study):
    """The check column: correctness first, then what the numbers hide."""
    if row["status"] != "ok":
        return ("cannot run: " if row["status"] == "cannot" else "FAILED: ") + row["note"][:160]
    out = []
    if row["errors"] or row["mismatched_bytes"]:
        out.append(f"ERR {row['errors']} errors, {row['mismatched_bytes']} bad bytes")
    else:
        out.append("ok" if row["requests"] else "ERR no requests")
    if row["starved"]:
        out.append(f"starved: some connections got no reply in {study.a.duration:g} s")
    elif row["fairness"] is not None and row["conns"] > 1 and row["fairness"] < 0.5:
        out.append(f"unfair: min/max replies per conn {row['fairness']:.2f}")
    if row["peak_threads"] > 2:
        out.append(f"{row['peak_threads']} threads, {row['peak_rss_kb'] / 1024:.0f} MiB RSS")
    return "; ".join(out)


def report(study, summary):
    a = study.a
    strace_cell = (a.sizes[0], 10)
    lines = [f"## I/O models: echo over loopback, medians of {a.reps} rep(s), "
             f"{a.duration:g} s per cell, --pin {a.pin}{', --upper' if a.upper else ''}", "",
             "req/s and latency from bench/loadgen.c (closed loop, every byte checked); "
             "CPU = server CPU time (user+system, all threads) per request; syscalls/req = "
             f"strace -c -f, measured once per model at {strace_cell[1]} connections x "
             f"{strace_cell[0]} B (that row only).", "",
             "| size B | conns | model | req/s | p50 us | p99 us | CPU us/req | syscalls/req "
             "| errors, bad bytes, notes |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---|"]
    by = {(r["model"], r["size"], r["conns"]): r for r in summary}
    for size, conns in study.cells:
        for model in study.models:
            r = by[(model.name, size, conns)]
            sc = "–"
            if (size, conns) == strace_cell and model.name in study.syscalls:
                sc = fmt(study.syscalls[model.name].get("per_request"), ".1f")
            if r["status"] != "ok":
                lines.append(f"| {size} | {conns} | {model.name} | – | – | – | – | {sc} "
                             f"| {notes(r, study)} |")
                continue
            lines.append(f"| {size} | {conns} | {model.name} | {fmt(r['rps'])} "
                         f"| {fmt(r['p50_us'], '.0f')} | {fmt(r['p99_us'], '.0f')} "
                         f"| {fmt(r['cpu_us'], '.1f')} | {sc} | {notes(r, study)} |")
    if study.syscalls:
        lines += ["", f"### Syscalls per request (strace -c -f, {strace_cell[1]} connections x "
                      f"{strace_cell[0]} B)", "",
                  "| model | what it is | syscalls/req | top syscalls per request |",
                  "|---|---|---:|---|"]
        for model in study.models:
            s = study.syscalls.get(model.name) or {"error": "not run"}
            if "error" in s:
                lines.append(f"| {model.name} | {model.what} | n/a | {s['error'][:100]} |")
            else:
                top = top_syscalls(s)
                if model.program == "nonblocking_busy.py":
                    top += (" (polls while no request is in flight too, so the count "
                            "depends on idle time, not only on requests)")
                lines.append(f"| {model.name} | {model.what} | {s['per_request']:.2f} | {top} |")
    rows = study.idle["rows"]
    if rows:
        lines += ["", "### Idle scaling: microseconds per wait, 1 ready fd among N registered "
                      "(pymux.select and pymux.uring, timeout 0)", "",
                  "io_uring: N - 1 multishot polls pending on idle fds; each wait submits a "
                  "poll of the ready fd and reaps its completion (one io_uring_enter).", "",
                  "| N | select | poll | epoll | io_uring | stdlib select (reference) |",
                  "|---:|---:|---:|---:|---:|---:|"]
        uring_none = "n/a" + (f" ({study.idle['uring'][:80]})" if study.idle.get("uring") else "")
        for r in rows:
            cell = {m: fmt(r.get(m) and r[m] / 1000, ".2f",
                           none=f"n/a (fd >= FD_SETSIZE {FD_SETSIZE})"
                           if m.startswith("select") else uring_none if m == "uring" else "n/a")
                    for m in ("select", "poll", "epoll", "uring", "select_stdlib")}
            lines.append(f"| {r['n']} | {cell['select']} | {cell['poll']} | {cell['epoll']} "
                         f"| {cell['uring']} | {cell['select_stdlib']} |")
    lines += failures_md(study.failures)
    return "\n".join(lines) + "\n"


def meta(args):
    return machine_meta(dict(vars(args), models=[m.name for m in args.models]))


def missing_matplotlib():
    """None, or a one-line explanation of why the plots cannot be drawn."""
    if importlib.util.find_spec("matplotlib") is None:
        return ("matplotlib is not installed, so no plots; install the bench extra: "
                "pip install -e '.[bench]'")
    return None


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        loadgen_path()                     # builds bench/loadgen.c once
    except RuntimeError as e:
        sys.exit(f"bench/study.py: cannot build the load generator: {e}")
    no_plots = "--no-plots given" if args.no_plots else missing_matplotlib()
    if no_plots:
        print(f"note: {no_plots}", file=sys.stderr)
    if args.strace_requests and not strace_available():
        print("note: strace is not installed, so no syscalls per request "
              "(apt-get install strace)", file=sys.stderr)
    raise_nofile_limit()
    m = meta(args)
    study = Study(args)
    study.run()
    summary = summarize(study)
    md = report(study, summary)
    result = {"meta": m, "models": [x.name for x in study.models], "summary": summary,
              "runs": study.raw, "syscalls": study.syscalls, "idle_scaling": study.idle,
              "failures": study.failures}
    m["loadavg_after"] = meta(args)["loadavg"]   # a busy machine shows here
    (out / "study.json").write_text(json.dumps(result, indent=1, default=str))
    plots = []
    if not no_plots:
        from study_plots import plot_all
        plots = plot_all(result, out)
    else:
        md += f"\nPlots: none ({no_plots}).\n"
    (out / "study.md").write_text(md)
    print(md)
    for path in [out / "study.md", out / "study.json", *plots]:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
