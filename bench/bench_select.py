"""pymux.select vs the stdlib select module: epoll wait, register and modify.

    python bench/bench_select.py [--rounds 7] [--quick]

Both modules watch the same fds: N registered socket ends (both ends of
N/2 socketpairs, so 10,000 fds fit under a 20,000 fd limit), K of them
readable. Rounds interleave stdlib and pymux and alternate which goes first;
the table shows medians in ns per call and the ratio stdlib / pymux
(> 1.0 means pymux is faster). This machine is shared: only ratios from the
same run mean anything.
"""
import argparse
import resource
import select as std_select
import socket
import statistics
import sys
import time

import pymux.select as mux_select

MODULES = {"stdlib": std_select, "pymux": mux_select}


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def time_per_call(fn, calls):
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / calls


def interleaved(fns, rounds, calls):
    """{name: median ns per call}, alternating which one runs first."""
    samples = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            samples[name].append(time_per_call(fns[name], calls))
    return {name: statistics.median(s) for name, s in samples.items()}


class Fds:
    """n registered socket ends, the first k of them readable."""

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


def bench_wait(n, k, rounds):
    fds = Fds(n, k)
    eps = {name: mod.epoll() for name, mod in MODULES.items()}
    for name, ep in eps.items():
        for s in fds.ends:
            ep.register(s.fileno(), MODULES[name].EPOLLIN)
    for ep in eps.values():
        assert len(ep.poll(0)) == k
    calls = max(200, 200_000 // (n + 10 * k))
    result = interleaved({name: (lambda p=ep.poll: p(0)) for name, ep in eps.items()}, rounds, calls)
    for ep in eps.values():
        ep.close()
    fds.close()
    return result


def bench_ctl(rounds):
    a, b = socket.socketpair()
    fd = a.fileno()
    out = {}
    eps = {name: mod.epoll() for name, mod in MODULES.items()}

    def reg_unreg(ep, mod):
        def run():
            ep.register(fd, mod.EPOLLIN)
            ep.unregister(fd)
        return run

    out["register+unregister"] = interleaved(
        {name: reg_unreg(ep, MODULES[name]) for name, ep in eps.items()}, rounds, 20000)
    for name, ep in eps.items():
        ep.register(fd, MODULES[name].EPOLLIN)

    def flip(ep, mod):
        masks = [mod.EPOLLIN, mod.EPOLLIN | mod.EPOLLOUT]

        def run():
            ep.modify(fd, masks[0])
            ep.modify(fd, masks[1])
        return run

    halves = interleaved({name: flip(ep, MODULES[name]) for name, ep in eps.items()}, rounds, 10000)
    out["modify"] = {name: ns / 2 for name, ns in halves.items()}
    for ep in eps.values():
        ep.close()
    a.close()
    b.close()
    return out


def row(label, result):
    std, mux = result["stdlib"], result["pymux"]
    return f"| {label} | {std:,.0f} | {mux:,.0f} | {std / mux:.2f} |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="N <= 1000, 3 rounds")
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    limit = raise_fd_limit()
    sizes = [n for n in (10, 100, 1000, 10000) if n + 64 < limit and not (args.quick and n > 1000)]

    print(f"Python {sys.version.split()[0]}, {rounds} interleaved rounds, medians\n")
    print("| epoll.poll(0) | stdlib ns | pymux ns | ratio |")
    print("|---|---:|---:|---:|")
    for n in sizes:
        for k in (1, 10, 100, 1000):
            if k <= n:
                print(row(f"N={n} K={k}", bench_wait(n, k, rounds)), flush=True)
    print("\n| epoll control | stdlib ns | pymux ns | ratio |")
    print("|---|---:|---:|---:|")
    for label, result in bench_ctl(rounds).items():
        print(row(label, result), flush=True)


if __name__ == "__main__":
    main()
