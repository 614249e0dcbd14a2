"""pymux.aio.Loop vs the stdlib asyncio loop (and uvloop where installed).

    python bench/bench_aio.py [--rounds 7] [--quick]

Micro-benchmarks of the loop's own work, each in ns per operation:

- call_soon: schedule N callbacks, then run the loop until all have run;
- call_later + cancel: a timer created and cancelled (the loop then runs
  once, so a loop that cleans cancelled timers up lazily pays for it);
- timers that fire: N call_later(0) timers, run until all have fired;
- call_at + cancel, call_at alone: the scheduling calls by themselves;
- task create/await: `await loop.create_task(coro())` of a coroutine that
  returns at once;
- future round trip: a future resolved by call_soon and awaited;
- sock echo: a client task sends 64 bytes with sock_sendall over a
  socketpair and awaits the echo with sock_recv; a server task echoes
  them with sock_recv + sock_sendall (each waits for the other in the
  loop: the watchers' add/remove_reader path, not just the socket calls).

Times are this thread's CPU time. Rounds interleave the loops and alternate
their order; cells are medians, ratio = other loop's time / pymux's (> 1.0:
pymux is faster). This machine is shared: only ratios from one run mean
anything.

A second table is the timers' resolution: how late (wall clock, by
time.monotonic()) a timer call_later(d) fires for d of 0.1-0.9 ms, armed
one at a time by the timer before (so the loop waits for each alone):
median, 99th percentile and least lateness in microseconds over every
round, and how many fired early (before d had elapsed).
"""
import argparse
import asyncio
import socket
import statistics
import sys
import time

import pymux.aio

from harness.microbench import ROUND_NS, interleaved

try:
    import uvloop
except ImportError:   # CPython-only, optional
    uvloop = None

MESSAGE = b"x" * 64
# The CPU time of this thread (user + system): other processes on a shared
# machine do not inflate it, as they do wall-clock time.
_clock = time.thread_time_ns
_monotonic = time.monotonic
PROBE_CALLS = 300   # enough that a loop's start-up cost does not skew calibration


def make_loops():
    loops = {"stdlib": asyncio.SelectorEventLoop(), "pymux": pymux.aio.Loop()}
    if uvloop is not None:
        loops["uvloop"] = uvloop.new_event_loop()
    return loops


def _noop():
    pass


def run_one_iteration(loop):
    """Runs what is ready (and cleans up cancelled timers, as the loop does)."""
    loop.call_soon(loop.stop)
    loop.run_forever()


def timed_call_soon(loop):
    def run(calls):
        call_soon = loop.call_soon
        start = _clock()
        for _ in range(calls):
            call_soon(_noop)
        call_soon(loop.stop)
        loop.run_forever()
        return (_clock() - start) / calls
    return run


def timed_call_later_cancel(loop):
    def run(calls):
        call_later = loop.call_later
        start = _clock()
        for _ in range(calls):
            call_later(10.0, _noop).cancel()
        run_one_iteration(loop)
        return (_clock() - start) / calls
    return run


def timed_call_at_cancel(loop):
    """call_at + cancel alone: the loop does not run inside the timing."""
    def run(calls):
        call_at = loop.call_at
        when = loop.time() + 10.0
        start = _clock()
        for _ in range(calls):
            call_at(when, _noop).cancel()
        elapsed = _clock() - start
        run_one_iteration(loop)
        return elapsed / calls
    return run


def timed_call_at(loop):
    """call_at alone; the timers are cancelled outside the timing."""
    def run(calls):
        call_at = loop.call_at
        when = loop.time() + 10.0
        start = _clock()
        handles = [call_at(when, _noop) for _ in range(calls)]
        elapsed = _clock() - start
        for handle in handles:
            handle.cancel()
        run_one_iteration(loop)
        return elapsed / calls
    return run


def timed_timers_fire(loop):
    def run(calls):
        left = [calls]

        def fired():
            left[0] -= 1
            if not left[0]:
                loop.stop()

        call_later = loop.call_later
        start = _clock()
        for _ in range(calls):
            call_later(0, fired)
        loop.run_forever()
        return (_clock() - start) / calls
    return run


def timed_coroutine(loop, body):
    """run(calls): run_until_complete(body(loop, calls)); ns per call."""
    def run(calls):
        start = _clock()
        loop.run_until_complete(body(loop, calls))
        return (_clock() - start) / calls
    return run


async def _returns():
    pass


async def tasks(loop, calls):
    create_task = loop.create_task
    for _ in range(calls):
        await create_task(_returns())


async def futures(loop, calls):
    create_future, call_soon = loop.create_future, loop.call_soon
    for _ in range(calls):
        fut = create_future()
        call_soon(fut.set_result, None)
        await fut


