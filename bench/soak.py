"""Soak: connection churn against the echo server; fails on a leak, a wrong byte or a crash.

    python bench/soak.py [--minutes 30 | --seconds S] [--backend epoll]
                         [--max-conns 200] [--server-cmd CMD] [--json PATH]

Not a test (nothing in CI runs it). Everything runs on loopback, with at
most --max-conns connections, and stops by itself when time is up:

- the server: ``python -m pymux.echo --port 0 --backend B`` (or
  --server-cmd: any program that prints ``listening on HOST:PORT`` first),
  a subprocess stopped by PID;
- the load (bench/harness/churn.py): connections that exchange 1 B to 1 MiB
  messages and close or half-close, slow readers that fill the server's
  write queue so that it must push back, connections reset mid-transfer,
  idle connections that come and go; every echoed byte is checked;
- signals (bench/harness/signals.py): one every --signal-every s among
  SIGWINCH, SIGURG, SIGCHLD and SIGCONT, whose default action is to ignore
  them, and a SIGSTOP/SIGCONT pair every --pause-every s, which makes
  epoll_wait() fail with EINTR in a server that catches none of them (the
  echo server catches only SIGINT and SIGTERM; the report shows what the
  server does with each signal sent);
- every --sample-every s, the server's RSS, fds and CPU time (from /proc).

How a leak is told from noise. Under load, RSS and fds move with whatever
is in flight at that moment, so they are judged at rest points instead:
every --rest-every s no new connection starts, the running ones finish,
and once the server's fd count is back to what it was before the first
connection (or has not changed for 2 s, or after 10 s) its RSS and fds are
read. After the warm-up (the first 10% of the run, at least 60 s and at
most half of it) the run fails if

- the server holds more fds at the last rest point than at the first one
  after the warm-up (plus --fd-tolerance, default 0: at rest no connection
  is open, so nothing may hold one's fd), or
- the median RSS of the last 3 rest points exceeds the median of the first
  3 after the warm-up by more than --rss-tolerance (default 8 MiB).

Measured here (30 minutes, epoll backend), the echo server's RSS at rest
rose 0.3 MiB in the minutes after the warm-up and 0.1 MiB in the 20
minutes after that (the allocator settling), while the load made about 425
connections a second: 640,000 connections between those windows, so 8 MiB
is 13 B per connection, and a leak of a few hundred bytes per connection
fails it many times over (a server keeping 300 B per connection failed a
5-minute run, measured at 347 B per connection). Each report states the
smallest leak per connection its own run would have caught, and the trend
of RSS at rest per connection.

The run also fails at once on a wrong or extra byte or a dead server; and
at the end on any other client error (a connection the server reset,
closed early or let stall, a failed connect), or if SIGTERM does not end
the server with status 0 and its totals line, whose connection count must
equal ours and whose bytes lie between what we verified and what we sent.
"""
import argparse
import json
import random
import re
import shlex
import sys
import threading
import time

from harness.churn import Churn
from harness.proc import cpu_seconds, fd_count_tree, rss_kb
from harness.report import machine_meta, median
from harness.server_process import ServerProcess, ServerStartError, python_env
from harness.signals import Signaller

