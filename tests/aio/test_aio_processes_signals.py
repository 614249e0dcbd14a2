"""Signals and subprocesses, on both loops."""
import asyncio
import os
import signal
import sys

import pytest


def test_signal_handler_runs_in_the_loop_with_its_args(aio_loop):
    got = []

    def on_signal(tag):
        got.append(tag)
        aio_loop.stop()

    aio_loop.add_signal_handler(signal.SIGUSR1, on_signal, "usr1")
    try:
        aio_loop.call_later(0.01, os.kill, os.getpid(), signal.SIGUSR1)
        aio_loop.run_forever()
    finally:
        assert aio_loop.remove_signal_handler(signal.SIGUSR1) is True
    assert got == ["usr1"]
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL


def test_remove_signal_handler_without_one_returns_false(aio_loop):
    assert aio_loop.remove_signal_handler(signal.SIGUSR2) is False


def test_add_signal_handler_refuses_sigkill_and_bad_numbers(aio_loop):
    with pytest.raises(RuntimeError):
        aio_loop.add_signal_handler(signal.SIGKILL, print)
    with pytest.raises(ValueError):
        aio_loop.add_signal_handler(signal.NSIG + 1, print)


def test_signal_handler_cannot_be_a_coroutine_function(aio_loop):
    async def coro():
        pass

    with pytest.raises(TypeError):
        aio_loop.add_signal_handler(signal.SIGUSR1, coro)


def test_subprocess_exec_echo_round_trip(run):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            "echo", "hello", "pymux", stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        return out, await proc.wait()

    assert run(main()) == (b"hello pymux\n", 0)


def test_subprocess_stdin_to_stdout_through_pipes(run):
    payload = os.urandom(300000)

    async def main():
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate(payload)
        return out, proc.returncode

    assert run(main()) == (payload, 0)


def test_subprocess_shell_exit_code(run):
    async def main():
        proc = await asyncio.create_subprocess_shell("exit 7")
        return await proc.wait()

    assert run(main()) == 7
