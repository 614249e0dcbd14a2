"""The installed package: one version everywhere, and `python -m pymux`."""
import importlib.metadata
import re
import subprocess
import sys

import pymux


def test_installed_metadata_carries_the_version_written_in_pymux():
    assert importlib.metadata.version("pymux") == pymux.__version__


def test_python_m_pymux_reports_the_version_and_one_round_trip_per_backend():
    out = subprocess.run([sys.executable, "-m", "pymux"], capture_output=True, text=True,
                         timeout=60, check=True).stdout.splitlines()
    assert out[0] == f"pymux {pymux.__version__}: backends select, poll, epoll (LT and ET)"
    assert re.fullmatch(r"  select +readable: \[\d+\]", out[1])
    assert re.fullmatch(r"  poll +events: \[\(\d+, 1\)\]", out[2])
    assert re.fullmatch(r"  epoll \(ET\) +events: \[\(\d+, 1\)\], again without new data: \[\]",
                        out[3])
