"""The run loop bench_echo.py and study.py share: CPU placement, the failure
log, starting and warming up a server, every (size, connections) cell per rep
with the server order rotated, strace."""
import os
import sys

from harness.loadgen import measure, warm_up
from harness.proc import CAN_PIN, pin, placement
from harness.server_process import ServerProcess, ServerStartError, python_env
from harness.strace import strace_available, syscalls_per_request


def ints(text):
    """"1,10,100" -> [1, 10, 100] (an argparse type)."""
    return [int(x) for x in text.split(",") if x]


class Session:
    """One benchmark run over several servers: what bench_echo.py and study.py share.

    A subclass sets ``self.entries`` (the servers it runs),
    ``self.cells`` ([(size, conns)]) and ``self.progress`` (a Progress), and
    defines ``name_of(entry)``, ``argv_of(entry)`` and ``run_extras()`` (what
    runs after the reps); it may override ``cannot(entry, conns)`` (why a
    cell cannot run, or None), ``load_options(entry)`` (how the load
    generator talks to it) and ``load_run(srv, entry, size, conns)``. A failure is recorded in
    ``self.failures`` and reported; the run goes on with the others.
    """

    def __init__(self, args):
        self.a = args
        self.env = python_env()
        if args.pin != "none" and not CAN_PIN:
            print(f"--pin {args.pin}: this interpreter cannot set CPU affinity (no "
                  f"os.sched_setaffinity, as on PyPy); the scheduler places the processes, "
                  f"reported as --pin none", file=sys.stderr)
            args.pin = "none"
        loadgen_cpus, self.server_cpus = placement(args.pin)
        if loadgen_cpus:
            os.sched_setaffinity(0, loadgen_cpus)      # loadgen runs inherit it
        self.raw = []                   # one dict per (rep, entry, cell) load run
        self.failures = {}              # name -> [messages]
        self.syscalls = {}              # name -> strace summary or {"error": ...}

    def cannot(self, entry, conns):
        return None

    def load_options(self, entry):
        """The load generator's options for an entry's server (loadgen_argv's
        upper, http)."""
        return {"upper": self.a.upper}

    def fail(self, name, msg):
        msg = " ".join(str(msg).split())           # one line, for the markdown report
        self.failures.setdefault(name, []).append(msg)
        self.progress.note(f"!! {name}: {msg}")

    def start(self, entry):
        """Start and warm up an entry's server, or record why not and return None."""
        name = self.name_of(entry)
        try:
            srv = ServerProcess(self.argv_of(entry), name=name, env=self.env)
        except (ServerStartError, RuntimeError, OSError) as e:
            self.fail(name, f"failed to start: {e}")
            return None
        if self.server_cpus:
            pin(srv.pid, self.server_cpus)
        try:
            self.warm_up(srv, entry)
        except Exception as e:                         # noqa: BLE001: record, go on
            self.fail(name, f"warm-up failed: {e}")
            srv.stop()
            return None
        return srv

    def warm_up(self, srv, entry):
        """Load a freshly started server before it is measured; raise if that fails."""
        if self.a.server_warmup:
            w = warm_up(srv, self.a.server_warmup, **self.load_options(entry))
            if w["errors"] or w["mismatched_bytes"] or not w["requests"]:
                raise RuntimeError(f"{w['errors']} errors, {w['mismatched_bytes']} bad "
                                   f"bytes, {w['requests']} requests")

    def load_run(self, srv, entry, size, conns):
        """One measured cell: ``measure``'s result dict (raises on failure)."""
        return measure(srv, connections=conns, size=size, duration=self.a.duration,
                       warmup=self.a.warmup, **self.load_options(entry))

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
            s, requests=requests, connections=10, size=size, **self.load_options(entry))
            or {"error": "strace could not attach"})
