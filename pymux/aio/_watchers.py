"""The C loop's fd watchers, shaped like a selector for asyncio's code.

asyncio's selector event loop implements add_reader/add_writer, the sock_*
methods, transports, SSL, UDP, pipes and subprocesses over a selector's
register/modify/unregister; this table sends those calls to the C loop's
watchers (mux_watch), so all of that runs unchanged on pymux.aio.Loop.
The loop reads the events back from its own run_once records, never
through select().
"""
import selectors

from .._clib import mux_watch
from .._errors import check_loop, owned
from .._mux import lib

# asyncio passes selectors' masks; the C core takes the same values.
assert (lib.MUX_READ, lib.MUX_WRITE) == (selectors.EVENT_READ, selectors.EVENT_WRITE)


class WatcherTable(selectors._BaseSelectorImpl):
    """fd -> SelectorKey (asyncio keeps its (reader, writer) handles in
    key.data), mirrored into the C loop's watcher interest."""

    def __init__(self, cloop):
        super().__init__()
        self._cloop = cloop   # the Loop's; dropped by close() before the Loop frees it

    def register(self, fileobj, events, data=None):
        key = super().register(fileobj, events, data)
        rc = mux_watch(self._cloop, key.fd, events)
        if rc < 0:
            super().unregister(fileobj)
            check_loop(rc)
        return key

    def unregister(self, fileobj):
        key = super().unregister(fileobj)
        # Other errors mean the fd is gone already (closed): nothing to undo,
        # as the stdlib selectors swallow OSError here.
        owned(mux_watch(self._cloop, key.fd, 0))
        return key

    def modify(self, fileobj, events, data=None):
        try:
            key = self._fd_to_key[self._fileobj_lookup(fileobj)]
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None
        if events != key.events:
            if not events or events & ~(selectors.EVENT_READ | selectors.EVENT_WRITE):
                raise ValueError(f"Invalid events: {events!r}")
            check_loop(mux_watch(self._cloop, key.fd, events))
        if events != key.events or data != key.data:
            key = key._replace(events=events, data=data)
            self._fd_to_key[key.fd] = key
        return key

    def select(self, timeout=None):
        raise NotImplementedError(
            "pymux.aio.Loop reads watcher events from its own iteration")

    def close(self):
        super().close()
        self._cloop = None
