"""Helpers of the markdown reports: medians, number formats, the failures
section, and the facts about the run and the machine stored with the results."""
import os
import platform
import sys
import time
from pathlib import Path


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def fmt(x, spec=".0f", none="n/a"):
    return none if x is None else format(x, spec)


def failures_md(failures):
    """A markdown ``### Failures`` section (as a list of lines), each message once with its count."""
    if not failures:
        return []
    lines = ["", "### Failures", ""]
    for name, msgs in failures.items():
        for msg in dict.fromkeys(msgs):          # unique, in order
            n = msgs.count(msg)
            lines.append(f"- {name}: {msg}" + (f" (x{n})" if n > 1 else ""))
    return lines


def machine_meta(settings):
    """Run settings plus the machine: Python, platform, CPU model and count, load, time."""
    def read(path):
        try:
            return Path(path).read_text().strip()
        except OSError:
            return None
    cpu = next((line.split(":", 1)[1].strip() for line in (read("/proc/cpuinfo") or "").splitlines()
                if line.startswith("model name")), None)
    return {"args": settings, "python": sys.version, "platform": platform.platform(),
            "cpu": cpu, "ncpu": os.cpu_count(), "loadavg": read("/proc/loadavg"),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
