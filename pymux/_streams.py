"""What the two transports on C streams (pymux.reactor's Transport and
pymux.aio's StreamTransport) share: the write of a buffer that is not
bytes, and the socket object get_extra_info("socket") hands out."""
import os
import socket

from ._mux import ffi
from ._clib import mux_stream_write

DEFAULT_HIGH_WATER = 64 * 1024   # asyncio's default; low water is high // 4
DEAD_TOKEN = -1        # never issued by the C core (tokens are >= 0)
NO_LOOP = ffi.NULL     # a detached transport's loop: C refuses it with -EINVAL


def write_buffer(cloop, token, data):
    """mux_stream_write for a bytearray or memoryview (cffi takes only
    bytes as a char pointer); anything else is asyncio's TypeError."""
    if not isinstance(data, (bytearray, memoryview)):
        raise TypeError(f"data argument must be a bytes-like object, "
                        f"not {type(data).__name__!r}")
    data = ffi.from_buffer(data)
    return mux_stream_write(cloop, token, data, len(data))


def dup_socket(fd):
    """A socket object on a dup of a stream's fd, so that the C core stays
    the only owner of the fd it polls (close the dup with the stream: it
    keeps the connection up)."""
    sock = socket.socket(fileno=os.dup(fd))
    # PyPy's socket(fileno=) makes the fd blocking (CPython leaves it alone),
    # and a dup shares that flag with the fd C sends on: blocking, one peer
    # that does not read would stall the loop.
    sock.setblocking(False)
    return sock
