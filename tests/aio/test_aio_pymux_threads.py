"""pymux.aio from another thread, where pymux promises more than asyncio:
asyncio's loop (debug mode off) lets another thread touch its timer heap
while it runs, a data race; pymux.aio's C heap refuses such a call with
RuntimeError instead. call_soon_threadsafe stays the way in (the
conformance suite tests its wake-up on both loops)."""
import threading
import time

from aio_helpers import BODY_TIMEOUT


def wait_until_in_epoll_wait(native_id):
    """Until the thread sleeps in epoll_wait (its loop's wait), by the
    kernel function it sleeps in: not merely asleep, since a thread waiting
    for the GIL sleeps too."""
    deadline = time.monotonic() + BODY_TIMEOUT
    while time.monotonic() < deadline:
        with open(f"/proc/self/task/{native_id}/wchan") as wchan:
            if "epoll_wait" in wchan.read():
                return
        time.sleep(0.001)


def call_later_from_another_thread_while_waiting(loop):
    """The RuntimeError (or None) that loop.call_later raised in another
    thread while the loop (epoll) was asleep in its wait."""
    outcome = {}

    def other_thread(native_id):
        wait_until_in_epoll_wait(native_id)
        try:
            loop.call_later(60, print)
        except RuntimeError as exc:
            outcome["error"] = exc
        loop.call_soon_threadsafe(loop.stop)

    def start_other_thread():
        thread = threading.Thread(target=other_thread, args=(threading.get_native_id(),))
        thread.start()
        return thread

    threads = []
    loop.call_soon(lambda: threads.append(start_other_thread()))
    loop.run_forever()
    threads[0].join(BODY_TIMEOUT)
    return outcome.get("error")


def test_call_later_from_another_thread_while_the_loop_waits_is_refused(pymux_loop):
    error = call_later_from_another_thread_while_waiting(pymux_loop)
    assert isinstance(error, RuntimeError)
    assert "another thread" in str(error) and "call_soon_threadsafe" in str(error)


def test_the_loop_keeps_working_after_refusing_another_thread(pymux_loop):
    assert call_later_from_another_thread_while_waiting(pymux_loop) is not None
    fired = []
    pymux_loop.call_later(0.001, fired.append, "timer")
    pymux_loop.call_later(0.002, pymux_loop.stop)
    pymux_loop.run_forever()
    assert fired == ["timer"]
