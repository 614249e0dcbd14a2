"""The Protocol interface, the same methods as asyncio.Protocol.

Subclasses of asyncio.Protocol work too: the reactor only calls methods.
"""


class Protocol:
    """Callbacks for one stream connection; override what you need."""

    __slots__ = ()   # subclasses with __slots__ then carry no per-instance dict

    def connection_made(self, transport):
        """The connection is up; keep `transport` to write and close."""

    def data_received(self, data):
        """Some bytes arrived (never empty)."""

    def eof_received(self):
        """The peer closed its sending side; return True to keep writing."""

    def connection_lost(self, exc):
        """The connection is closed; exc is None or the error that ended it."""

    def pause_writing(self):
        """The transport's write buffer went above its high-water mark."""

    def resume_writing(self):
        """The transport's write buffer drained to its low-water mark."""
