"""asyncio's Handle objects, built without their __init__ chain.

Handle(callback, args, loop, context) runs Handle.__init__ (and, for
timers, TimerHandle.__init__ over it) and asks loop.get_debug(): three
Python calls per callback scheduled. call_soon and call_at are on every
request's path, so the loop fills the same attributes itself instead; in
debug mode the caller adds the source traceback. new_handle says how; Loop's
call_soon and call_at run its body inline, without even this one call
(measured: 11% on call_soon, 7% on call_at): keep the three in step.
"""
from asyncio import format_helpers
from contextvars import copy_context

_new = object.__new__


def new_handle(cls, callback, args, loop, context):
    """An instance of cls (asyncio.Handle or a subclass) with Handle's
    attributes set as Handle.__init__ sets them outside debug mode."""
    handle = _new(cls)
    handle._context = copy_context() if context is None else context
    handle._loop = loop
    handle._callback = callback
    handle._args = args
    handle._cancelled = False
    handle._repr = None
    handle._source_traceback = None
    return handle


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
