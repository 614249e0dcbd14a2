"""Types: pymux ships py.typed and stubs (pymux/*.pyi, copied from typeshed's
select and selectors) so that user code type-checks with pymux.select and
pymux.selectors exactly as with the stdlib modules; pymux.reactor is typed
too.

The programs in typing_samples/ go through one `mypy --strict` run. Those
written against a stdlib module also run with pymux's module imported under
the stdlib's name, and both runs must give the same messages. Every line
marked `# E: code` must get that error and no other line any, so a stub that
is too loose or too strict fails here. stubtest keeps the stubs in step with
the runtime modules.
"""
import os
import re
import site
import subprocess
import sys
from pathlib import Path

import pytest

import pymux

SAMPLES = Path(__file__).parent / "typing_samples"
# Written against the stdlib module their name starts with.
TWINS = ["select_ok", "select_wrong", "selectors_ok", "selectors_wrong"]
# Written against pymux.
PYMUX_ONLY = ["selectors_pymux_only", "reactor_ok", "reactor_wrong"]
PUBLIC_MODULES = ["pymux.select", "pymux.selectors", "pymux.reactor", "pymux.uring"]
HANG_GUARD = 600   # seconds; a mypy run takes a few

# The pinned mypy (see pyproject.toml) runs on Python 3.10 and later only.
pytestmark = pytest.mark.skipif(sys.version_info < (3, 10), reason="mypy 2.4 needs Python 3.10+")

MYPY_LINE = re.compile(
    r"(?P<file>[^:]+):(?P<line>\d+): (?P<severity>error|note): (?P<message>.*?)(?:  \[(?P<code>[\w-]+)\])?")
MARK = re.compile(r"#\s*E:\s*(?P<code>[\w-]+)\s*$")


def _mypy_env():
    """An installed pymux is found the PEP 561 way (py.typed), as users get
    it. One imported from a source tree (an editable install's import hook,
    which mypy cannot follow) is named with MYPYPATH."""
    env = dict(os.environ)
    env.pop("MYPYPATH", None)
    root = Path(pymux.__file__).resolve().parent.parent
    if root not in {Path(p).resolve() for p in site.getsitepackages()}:
        env["MYPYPATH"] = str(root)
    return env


def _run_module(args, cwd):
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=_mypy_env(),
                          capture_output=True, text=True, timeout=HANG_GUARD)


def _with_pymux_import(text, module):
    """The program with `import select` replaced by pymux's module."""
    stdlib_import = re.compile(rf"^import {module}$", re.MULTILINE)
    assert len(stdlib_import.findall(text)) == 1
    return stdlib_import.sub(f"import pymux.{module} as {module}", text)


def _marked_errors(name):
    lines = (SAMPLES / f"{name}.py").read_text().splitlines()
    return {(number, m["code"]) for number, line in enumerate(lines, 1)
            if (m := MARK.search(line))}


@pytest.fixture(scope="module")
def mypy_messages(tmp_path_factory):
    """{checked file: [(line, severity, message, code)]}, from one mypy run."""
    work = tmp_path_factory.mktemp("typing")
    (work / "mypy.ini").write_text("[mypy]\n")   # no user or project config
    for name in TWINS:
        text = (SAMPLES / f"{name}.py").read_text()
        (work / f"stdlib_{name}.py").write_text(text)
        (work / f"pymux_{name}.py").write_text(_with_pymux_import(text, name.split("_")[0]))
    for name in PYMUX_ONLY:
        (work / f"{name}.py").write_text((SAMPLES / f"{name}.py").read_text())
    files = sorted(p.name for p in work.glob("*.py"))
    proc = _run_module(["mypy", "--strict", "--no-error-summary", "--no-pretty",
                        "--cache-dir", str(work / "cache"), *files], work)
    assert proc.returncode in (0, 1) and not proc.stderr, proc.stdout + proc.stderr
    messages = {f: [] for f in files}
    for line in proc.stdout.splitlines():
        m = MYPY_LINE.fullmatch(line)
        assert m and m["file"] in messages, f"mypy reported outside the samples: {line}"
        messages[m["file"]].append((int(m["line"]), m["severity"], m["message"], m["code"]))
    return messages


@pytest.mark.parametrize("name", TWINS)
def test_code_type_checks_with_the_pymux_module_exactly_as_with_the_stdlib_one(mypy_messages, name):
    module = name.split("_")[0]
    stdlib = mypy_messages[f"stdlib_{name}.py"]
    # Notes name the module a function comes from ('defined in "select"').
    pymux_ = [(line, severity, message.replace(f'"pymux.{module}', f'"{module}'), code)
              for line, severity, message, code in mypy_messages[f"pymux_{name}.py"]]
    assert pymux_ == stdlib


@pytest.mark.parametrize("name", TWINS + PYMUX_ONLY)
def test_sample_gets_exactly_the_errors_its_lines_are_marked_with(mypy_messages, name):
    marked = _marked_errors(name)
    assert bool(marked) == ("_ok" not in name)
    checked = [f"stdlib_{name}.py", f"pymux_{name}.py"] if name in TWINS else [f"{name}.py"]
    for file in checked:
        errors = {(line, code) for line, severity, _, code in mypy_messages[file]
                  if severity == "error"}
        assert errors == marked, file


def test_stubs_match_the_runtime_modules(tmp_path):
    proc = _run_module(["mypy.stubtest", "--concise",
                        "--mypy-config-file", str(SAMPLES / "stubtest.ini"), *PUBLIC_MODULES],
                       tmp_path)
    assert not proc.stderr
    assert proc.stdout.splitlines() == []
