"""pymux.aio: an asyncio event loop on pymux's C core (in progress).

    import pymux.aio

    async def main():
        ...

    pymux.aio.run(main())            # like asyncio.run(main())

or `loop = pymux.aio.new_event_loop()`, or `pymux.aio.install()` to make
asyncio.run() and asyncio.new_event_loop() use it. `pymux.aio.Loop` is the
class: asyncio's selector event loop whose iteration, timers and wake-ups
are the C core's (see _loop.py).
"""
from ._loop import Loop
from ._run import EventLoopPolicy, install, new_event_loop, run

__all__ = ["EventLoopPolicy", "Loop", "install", "new_event_loop", "run"]
