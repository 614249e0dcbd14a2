"""Compile a C source of bench/ with gcc into bench/.build/, only when it is stale."""
import os
import re
import shutil
import subprocess
import sys

from harness import BENCH

BUILD_DIR = BENCH / ".build"
CFLAGS = ("-O2", "-Wall", "-Wextra")


def _newest_input(src):
    """The newest mtime of src and of the headers it includes with quotes."""
    headers = re.findall(r'^#include "([^"]+)"', src.read_text(), flags=re.M)
    paths = [src, *(src.parent / h for h in headers)]
    return max(p.stat().st_mtime for p in paths if p.exists())


def build(src, name=None, flags=CFLAGS, libs=()):
    """Compile C source ``src`` (absolute, or relative to bench/) into BUILD_DIR if it is
    stale: older than the source or a header it includes with quotes."""
    src = (BENCH / src).resolve()
    out = BUILD_DIR / (name or src.stem)
    if out.exists() and out.stat().st_mtime >= _newest_input(src):
        return out
    if shutil.which("gcc") is None:
        raise RuntimeError("gcc not found: needed to build " + str(src))
    BUILD_DIR.mkdir(exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
    cmd = ["gcc", *flags, "-o", str(tmp), str(src), *libs]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"build failed: {' '.join(cmd)}\n{res.stderr}")
    if res.stderr.strip():
        print(res.stderr, file=sys.stderr, end="")
    os.replace(tmp, out)                 # atomic: concurrent runs never see half a file
    return out