HOST = "127.0.0.1"
DRAIN_S = 30.0                  # a rest point lets running connections finish this long
SETTLE_S = 10.0                 # and the server's fds come back this long,
STABLE_S = 2.0                  # or stay unchanged this long
WINDOW = 3                      # rest points compared at each end of the run
TOTALS_RE = re.compile(r"^totals: (\d+) connections, (\d+) requests, (\d+) bytes")
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0, help="length of the run (default 30)")
    p.add_argument("--seconds", type=float, metavar="S",
                   help="length of the run, instead of --minutes")
    p.add_argument("--backend", default="epoll", help="the echo server's --backend")
    p.add_argument("--server-cmd", metavar="CMD",
                   help="run this server instead (a shell-quoted command line that prints "
                        "'listening on HOST:PORT' first and stops on SIGTERM)")
    p.add_argument("--max-conns", type=int, default=200, metavar="N",
                   help="connections open at once (default 200)")
    p.add_argument("--warmup", type=float, metavar="S", help="seconds before growth counts "
                   "(default: 10%% of the run, at least 60 s, at most half)")
    p.add_argument("--rest-every", type=float, metavar="S", help="seconds between rest points "
                   "(default: the run / 30, within 10-60 s)")
    p.add_argument("--sample-every", type=float, default=5.0, metavar="S",
                   help="seconds between samples (default 5)")
    p.add_argument("--rss-tolerance", type=float, default=8.0, metavar="MIB",
                   help="RSS growth at rest allowed after the warm-up (default 8 MiB)")
    p.add_argument("--fd-tolerance", type=int, default=0, metavar="N",
                   help="fd growth at rest allowed (default 0)")
    p.add_argument("--signal-every", type=float, default=0.01, metavar="S",
                   help="seconds between signals (default 0.01)")
    p.add_argument("--pause-every", type=float, default=0.2, metavar="S",
                   help="seconds between SIGSTOP/SIGCONT pairs (default 0.2; 0: none)")
    p.add_argument("--seed", type=int, help="seed of the load (default: random, printed)")
    p.add_argument("--json", metavar="PATH", help="write the report and every sample here")
    a = p.parse_args(argv)
    a.duration = a.seconds if a.seconds is not None else a.minutes * 60
    if a.warmup is None:
        a.warmup = min(max(0.1 * a.duration, 60.0), 0.5 * a.duration)
    if a.rest_every is None:
        a.rest_every = min(max(a.duration / 30, 10.0), 60.0)
    if min(a.duration, a.rest_every, a.sample_every, a.signal_every) <= 0 or a.max_conns < 2:
        p.error("the run, --rest-every, --sample-every and --signal-every must be > 0, "
                "--max-conns >= 2")
    if min(a.warmup, a.pause_every, a.rss_tolerance, a.fd_tolerance) < 0:
        p.error("--warmup, --pause-every and the tolerances must be >= 0")
    if a.seed is None:
        a.seed = random.randrange(1 << 32)
    return a


def server_argv(a):
    if a.server_cmd:
        return shlex.split(a.server_cmd)
    return [sys.executable, "-m", "pymux.echo", "--host", HOST, "--port", "0",
            "--backend", a.backend]


class Sampler(threading.Thread):
    """Every ``every`` s while the server lives: its RSS, fds, CPU time and our
    connection count."""

    def __init__(self, srv, stats, every, t0):
        super().__init__(name="sampler", daemon=True)
        self.srv, self.stats, self.every, self.t0 = srv, stats, every, t0
        self.samples = []
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(self.every) and self.srv.alive():
            self.samples.append(self.sample())

    def sample(self):
        pid = self.srv.pid
        return {"t": round(time.monotonic() - self.t0, 1), "rss_kb": rss_kb(pid),
                "fds": fd_count_tree(pid), "cpu_s": cpu_seconds(pid),
                "connections": self.stats.connections}

    def stop(self):
        self.done.set()
        self.join()


def rest_point(srv, sampler, start_fds):
    """The server at rest: once its fds are back to ``start_fds``, or have not
    changed for STABLE_S (a leak), or after SETTLE_S, read its RSS and fds."""
    now = time.monotonic()
    deadline, fds, stable_since = now + SETTLE_S, fd_count_tree(srv.pid), now
    while fds > start_fds and now < deadline and now - stable_since < STABLE_S:
        time.sleep(0.05)
        now, last = time.monotonic(), fds
        fds = fd_count_tree(srv.pid)
        if fds != last:
            stable_since = now
    return sampler.sample()


def run_load(a, srv, churn, sampler):
    """Churn until time is up, with a rest point every --rest-every s and one at the end.

    Stops early on a wrong byte or a dead server. Returns the rest points.
    """
    start_fds = fd_count_tree(srv.pid)
    end = sampler.t0 + a.duration

    def server_gone():
        return not srv.alive()

    rests = []
    while True:
        churn.run_until(min(end, time.monotonic() + a.rest_every), server_gone)
        if churn.fatal or server_gone():
            return rests
        churn.drain(DRAIN_S, server_gone)
        if churn.fatal or server_gone():
            return rests
        rests.append(rest_point(srv, sampler, start_fds))
        if time.monotonic() >= end:
            return rests


