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


def test_the_cffi_pymux_runs_on_meets_the_requirement_pymux_declares():
    # PyPy's own cffi comes ahead of site-packages, and PyPI's cffi installs
    # only metadata there: a requirement pip meets that way is met on paper only.
    import cffi
    from packaging.requirements import Requirement

    reqs = [Requirement(r) for r in importlib.metadata.requires("pymux")]
    cffi_reqs = [r for r in reqs if r.name == "cffi" and r.marker.evaluate({"extra": ""})]
    assert len(cffi_reqs) == 1, reqs
    assert cffi_reqs[0].specifier.contains(cffi.__version__), (cffi.__version__, cffi_reqs[0])
