"""What asyncio's Handle does for the loop that runs handles itself.

The handles themselves are asyncio's, built without their __init__ chain:
Handle(callback, args, loop, context) runs Handle.__init__ (and, for
timers, TimerHandle.__init__ over it) and asks loop.get_debug(), three
Python calls per callback scheduled. Loop.call_soon and Loop.call_at set
the same attributes inline instead (a helper call cost 11% on call_soon,
7% on call_at); tests/aio/test_aio_pymux_handles.py keeps both in step
with asyncio's constructors.
"""
from asyncio import format_helpers


def report_callback_error(handle, exc):
    """What Handle._run() does with its callback's exception, for the loop
    that runs handles without calling _run()."""
    cb = format_helpers._format_callback_source(handle._callback, handle._args)
    context = {
        "message": f"Exception in callback {cb}",
        "exception": exc,
        "handle": handle,
    }
    if handle._source_traceback:
        context["source_traceback"] = handle._source_traceback
    handle._loop.call_exception_handler(context)