def slope(points, x, y):
    """Least-squares slope of y over x across ``points`` (None if x does not vary)."""
    xs, ys = [p[x] for p in points], [p[y] for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((v - mx) ** 2 for v in xs)
    return sum((u - mx) * (v - my) for u, v in zip(xs, ys)) / sxx if sxx else None


def judge_growth(a, rests):
    """RSS and fd growth at rest after the warm-up: (facts, failures)."""
    after = [r for r in rests if r["t"] >= a.warmup]
    if len(after) < 2:
        return {"judged": False}, [f"growth not judged: {len(after)} rest point(s) after the "
                                   f"{a.warmup:.0f} s warm-up, 2 needed (run longer)"]
    w = min(WINDOW, len(after) // 2)
    first, last = after[:w], after[-w:]
    rss_growth_kb = median(r["rss_kb"] for r in last) - median(r["rss_kb"] for r in first)
    conns = median(r["connections"] for r in last) - median(r["connections"] for r in first)
    trend = slope(after, "connections", "rss_kb")
    facts = {"judged": True, "window": w, "first": after[0], "last": after[-1],
             "rss_growth_kb": rss_growth_kb, "connections_between": conns,
             "caught_b_per_conn": a.rss_tolerance * MiB / conns if conns else None,
             "trend_b_per_conn": trend * KiB if trend is not None else None,
             "fd_growth": after[-1]["fds"] - after[0]["fds"]}
    failures = []
    if rss_growth_kb * KiB > a.rss_tolerance * MiB:
        per_conn = f", {rss_growth_kb * KiB / conns:.0f} B per connection" if conns else ""
        failures.append(f"RSS at rest grew {rss_growth_kb / KiB:.1f} MiB after the warm-up "
                        f"(median of the last {w} rest points vs the first {w}; tolerance "
                        f"{a.rss_tolerance:g} MiB){per_conn}")
    if facts["fd_growth"] > a.fd_tolerance:
        failures.append(f"fds at rest grew from {after[0]['fds']} to {after[-1]['fds']} after "
                        f"the warm-up (tolerance {a.fd_tolerance})")
    return facts, failures


def load_failures(churn, died, srv):
    """What went wrong during the load: a wrong byte, a dead server, client errors."""
    failures = []
    if churn.fatal:
        failures.append(f"wrong bytes: {churn.fatal}")
    if died:
        stderr = srv.stderr_tail(300).strip()
        failures.append(f"the server died (status {srv.proc.returncode})"
                        + (f": {stderr}" if stderr else ""))
    errors = churn.stats.errors
    if errors and not churn.fatal:
        failures.append("client errors: " + ", ".join(f"{k} {n}" for k, n in errors.items()))
    return failures


def stop_server(srv, stats):
    """SIGTERM; it must exit 0 and print totals that agree with ours: (facts, failures)."""
    status = srv.stop()
    line = next((s.strip() for s in reversed(srv.stdout_tail()) if TOTALS_RE.match(s)), None)
    facts = {"status": status, "totals": line, "stderr": srv.stderr_tail(2000).strip()}
    failures = []
    if status != 0:
        failures.append(f"after SIGTERM the server exited with status {status}")
    if line is None:
        failures.append("after SIGTERM the server printed no totals line")
        return facts, failures
    conns, _, nbytes = map(int, TOTALS_RE.match(line).groups())
    if conns != stats.connections:
        failures.append(f"the server counted {conns} connections, the soak made "
                        f"{stats.connections}")
    if not stats.verified <= nbytes <= stats.sent:
        failures.append(f"the server counted {nbytes} bytes, outside [{stats.verified} "
                        f"echoed, {stats.sent} sent]")
    return facts, failures


def soak(a):
    """Start the server, load it, judge, stop it: the result as a dict
    (``failures`` empty when it passed)."""
    result = {"settings": machine_meta(vars(a)), "server": server_argv(a)}
    try:
        srv = ServerProcess(result["server"], name="server", env=python_env())
    except OSError as e:                    # e.g. no such program
        raise ServerStartError(e) from e
    with srv:
        churn, rests = load_server(a, srv, result)
        died = not srv.alive()
        failures = load_failures(churn, died, srv)
        result["growth"], growth_failures = judge_growth(a, rests)
        if not died and not churn.fatal:
            failures += growth_failures
        result["shutdown"], shutdown_failures = stop_server(srv, churn.stats)
        if not died:
            failures += shutdown_failures
    result["failures"] = failures
    return result


def load_server(a, srv, result):
    """The load, the signals and the samples until time is up (or a wrong byte or
    the server's death); records what they saw in ``result``; (churn, rest points)."""
    t0 = time.monotonic()
    churn = Churn((srv.host.strip("[]"), srv.port), a.max_conns, random.Random(a.seed))
    sampler = Sampler(srv, churn.stats, a.sample_every, t0)
    signaller = Signaller(srv.pid, a.signal_every, a.pause_every)
    result["signal_dispositions"] = signaller.dispositions()
    result["start"] = sampler.sample()
    sampler.start()
    signaller.start()
    try:
        rests = run_load(a, srv, churn, sampler)
    finally:
        churn.close()
        signaller.stop()
        sampler.stop()
    result["end"] = sampler.sample() if srv.alive() else None
    result["wall_s"] = time.monotonic() - t0
    result.update(load=churn.stats.as_dict(), samples=sampler.samples, rests=rests,
                  signals=dict(signaller.sent, pauses=signaller.pauses))
    return churn, rests


def size(n):
    for unit, scale in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def at_rest(r):
    return f"RSS {r['rss_kb'] / KiB:.1f} MiB, {r['fds']} fds (at {r['t']:.0f} s)"


def report(a, r):
    """The short text report."""
    load, growth, shut = r["load"], r["growth"], r["shutdown"]
    wall = r["wall_s"]
    kinds = ", ".join(f"{k} {n:,}" for k, n in load["opened"].items())
    errors = ", ".join(f"{k} {n:,}" for k, n in load["errors"].items()) or "none"
    signals = ", ".join(f"{k} {n:,}" for k, n in r["signals"].items() if k != "pauses")
    lines = [
        f"soak: {shlex.join(r['server'])}",
        f"  {wall:.0f} s (warm-up {a.warmup:.0f} s, rest point every {a.rest_every:.0f} s), "
        f"at most {a.max_conns} connections, seed {a.seed}",
        f"connections: {load['connections']:,} ({load['connections'] / wall:.0f}/s): {kinds}; "
        f"{load['resets']:,} reset by us",
        f"bytes: {size(load['bytes_sent'])} sent, {size(load['bytes_verified'])} echoed "
        f"and verified",
        f"errors: {errors}",
    ]
    for kind, example in load["error_examples"].items():
        lines.append(f"  first {kind}: {example}")
    lines.append(f"signals: {signals}; {r['signals']['pauses']:,} SIGSTOP/SIGCONT pairs")
    lines.append("  the server's dispositions: " + ", ".join(
        f"{k} {v}" for k, v in r["signal_dispositions"].items()))
    lines.append(f"server at start: {at_rest(r['start'])}")
    if growth["judged"]:
        caught = growth["caught_b_per_conn"]
        trend = growth["trend_b_per_conn"]
        lines += [
            f"at rest after warm-up: {at_rest(growth['first'])}",
            f"at rest at the end:    {at_rest(growth['last'])}",
            f"RSS growth at rest: {growth['rss_growth_kb'] / KiB:+.1f} MiB over "
            f"{growth['connections_between']:,.0f} connections (tolerance "
            f"{a.rss_tolerance:g} MiB"
            + (f": catches leaks of {caught:.0f} B per connection or more" if caught else "")
            + ")" + (f"; trend {trend:+.1f} B per connection" if trend is not None else ""),
            f"fd growth at rest: {growth['fd_growth']:+d} (tolerance {a.fd_tolerance})",
        ]
    if r["samples"]:
        lines.append(f"under load: peak RSS {max(s['rss_kb'] for s in r['samples']) / KiB:.1f} "
                     f"MiB, peak fds {max(s['fds'] for s in r['samples'])}")
    if r["end"]:
        cpu = r["end"]["cpu_s"]
        lines.append(f"server CPU: {cpu:.0f} s ({100 * cpu / wall:.0f}% of one core)")
    if r["end"]:
        lines.append(f"shutdown (SIGTERM): status {shut['status']}, "
                     f"{shut['totals'] or 'no totals line'}")
    if shut["stderr"]:
        lines.append("server stderr (tail): " + shut["stderr"][-600:].replace("\n", "\n  "))
    if r["failures"]:
        lines += ["FAIL:"] + [f"  - {f}" for f in r["failures"]]
    else:
        lines.append("PASS")
    return "\n".join(lines)


def main(argv=None):
    a = parse_args(argv)
    try:
        r = soak(a)
    except ServerStartError as e:
        print(f"soak: the server did not start: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:               # the server is stopped by then
        print("soak: interrupted", file=sys.stderr)
        return 130
    print(report(a, r))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)
    return 1 if r["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
