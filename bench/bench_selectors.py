"""pymux.selectors vs the stdlib selectors module, class by class.

    python bench/bench_selectors.py [--rounds 7] [--quick] [--classes Epoll,Poll,Select]
        [--floor] [--cpu-time]

Each pymux class is measured against its stdlib twin on the same fds:

- select(0) with N registered socket ends (both ends of N/2 socketpairs, so
  N = 10,000 fits a 20,000 fd limit), K of them readable, all registered
  for EVENT_READ. SelectSelector only runs the sizes whose fds all stay
  below FD_SETSIZE (the stdlib's would raise ValueError).
- register + unregister of one socket object;
- modify changing the events (READ <-> READ|WRITE), and changing only the
  data;
- churn: what asyncio does around a partial write on one of 100
  connections (10 readable): get_key + modify adding write interest,
  select(0), get_key + modify removing it.

With --floor, each select(0) row also times pymux's C wait call alone
(mux_selector_poll: the system call plus the C table's translation) and
shows stdlib / that, the best ratio pymux's Python side could reach.

Rounds interleave stdlib and pymux and alternate which goes first; cells
are medians in ns per operation, and ratio = stdlib / pymux (> 1.0: pymux
is faster). This machine is shared: only ratios from one run mean
anything.
"""
import argparse
import selectors as std_selectors
import socket
import sys

import pymux.selectors as mux_selectors
from pymux._clib import mux_selector_poll
from pymux._mux import lib

from harness import microbench
from harness.microbench import FLOOR, FLOOR_HEADER, Fds, interleaved, row
from harness.proc import raise_nofile_limit

FD_SETSIZE = lib.FD_SETSIZE

MODULES = {"stdlib": std_selectors, "pymux": mux_selectors}
CLASSES = ["EpollSelector", "PollSelector", "SelectSelector"]
READ, WRITE = std_selectors.EVENT_READ, std_selectors.EVENT_WRITE


def timed_select(sel):
    def run(calls):
        select = sel.select
        start = microbench.clock_ns()
        for _ in range(calls):
            select(0)
        return (microbench.clock_ns() - start) / calls
    return run


def timed_c_wait(sel):
    def run(calls):
        poll, c_selector = mux_selector_poll, sel._sel
        start = microbench.clock_ns()
        for _ in range(calls):
            poll(c_selector)
        return (microbench.clock_ns() - start) / calls
    return run


def bench_select(cls, n, k, rounds, floor):
    fds = Fds(n, k)
    try:
        if cls == "SelectSelector" and max(s.fileno() for s in fds.ends) >= FD_SETSIZE:
            return None
        sels = {name: getattr(mod, cls)() for name, mod in MODULES.items()}
        for sel in sels.values():
            for s in fds.ends:
                sel.register(s, READ)
            assert len(sel.select(0)) == k
        runs = {name: timed_select(sel) for name, sel in sels.items()}
        if floor:
            runs[FLOOR] = timed_c_wait(sels["pymux"])
        result = interleaved(runs, rounds)
        for sel in sels.values():
            sel.close()
        return result
    finally:
        fds.close()


def timed_register_unregister(sel, sock):
    def run(calls):
        register, unregister = sel.register, sel.unregister
        start = microbench.clock_ns()
        for _ in range(calls):
            register(sock, READ)
            unregister(sock)
        return (microbench.clock_ns() - start) / calls
    return run


def timed_modify(sel, sock, first, second):
    """Alternates two modify() calls; ns per call."""
    def run(calls):
        modify = sel.modify
        start = microbench.clock_ns()
        for _ in range(calls):
            modify(sock, *first)
            modify(sock, *second)
        return (microbench.clock_ns() - start) / calls / 2
    return run


def timed_churn(sel, conns):
    """asyncio's _add_writer / _remove_writer around one select(0)."""
    def on_writable():
        pass

    def run(calls):
        get_key, modify, select = sel.get_key, sel.modify, sel.select
        n = len(conns)
        start = microbench.clock_ns()
        for i in range(calls):
            fd = conns[i % n]
            key = get_key(fd)       # add_writer after a partial send
            modify(fd, key.events | WRITE, (key.data[0], on_writable))
            select(0)
            key = get_key(fd)       # remove_writer once the buffer is flushed
            modify(fd, key.events & ~WRITE, (key.data[0], None))
        return (microbench.clock_ns() - start) / calls
    return run


def bench_ops(cls, rounds):
    out = {}
    a, b = socket.socketpair()
    try:
        sels = {name: getattr(mod, cls)() for name, mod in MODULES.items()}
        out["register+unregister"] = interleaved(
            {name: timed_register_unregister(sel, a) for name, sel in sels.items()}, rounds)
        for sel in sels.values():
            sel.register(a, READ, "data")
        out["modify (events)"] = interleaved(
            {name: timed_modify(sel, a, (READ, "data"), (READ | WRITE, "data"))
             for name, sel in sels.items()}, rounds)
        out["modify (data only)"] = interleaved(
            {name: timed_modify(sel, a, (READ, "one"), (READ, "two"))
             for name, sel in sels.items()}, rounds)
        for sel in sels.values():
            sel.close()
    finally:
        a.close()
        b.close()

    fds = Fds(200, 0)
    try:
        conns = [fds.ends[i].fileno() for i in range(0, 200, 2)]   # 100 connections
        for i in range(0, 20, 2):                                   # 10 readable
            fds.peer(i).send(b"x")
        sels = {name: getattr(mod, cls)() for name, mod in MODULES.items()}
        for sel in sels.values():
            for fd in conns:
                sel.register(fd, READ, (lambda: None, None))
        out["churn (asyncio write)"] = interleaved(
            {name: timed_churn(sel, conns) for name, sel in sels.items()}, rounds)
        for sel in sels.values():
            sel.close()
    finally:
        fds.close()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (>= 5)")
    parser.add_argument("--quick", action="store_true", help="N <= 1000, 5 rounds")
    parser.add_argument("--classes", default=",".join(c[:-8] for c in CLASSES),
                        help="comma-separated subset of Epoll,Poll,Select")
    parser.add_argument("--floor", action="store_true",
                        help="also time pymux's C wait call alone in the select(0) rows")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with the thread's CPU clock (a loaded machine)")
    args = parser.parse_args()
    if args.cpu_time:
        microbench.use_cpu_time()
    rounds = 5 if args.quick else max(5, args.rounds)
    classes = [f"{c.strip()}Selector" for c in args.classes.split(",")]
    limit = raise_nofile_limit()
    sizes = [n for n in (10, 100, 1000, 10000) if n + 300 < limit and not (args.quick and n > 1000)]

    clock = "thread CPU time" if args.cpu_time else "wall time"
    print(f"Python {sys.version.split()[0]}, {rounds} interleaved rounds, medians, "
          f"ns per operation ({clock}); ratio = stdlib / pymux\n")
    for cls in classes:
        extra = FLOOR_HEADER if args.floor else ("", "")
        print(f"| {cls} | stdlib ns | pymux ns | ratio |{extra[0]}")
        print(f"|---|---:|---:|---:|{extra[1]}")
        for n in sizes:
            for k in (1, 10, 100, 1000):
                if k <= n:
                    result = bench_select(cls, n, k, rounds, args.floor)
                    if result is not None:
                        print(row(f"select(0) N={n} K={k}", result), flush=True)
        for label, result in bench_ops(cls, rounds).items():
            print(row(label, result), flush=True)
        print()


if __name__ == "__main__":
    main()
