"""pymux.aio only: call_soon and call_at build asyncio's Handle and
TimerHandle without their __init__ chain (pymux/aio/_handles.py). Every
slot asyncio's constructors set must be set, to the same value: a Python
that adds a slot to Handle fails here, not later with an AttributeError."""
import asyncio
import contextvars
from asyncio import events

import pymux.aio


def slots(cls):
    return [name for klass in cls.__mro__ for name in getattr(klass, "__slots__", ())]


def slot_values(handle, cls):
    return {name: getattr(handle, name) for name in slots(cls)}


def callback(*args):
    pass


def test_call_soon_sets_every_slot_of_asyncios_handle(pymux_loop):
    ctx = contextvars.copy_context()
    expected = slot_values(events.Handle(callback, (1, 2), pymux_loop, ctx), events.Handle)
    handle = pymux_loop.call_soon(callback, 1, 2, context=ctx)
    assert type(handle) is events.Handle
    assert slot_values(handle, events.Handle) == expected


def test_call_at_sets_every_slot_of_asyncios_timer_handle(pymux_loop):
    ctx = contextvars.copy_context()
    when = pymux_loop.time() + 60
    expected = slot_values(events.TimerHandle(when, callback, (3,), pymux_loop, ctx),
                           events.TimerHandle)
    expected["_scheduled"] = True   # asyncio's call_at sets it once the heap holds it
    timer = pymux_loop.call_at(when, callback, 3, context=ctx)
    try:
        assert isinstance(timer, asyncio.TimerHandle)
        assert slot_values(timer, events.TimerHandle) == expected
        assert isinstance(timer._timer_id, int)   # pymux's one slot more
    finally:
        timer.cancel()


def test_without_a_context_each_handle_gets_a_copy_of_the_current_one(pymux_loop):
    var = contextvars.ContextVar("var")
    var.set("now")
    for handle in (pymux_loop.call_soon(callback), pymux_loop.call_later(60, callback)):
        assert handle._context is not contextvars.copy_context()
        assert handle._context.get(var) == "now"
        handle.cancel()


def test_futures_schedule_through_a_subclass_s_own_call_soon():
    # The Loop binds call_soon on the instance (the C Future looks it up
    # there for every callback): a subclass's override must still win.
    scheduled = []

    class Tracing(pymux.aio.Loop):
        def call_soon(self, callback, *args, context=None):
            scheduled.append(callback)
            return super().call_soon(callback, *args, context=context)

    loop = Tracing()
    try:
        fut = loop.create_future()
        fut.add_done_callback(callback)
        fut.set_result(None)
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
    assert callback in scheduled


def test_call_soon_is_the_loops_own_bound_method(pymux_loop):
    assert pymux_loop.call_soon.__self__ is pymux_loop
    assert pymux_loop.call_soon.__func__ is pymux.aio.Loop.call_soon
