"""--api protocol: the echo server as an asyncio Protocol on pymux.aio.

The connections are the reactor's EchoProtocol (its methods are the ones
asyncio transports have too), and everything else is EchoServer's; what
differs is how to listen (loop.create_server), how to find the open
connections (asyncio loops do not list their transports: a set here), and
the timing of the shutdown's last steps (asyncio admits an accepted
connection a few iterations after the accept, see ADMIT_ITERATIONS).
"""
import os
import socket

from ._server import LISTEN_BACKLOG, EchoServer

# How many loop iterations an accepted connection takes to be admitted
# (counted): asyncio sets it up in a task one iteration after the accept,
# calls connection_made one iteration later, and a streams handler starts
# one more iteration later.
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

    def stop_accepting(self):
        """Stop reading the listeners now, close them (and so the Server)
        once the connections accepted so far are set up: asyncio drops a
        connection whose set-up task finds its Server closed, and its
        client, which saw it open, gets a reset."""
        for sock in self.server.sockets:
            self.loop.remove_reader(sock.fileno())
        self.after_iterations(ADMIT_ITERATIONS, super().stop_accepting)

    def stop_when_done(self):
        """Stop once done and still done when a connection accepted just
        before the listeners closed would have been admitted."""
        if self.done():
            self.after_iterations(ADMIT_ITERATIONS, self.stop_if_done)

    def stop_if_done(self):
        if self.done():
            self.loop.stop()

    def after_iterations(self, iterations, callback):
        if iterations:
            self.loop.call_soon(self.after_iterations, iterations - 1, callback)
        else:
            callback()

    def connections(self):
        return [conn for conn in self.open if conn.counted]
