"""The C loop's fd watchers, shaped like a selector for asyncio's code.

asyncio's selector event loop implements add_reader/add_writer, the sock_*
methods, transports, SSL, UDP, pipes and subprocesses over a selector's
register/modify/unregister; this table sends those calls to the C loop's
watchers (mux_watch), so all of that runs unchanged on pymux.aio.Loop.
The loop reads the events back from its own run_once records, never
through select().

asyncio calls get_key, register and unregister with an int fd on every
add/remove_reader/writer, and so on every sock_recv or sock_sendall that
waits: for an int fd they take a short path, with the stdlib's results and
exceptions (its get_key raises a miss's KeyError twice, through three
frames: microseconds, when asyncio asks mostly about fds not registered).

On the select backend an fd at or above FD_SETSIZE is refused with the
ValueError the stdlib's SelectSelector raises for it, at the call that
brings it (the stdlib's registers it, and its next select() raises, out of
the loop's run, until it is removed).
"""
import selectors

from .._clib import mux_watch
from .._errors import check_loop, owned
from .._mux import lib

# asyncio passes selectors' masks; the C core takes the same values.
assert (lib.MUX_READ, lib.MUX_WRITE) == (selectors.EVENT_READ, selectors.EVENT_WRITE)
_READ_WRITE = selectors.EVENT_READ | selectors.EVENT_WRITE
_SelectorKey = selectors.SelectorKey
_tuple_new = tuple.__new__   # SelectorKey(...) without its Python-level __new__
UNSELECTABLE = "filedescriptor out of range in select()"   # the stdlib's message


class WatcherTable(selectors._BaseSelectorImpl):
    """fd -> SelectorKey (asyncio keeps its (reader, writer) handles in
    key.data), mirrored into the C loop's watcher interest."""

    def __init__(self, cloop, backend):
        super().__init__()
        self._cloop = cloop   # the Loop's; dropped by close() before the Loop frees it
        # fds from here on are refused by the select backend (else None).
        self.select_limit = lib.FD_SETSIZE if backend == "select" else None

    def refuse_unselectable(self, fd):
        """After the C loop refused fd: the stdlib's ValueError if that is
        because select() cannot watch it."""
        if self.select_limit is not None and fd >= self.select_limit:
            raise ValueError(UNSELECTABLE)

    def get_key(self, fileobj):
        if type(fileobj) is int and fileobj >= 0 and self._map is not None:
            key = self._fd_to_key.get(fileobj)
            if key is None:
                raise KeyError(f"{fileobj!r} is not registered")
            return key
        return super().get_key(fileobj)   # a file object, a bad fd, or closed

    def register(self, fileobj, events, data=None):
        if not events or events & ~_READ_WRITE:
            raise ValueError(f"Invalid events: {events!r}")
        fd = fileobj if type(fileobj) is int and fileobj >= 0 else self._fileobj_lookup(fileobj)
        if fd in self._fd_to_key:
            raise KeyError(f"{fileobj!r} (FD {fd}) is already registered")
        rc = mux_watch(self._cloop, fd, events)
        if rc < 0:
            self.refuse_unselectable(fd)
            check_loop(rc)
        key = self._fd_to_key[fd] = _tuple_new(_SelectorKey, (fileobj, fd, events, data))
        return key

    def unregister(self, fileobj):
        fd = fileobj if type(fileobj) is int and fileobj >= 0 else self._fileobj_lookup(fileobj)
        try:
            key = self._fd_to_key.pop(fd)
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None
        # Other errors mean the fd is gone already (closed): nothing to undo,
        # as the stdlib selectors swallow OSError here.
        rc = mux_watch(self._cloop, fd, 0)
        if rc < 0:
            owned(rc)
        return key

    def modify(self, fileobj, events, data=None):
        fd = fileobj if type(fileobj) is int and fileobj >= 0 else self._fileobj_lookup(fileobj)
        try:
            key = self._fd_to_key[fd]
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None
        if events != key.events:
            if not events or events & ~_READ_WRITE:
                raise ValueError(f"Invalid events: {events!r}")
            check_loop(mux_watch(self._cloop, fd, events))
        if events != key.events or data != key.data:
            key = self._fd_to_key[fd] = _tuple_new(_SelectorKey, (key.fileobj, fd, events, data))
        return key

    def select(self, timeout=None):
        raise NotImplementedError(
            "pymux.aio.Loop reads watcher events from its own iteration")

    def close(self):
        super().close()
        self._cloop = None
