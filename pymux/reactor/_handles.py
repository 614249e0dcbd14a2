"""Callback handles, shaped like asyncio's Handle and TimerHandle."""


class Handle:
    """A callback scheduled with call_soon; cancel() stops it from running."""

    __slots__ = ("_callback", "_args", "_reactor", "_cancelled")

    def __init__(self, callback, args, reactor):
        self._callback = callback
        self._args = args
        self._reactor = reactor
        self._cancelled = False

    def cancel(self):
        self._cancelled = True
        self._callback = self._args = None

    def cancelled(self):
        return self._cancelled

    def _run(self):
        try:
            self._callback(*self._args)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._reactor.call_exception_handler({
                "message": f"Exception in callback {self._callback!r}",
                "exception": exc,
                "handle": self,
            })

    def __repr__(self):
        state = "cancelled" if self._cancelled else repr(self._callback)
        return f"<{type(self).__name__} {state}>"


class TimerHandle(Handle):
    """A callback scheduled with call_later/call_at; `when()` is loop time."""

    __slots__ = ("_when", "_timer_id")

    def __init__(self, when, callback, args, reactor, timer_id):
        super().__init__(callback, args, reactor)
        self._when = when
        self._timer_id = timer_id

    def when(self):
        return self._when

    def cancel(self):
        if not self._cancelled:
            self._reactor._cancel_timer(self)
        super().cancel()
