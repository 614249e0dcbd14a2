"""--api protocol: the echo server as an asyncio Protocol on pymux.aio.

The connections are the reactor's EchoProtocol (its methods are the ones
asyncio transports have too), and everything else is EchoServer's; what
differs is how to listen (loop.create_server) and how to find the open
connections (asyncio loops do not list their transports: a set here).
"""
import os
import socket

from ._server import LISTEN_BACKLOG, EchoServer

# asyncio calls connection_made one iteration after the accept, and a streams
# handler starts one iteration after that: a connection accepted just before
# the listener closed is not admitted (counted) yet. So the server stops only
# once it has been done for this many iterations in a row.
ADMIT_ITERATIONS = 3


class AioEchoServer(EchoServer):
    """EchoServer on an asyncio event loop."""

    def __init__(self, loop, args):
        super().__init__(loop, args)
        self.open = set()   # the admitted connections not closed yet

    def listen(self, host, port, reuse_port):
        return self.listen_with(self.loop.create_server, self.new_protocol, host, port,
                                reuse_port)

    def listen_with(self, create, factory, host, port, reuse_port):
        """Run create(factory, host, port, ...) (create_server, start_server)
        to its asyncio.Server; (it, the first socket's address)."""
        try:
            server = self.loop.run_until_complete(create(
                factory, host, port, backlog=LISTEN_BACKLOG, reuse_port=reuse_port or None))
        except socket.gaierror:
            raise
        except OSError as exc:
            # asyncio rewords bind errors ("error while attempting to bind on
            # address ..."): say it as the reactor server does.
            raise OSError(exc.errno, os.strerror(exc.errno)) if exc.errno else exc from None
        return server, server.sockets[0].getsockname()

    def connection_started(self, conn):
        super().connection_started(conn)
        self.open.add(conn)

    def connection_ended(self, conn):
        self.open.discard(conn)
        super().connection_ended(conn)

    def stop_when_done(self, iterations=ADMIT_ITERATIONS):
        if self.done():
            if iterations:
                self.loop.call_soon(self.stop_when_done, iterations - 1)
            else:
                self.loop.stop()

    def connections(self):
        return [conn for conn in self.open if conn.counted]
