"""Processes as the OS sees them: what /proc says about a server, where it runs.

- ``process_tree``, ``cpu_seconds``, ``rss_kb``, ``fd_count_tree``: a process
  and its live descendants (the workers of a multi-process server), read
  from /proc; ``fd_count``, ``thread_count``: the process alone.
- ``placement`` / ``pin``: the CPUs the load generator and the server run on.
- ``raise_nofile_limit``: RLIMIT_NOFILE up to the hard limit (children inherit it).
- ``signal_disposition``: whether a process catches, ignores or blocks a signal.
- ``is_stopped``: whether a process is stopped (SIGSTOP).
"""
import os
import resource
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
CAN_PIN = hasattr(os, "sched_setaffinity")      # PyPy has neither it nor sched_getaffinity


def raise_nofile_limit():
    """Raise RLIMIT_NOFILE to the hard limit (children inherit it); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def placement(mode):
    """CPU sets (loadgen, server) for mode 'none', 'split' (a CPU each) or 'same'.

    (None, None) means no pinning: mode 'none', one CPU, or an interpreter
    that cannot pin (``CAN_PIN`` false; the caller says so).

    On VMs a request that wakes a process on an idle *other* CPU costs the
    woken server ~15 us more CPU than one on the same CPU, and the scheduler
    picks either way per run; pinning makes the choice explicit and repeatable.
    """
    if mode == "none" or not CAN_PIN:
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
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


def _status_number(pid, key):
    """The number of a ``key:`` line of /proc/pid/status (None if pid is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_kb(pid):
    """VmRSS of pid and its live descendants, in KiB."""
    return sum(_status_number(p, "VmRSS:") or 0 for p in process_tree(pid))


def signal_disposition(pid, sig):
    """What pid does with signal ``sig``: 'default', or some of 'caught', 'ignored',
    'blocked' joined by '+' (None if pid is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    masks = dict(line.split(":", 1) for line in status.splitlines() if line.startswith("Sig"))
    bit = 1 << (int(sig) - 1)
    what = [name for key, name in (("SigCgt", "caught"), ("SigIgn", "ignored"),
                                   ("SigBlk", "blocked")) if int(masks[key], 16) & bit]
    return "+".join(what) or "default"


def is_stopped(pid):
    """True if pid is stopped by a signal (state T in /proc/pid/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] == "T"


def thread_count(pid):
    """Threads of pid itself (not its descendants), or None if it is gone."""
    return _status_number(pid, "Threads:")


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def fd_count_tree(pid):
    """Open fds of pid and its live descendants."""
    return sum(max(fd_count(p), 0) for p in process_tree(pid))
