"""The Python interpreter a server runs under: this one, or another one given
by path (``bench_echo.py --python PATH``), with what the benchmarks need to
know about it: its name for the report, whether it has a JIT to warm up,
and whether it can import a module."""
import importlib.util
import platform
import subprocess
import sys

_DESCRIBE = ("import platform, sys; print(platform.python_implementation(), "
             "'%d.%d' % sys.version_info[:2], sys.version.split()[0])")


class Interpreter:
    """``path`` (None: this interpreter), ``implementation`` ('CPython',
    'PyPy'), ``version`` ('3.9'), ``full_version`` ('3.9.16')."""

    def __init__(self, path=None):
        self.path = path
        if path is None:
            self.implementation = platform.python_implementation()
            self.version = "%d.%d" % sys.version_info[:2]
            self.full_version = platform.python_version()
        else:
            out = subprocess.run([path, "-c", _DESCRIBE], capture_output=True, text=True,
                                 timeout=60, check=True).stdout.split()
            self.implementation, self.version, self.full_version = out

    @property
    def executable(self):
        return self.path or sys.executable

    @property
    def tag(self):
        """A short name for tables: 'pypy3.9', 'cpython3.11'."""
        return f"{self.implementation.lower()}{self.version}"

    @property
    def jit(self):
        """True if its speed changes while a server runs (PyPy compiles hot loops)."""
        return self.implementation == "PyPy"

    def can_import(self, module, env=None):
        """True if ``module`` is installed (this interpreter: found; another: imports, with ``env``)."""
        if self.path is None:
            return importlib.util.find_spec(module) is not None
        return subprocess.run([self.executable, "-c", f"import {module}"], env=env,
                              capture_output=True, timeout=60).returncode == 0

    def __str__(self):
        return f"{self.implementation} {self.full_version} ({self.executable})"


THIS = Interpreter()
