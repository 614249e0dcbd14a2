"""Compile a C source of bench/ with gcc into bench/.build/, only when it is stale."""
import os
import shutil
import subprocess
import sys

from harness import BENCH

BUILD_DIR = BENCH / ".build"
CFLAGS = ("-O2", "-Wall", "-Wextra")


def build(src, name=None, flags=CFLAGS, libs=()):
    """Compile C source ``src`` (absolute, or relative to bench/) into BUILD_DIR if it is stale."""
    src = (BENCH / src).resolve()
    out = BUILD_DIR / (name or src.stem)
    if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
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
