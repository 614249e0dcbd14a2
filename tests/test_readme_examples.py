"""Every code block in README.md runs as written.

Python blocks run in a fresh interpreter and must exit 0 with nothing on
stderr. A block that serves (it calls run_forever) runs on port 0 instead of
its fixed port, must echo a line sent to the port it prints, and must stop on
SIGINT. Shell blocks are checked for what can be checked without installing
or serving: every script they name exists and every `python -m` module they
name can be imported.
"""
import importlib.util
import pathlib
import re
import signal
import socket
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```$", README, flags=re.M | re.S)
PYTHON_BLOCKS = [code for lang, code in BLOCKS if lang == "python"]
SHELL_BLOCKS = [code for lang, code in BLOCKS if lang == "sh"]
TIMEOUT = 60   # a hang guard only


def _first_line(code):
    return code.strip().splitlines()[0]


def test_the_readme_has_the_examples_this_test_expects():
    assert len(PYTHON_BLOCKS) >= 4 and len(SHELL_BLOCKS) >= 4
    assert sum("run_forever" in code for code in PYTHON_BLOCKS) == 1


@pytest.mark.parametrize("code", [c for c in PYTHON_BLOCKS if "run_forever" not in c],
                         ids=_first_line)
def test_python_example_runs_cleanly(code, tmp_path):
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout


def test_reactor_example_serves_echo_and_stops_on_sigint(tmp_path):
    [code] = [c for c in PYTHON_BLOCKS if "run_forever" in c]
    code, replaced = re.subn(r'"127\.0\.0\.1", 8088\)', '"127.0.0.1", 0)', code)
    assert replaced == 1
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line)
        assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
        with socket.create_connection(("127.0.0.1", int(match[1])), timeout=TIMEOUT) as conn:
            conn.sendall(b"ping\n")
            assert conn.recv(100) == b"ping\n"
        assert proc.stdout.readline() == "one second later\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert err == ""


def _shell_words():
    for code in SHELL_BLOCKS:
        for line in code.splitlines():
            yield line.split("#", 1)[0].split()


@pytest.mark.parametrize("script", sorted({w for words in _shell_words() for w in words
                                           if w.endswith((".py", ".sh"))}))
def test_shell_example_script_exists(script):
    assert (ROOT / script).is_file()


@pytest.mark.parametrize("module", sorted({words[i + 1] for words in _shell_words()
                                           for i, w in enumerate(words[:-1]) if w == "-m"
                                           and words[i + 1] not in ("venv", "pip")}))
def test_shell_example_module_exists(module):
    assert importlib.util.find_spec(module) is not None
