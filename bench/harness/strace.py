"""Syscalls a server makes per request, counted by ``strace -c -f -p PID``
around a load run (``None`` when strace is missing or cannot attach)."""
import re
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from harness.loadgen import run_loadgen


def strace_available():
    return shutil.which("strace") is not None


_STRACE_ROW = re.compile(r"^\s*([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(\d+\s+)?(\w+)\s*$")


def parse_strace_summary(text):
    """{syscall: calls} from an ``strace -c`` table (the 'total' row excluded)."""
    calls = {}
    for line in text.splitlines():
        m = _STRACE_ROW.match(line)
        if m and m.group(6) != "total":
            calls[m.group(6)] = calls.get(m.group(6), 0) + int(m.group(4))
    return calls


def syscalls_per_request(server, requests=5000, attach_timeout=10.0, **kw):
    """Syscalls the server makes per request under ``strace -c -f -p``, or None."""
    if not strace_available():
        return None
    with tempfile.NamedTemporaryFile(mode="r", suffix=".strace") as summary:
        st = subprocess.Popen(["strace", "-c", "-f", "-o", summary.name, "-p", str(server.pid)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        try:
            attached = _wait_for_attach(st, attach_timeout)
            if not attached:
                return None
            time.sleep(0.2)
            r = run_loadgen(server.host, server.port, requests=requests,
                            timeout=max(60.0, requests / 200), **kw)
        finally:
            if st.poll() is None:
                st.send_signal(signal.SIGINT)        # strace detaches and writes the summary
            try:
                st.wait(timeout=30)
            except subprocess.TimeoutExpired:
                st.kill()
                st.wait()
        calls = parse_strace_summary(summary.read())
    done = r.get("total_requests") or 0
    if not calls or not done:
        return None
    total = sum(calls.values())
    top = sorted(calls.items(), key=lambda kv: -kv[1])[:6]
    return {"requests": done, "errors": r["errors"], "syscalls": total,
            "per_request": total / done,
            "top": {k: v / done for k, v in top}}


def _wait_for_attach(st, timeout):
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(st.stderr, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(deadline - time.monotonic()):
                break
            line = st.stderr.readline()
            if not line:
                return False                            # strace exited: cannot attach
            if "attached" in line:
                threading.Thread(target=st.stderr.read, daemon=True).start()
                return True
    return False


def top_syscalls(summary):
    """"epoll_wait 1.02, sendto 1.00, ...": the top syscalls per request of a summary."""
    return ", ".join(f"{k} {v:.2f}" for k, v in summary["top"].items() if v >= 0.005)
