"""Core: what a Loop keeps about its C loop's records and streams.

One object on the Loop instead of ten attributes: asyncio's loop has two
dozen already, and past 30 CPython stops sharing an instance dict's keys
(every attribute read on the Loop gets slower). The loop reads these once
per iteration, not per record.
"""
from .._clib import mux_loop_fired, mux_loop_read_buffer
from .._mux import ffi, lib


class Core:
    """The fired-record array, the read buffer DATA records name, and who
    gets each stream's and listener's records."""

    __slots__ = ("fired", "most_fired", "unfinished", "rptr", "rbuf", "streams", "on_data",
                 "buffered", "listeners", "listener_of_fd")

    def __init__(self, cloop):
        self.fired = mux_loop_fired(cloop)
        self.most_fired = 0              # most records one iteration returned
        self.unfinished = None           # records an exception cut off (Loop._queue_fired)
        self.rptr = mux_loop_read_buffer(cloop)
        self.rbuf = ffi.buffer(self.rptr, lib.MUX_READ_BUFFER)
        self.streams = {}                # C stream token -> StreamTransport
        self.on_data = {}                # token -> its Protocol (data_received)
        self.buffered = {}               # token -> StreamTransport of a BufferedProtocol
        self.listeners = {}              # C listener token -> Listener
        self.listener_of_fd = {}         # listening socket's fd -> Listener

    def release(self):
        """Before the C loop is freed: detach every transport and listener
        (C closes their fds with the loop) and drop the views of C memory."""
        for transport in self.streams.values():
            transport._loop_closed()
        for listener in self.listeners.values():
            listener._token = None
        for table in (self.streams, self.on_data, self.buffered, self.listeners,
                      self.listener_of_fd):
            table.clear()
        self.unfinished = None
        self.fired = self.rptr = self.rbuf = None
