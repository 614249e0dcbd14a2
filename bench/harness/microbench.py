"""Micro-benchmark helpers: bench_select.py, bench_selectors.py and the study's
idle scaling time calls made in this process with them.

(Raising RLIMIT_NOFILE for many fds: harness.proc.raise_nofile_limit.)

- ``Fds(n, k)``: n socket ends (both ends of n/2 socketpairs, so 10,000 fds
  fit under a 20,000 fd limit), the first k of them readable.
- ``per_call(fn)``: a timer for ``interleaved``: ``run(calls)`` calls fn()
  that many times and returns ns per call.
- ``interleaved(runs, rounds, calls=None)``: rounds that alternate which
  implementation goes first (under PyPy, after JIT_WARMUP_ROUNDS uncounted
  ones); medians in ns per operation. ``calls=None`` calibrates the count
  once so that a round takes about ROUND_NS.
- ``row(label, result)``: a markdown row stdlib ns | pymux ns | ratio, plus,
  when result has a FLOOR entry (the benches' --floor), the time of pymux's
  C wait call alone and stdlib / that: the ratio pymux would reach if its
  Python side cost nothing.

This machine is shared: only ratios from the same run mean anything.
``use_cpu_time()`` (the benches' --cpu-time) times with the thread's CPU
clock instead of the wall clock: the timed calls never block, so their CPU
time is their whole cost, and the time slices other processes take on a
loaded machine stay out of the numbers.
"""
import socket
import statistics
import sys
import time
import types

ROUND_NS = 30_000_000       # calibrated rounds aim for ~30 ms of work per implementation
# Under a JIT (PyPy) the first rounds also compile, each implementation's
# at a different moment: they are run, not counted.
JIT_WARMUP_ROUNDS = 3 if sys.implementation.name == "pypy" else 0
clock_ns = time.perf_counter_ns     # what timers read; see use_cpu_time()
FLOOR = "C wait"
FLOOR_HEADER = (" C wait ns | stdlib / C wait |", "---:|---:|")


class Fds:
    """n socket ends (both ends of n/2 socketpairs), the first k of them readable."""

    def __init__(self, n, k):
        self.pairs = [socket.socketpair() for _ in range(n // 2)]
        self.ends = [s for pair in self.pairs for s in pair][:n]
        for i in range(k):
            self.peer(i).send(b"x")

    def peer(self, i):
        a, b = self.pairs[i // 2]
        return b if self.ends[i] is a else a

    def close(self):
        for a, b in self.pairs:
            a.close()
            b.close()


def per_call(fn):
    """run(calls): call fn() ``calls`` times; ns per call."""
    def run(calls):
        start = clock_ns()
        for _ in range(calls):
            fn()
        return (clock_ns() - start) / calls
    return run


def use_cpu_time():
    """Time with the calling thread's CPU clock from now on."""
    global clock_ns
    clock_ns = time.thread_time_ns


def interleaved(runs, rounds, calls=None):
    """{name: median ns per op}; runs[name](calls) returns ns per op.

    Rounds alternate which implementation goes first. ``calls`` per round, or
    with None, calibrated once so that a round takes about ROUND_NS.
    """
    runs = {name: _own_code(run) for name, run in runs.items()}
    names = list(runs)
    if calls is None:
        probe = max(runs[name](3) for name in names)
        calls = max(3, min(200_000, int(ROUND_NS / max(probe, 1))))
    samples = {name: [] for name in names}
    for r in range(-JIT_WARMUP_ROUNDS, rounds):
        for name in names if r % 2 == 0 else reversed(names):
            ns = runs[name](calls)
            if r >= 0:
                samples[name].append(ns)
    return {name: statistics.median(s) for name, s in samples.items()}


def _own_code(run):
    """run with a code object of its own. PyPy's JIT compiles one loop per
    code object: timers that one factory made for the stdlib and for pymux
    would share a loop specialised for whichever ran first, and the other
    would run through guard-failure bridges (CPython's specialising
    interpreter shares its inline caches the same way)."""
    return types.FunctionType(run.__code__.replace(), run.__globals__, run.__name__,
                              run.__defaults__, run.__closure__)


def row(label, result):
    std, mux = result["stdlib"], result["pymux"]
    line = f"| {label} | {std:,.0f} | {mux:,.0f} | {std / mux:.2f} |"
    if FLOOR in result:
        line += f" {result[FLOOR]:,.0f} | {std / result[FLOOR]:.2f} |"
    return line
