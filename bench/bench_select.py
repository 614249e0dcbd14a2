"""pymux.select vs the stdlib select module: epoll wait, register and modify.

    python bench/bench_select.py [--rounds 7] [--quick] [--floor] [--cpu-time]

Both modules watch the same fds: N registered socket ends (both ends of
N/2 socketpairs, so 10,000 fds fit under a 20,000 fd limit), K of them
readable. Rounds interleave stdlib and pymux and alternate which goes first;
the table shows medians in ns per call and the ratio stdlib / pymux
(> 1.0 means pymux is faster). With --floor, each epoll.poll(0) row also
times pymux's C wait call alone (mux_backend_wait: the system call and the
copy into the fired arrays) and shows stdlib / that, the best ratio
pymux's Python side could reach. This machine is shared: only ratios from the
same run mean anything.
"""
import argparse
import select as std_select
import socket
import sys

import pymux.select as mux_select
from harness import microbench
from harness.microbench import FLOOR, FLOOR_HEADER, Fds, interleaved, per_call, row
from pymux._clib import mux_backend_wait
from harness.proc import raise_nofile_limit

MODULES = {"stdlib": std_select, "pymux": mux_select}


def bench_wait(n, k, rounds, floor):
    fds = Fds(n, k)
    eps = {name: mod.epoll() for name, mod in MODULES.items()}
    for name, ep in eps.items():
        for s in fds.ends:
            ep.register(s.fileno(), MODULES[name].EPOLLIN)
    for ep in eps.values():
        assert len(ep.poll(0)) == k
    calls = max(200, 200_000 // (n + 10 * k))
    runs = {name: per_call(lambda p=ep.poll: p(0)) for name, ep in eps.items()}
    if floor:
        runs[FLOOR] = per_call(lambda b=eps["pymux"]._live[0]: mux_backend_wait(b, 0))
    result = interleaved(runs, rounds, calls)
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
        return per_call(run)

    out["register+unregister"] = interleaved(
        {name: reg_unreg(ep, MODULES[name]) for name, ep in eps.items()}, rounds, 20000)
    for name, ep in eps.items():
        ep.register(fd, MODULES[name].EPOLLIN)

    def flip(ep, mod):
        masks = [mod.EPOLLIN, mod.EPOLLIN | mod.EPOLLOUT]

        def run():
            ep.modify(fd, masks[0])
            ep.modify(fd, masks[1])
        return per_call(run)

    halves = interleaved({name: flip(ep, MODULES[name]) for name, ep in eps.items()}, rounds, 10000)
    out["modify"] = {name: ns / 2 for name, ns in halves.items()}
    for ep in eps.values():
        ep.close()
    a.close()
    b.close()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="N <= 1000, 3 rounds")
    parser.add_argument("--floor", action="store_true",
                        help="also time pymux's C wait call alone in the epoll.poll(0) rows")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with the thread's CPU clock (a loaded machine)")
    args = parser.parse_args()
    if args.cpu_time:
        microbench.use_cpu_time()
    rounds = 3 if args.quick else args.rounds
    limit = raise_nofile_limit()
    sizes = [n for n in (10, 100, 1000, 10000) if n + 64 < limit and not (args.quick and n > 1000)]

    clock = "thread CPU time" if args.cpu_time else "wall time"
    print(f"Python {sys.version.split()[0]}, {rounds} interleaved rounds, medians ({clock})\n")
    extra = FLOOR_HEADER if args.floor else ("", "")
    print(f"| epoll.poll(0) | stdlib ns | pymux ns | ratio |{extra[0]}")
    print(f"|---|---:|---:|---:|{extra[1]}")
    for n in sizes:
        for k in (1, 10, 100, 1000):
            if k <= n:
                print(row(f"N={n} K={k}", bench_wait(n, k, rounds, args.floor)), flush=True)
    print("\n| epoll control | stdlib ns | pymux ns | ratio |")
    print("|---|---:|---:|---:|")
    for label, result in bench_ctl(rounds).items():
        print(row(label, result), flush=True)


if __name__ == "__main__":
    main()
