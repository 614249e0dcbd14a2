"""The plumbing of the bench/ scripts (a small library, no CLI), one job a module.

- ``c_build``: compile a C source of bench/ with gcc into bench/.build/.
- ``proc``: processes as the OS sees them: CPU time, RSS, fds and threads
  of a process tree (from /proc), CPU placement, the fd limit.
- ``interpreter``: the Python a server runs under (this one or --python's).
- ``server_process``: start a server from an argv list, read its
  ``listening on HOST:PORT`` line, stop it by PID.
- ``loadgen``: drive the C load generator (bench/loadgen.c); server CPU
  per request; RSS per idle connection.
- ``churn``: the soak's load: connection churn of several kinds in Python,
  every echoed byte checked.
- ``signals``: the soak's signals, sent often to a running server.
- ``strace``: syscalls per request under ``strace -c -f``.
- ``session``: the run loop bench_echo.py and study.py share.
- ``report``: medians, number formats, the failures section, machine facts.
- ``progress``: one-line progress display on stderr.
- ``microbench``: helpers of the in-process micro-benchmarks
  (bench_select.py, bench_selectors.py, the study's idle scaling).
"""
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent      # bench/
REPO = BENCH.parent