def sock_echo(pair):
    """A server task echoes on one end; the client sends on the other and
    waits for the echo, so each side waits in the loop for the other."""
    client, server = pair

    async def serve(loop):
        recv, sendall = loop.sock_recv, loop.sock_sendall
        while True:
            await sendall(server, await recv(server, 4096))

    async def echo(loop, calls):
        sendall, recv = loop.sock_sendall, loop.sock_recv
        task = loop.create_task(serve(loop))
        try:
            for _ in range(calls):
                await sendall(client, MESSAGE)
                await recv(client, 4096)   # MESSAGE is one send: one recv
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return echo


def calls_per_round(runs):
    """Calls that make a round of the slowest loop take about ROUND_NS."""
    probe = max(run(PROBE_CALLS) for run in runs.values())
    return max(PROBE_CALLS, min(200_000, int(ROUND_NS / max(probe, 1))))


def bench_all(loops, rounds):
    """{label: {loop name: median ns per op}}, one interleaved run each."""
    pair = socket.socketpair()
    for s in pair:
        s.setblocking(False)
    benches = {
        "call_soon": timed_call_soon,
        "call_later + cancel": timed_call_later_cancel,
        "call_at + cancel (no run)": timed_call_at_cancel,
        "call_at (no run)": timed_call_at,
        "timers that fire": timed_timers_fire,
        "task create/await": lambda loop: timed_coroutine(loop, tasks),
        "future round trip": lambda loop: timed_coroutine(loop, futures),
        "sock echo 64 B": lambda loop: timed_coroutine(loop, sock_echo(pair)),
    }
    try:
        for label, make_run in benches.items():
            runs = {name: make_run(loop) for name, loop in loops.items()}
            yield label, interleaved(runs, rounds, calls_per_round(runs))
    finally:
        for s in pair:
            s.close()


LATENESS_DELAYS = [i * 1e-4 for i in range(1, 10)]   # 0.1 .. 0.9 ms
LATENESS_TIMERS = 450                               # per loop and round


def timer_lateness(loop):
    """run(): LATENESS_TIMERS chained call_later timers; their lateness in
    seconds (negative: early), by time.monotonic() (uvloop's time() is the
    loop's cached ms clock, so it cannot measure itself)."""
    def run():
        late = []

        def fired(due):
            late.append(_monotonic() - due)
            if len(late) < LATENESS_TIMERS:
                arm()
            else:
                loop.stop()

        def arm():
            delay = LATENESS_DELAYS[len(late) % len(LATENESS_DELAYS)]
            loop.call_later(delay, fired, _monotonic() + delay)

        loop.call_soon(arm)
        loop.run_forever()
        return late
    return run


def lateness_all(loops, rounds):
    """{loop name: [lateness in s, ...]}, rounds interleaved as above."""
    runs = {name: timer_lateness(loop) for name, loop in loops.items()}
    names = list(runs)
    samples = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            samples[name] += runs[name]()
    return samples


def lateness_table(samples):
    lines = ["| loop | median late µs | p99 late µs | least late µs | early |",
             "|---|---:|---:|---:|---:|"]
    for name, late in samples.items():
        us = sorted(x * 1e6 for x in late)
        p99 = us[min(len(us) - 1, int(0.99 * len(us)))]
        early = sum(x < 0 for x in us)
        lines.append(f"| {name} | {statistics.median(us):,.0f} | {p99:,.0f} | {us[0]:,.0f} "
                     f"| {early} of {len(us)} |")
    return "\n".join(lines)


def header(names):
    others = [n for n in names if n != "pymux"]
    cols = [f"{n} ns" for n in names] + [f"{n} / pymux" for n in others]
    return "\n".join([f"| benchmark | {' | '.join(cols)} |",
                      "|---|" + "---:|" * len(cols)])


def table_row(label, result):
    mux = result["pymux"]
    cells = [f"{ns:,.0f}" for ns in result.values()]
    cells += [f"{ns / mux:.2f}" for name, ns in result.items() if name != "pymux"]
    return f"| {label} | {' | '.join(cells)} |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (>= 5)")
    parser.add_argument("--quick", action="store_true", help="5 rounds")
    args = parser.parse_args()
    rounds = 5 if args.quick else max(5, args.rounds)
    loops = make_loops()
    print(f"Python {sys.version.split()[0]} ({sys.implementation.name}), {rounds} interleaved "
          f"rounds, medians, ns per operation; ratio = other loop / pymux\n")
    print(header(list(loops)))
    try:
        for label, result in bench_all(loops, rounds):
            print(table_row(label, result), flush=True)
        print(f"\nTimers call_later(0.1 .. 0.9 ms), each armed by the one before: "
              f"lateness by time.monotonic(), {rounds} x {LATENESS_TIMERS} timers\n")
        print(lateness_table(lateness_all(loops, rounds)))
    finally:
        for loop in loops.values():
            loop.close()


if __name__ == "__main__":
    main()
