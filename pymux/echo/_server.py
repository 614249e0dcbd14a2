"""The echo server in one process: accepting, limits, idle sweep, graceful
shutdown and totals, whichever API serves the connections (--api: the
reactor here; asyncio Protocols and streams on pymux.aio in _aio_protocol.py
and _aio_streams.py, which subclass EchoServer)."""
import logging
import signal

from ..reactor import Reactor
from ._protocol import EchoProtocol, UpperEchoProtocol

logger = logging.getLogger("pymux.echo")

# Each stops the server gracefully; a second one ends the grace period at
# once. SIGHUP too: there is no configuration to reload, and a server whose
# terminal went away should still end cleanly.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

# Once the grace period is over, the seconds connections get to take their
# last replies and answer FIN before they are closed (or reset).
FINISH_TIMEOUT = 1.0

SERVING, DRAINING, FINISHING = "serving", "draining", "finishing"

ENDING = -2   # Connection.seen_requests of a connection the sweep saw ending

LISTEN_BACKLOG = 1024


class StartupError(Exception):
    """The server or client could not start (bad address, port in use...)."""


def listen_error(host, port, exc):
    return StartupError(f"cannot listen on {format_address(host, port)}: {exc.strerror or exc}")


class Stats:
    """Totals for one process; connections add theirs when they end."""

    def __init__(self):
        self.connections = 0
        self.requests = 0
        self.bytes = 0

    def as_dict(self):
        return {"connections": self.connections, "requests": self.requests, "bytes": self.bytes}


class EchoServer:
    """Accepts connections and tracks them for limits, idle timeouts,
    shutdown and totals. `loop` is a pymux Reactor, or an asyncio loop in
    the subclasses: only the methods both have are used here (call_soon,
    call_later, time, stop). What each API does its own way is in methods
    the subclasses override: listen(), connections(), and the bookkeeping
    around them (connection_started/ended, stop_when_done)."""

    def __init__(self, loop, args):
        self.loop = loop
        self.args = args
        self.stats = Stats()
        self.active = 0           # open connections (for --max-connections)
        self.sweep_time = loop.time()   # shared by new connections: no float each
        self.server = None
        self.state = SERVING
        self.grace_timer = None
        self.protocol_class = UpperEchoProtocol if args.upper else EchoProtocol

    def start(self, host, port, reuse_port=False):
        """Listen; returns the address listened on."""
        try:
            self.server, sockname = self.listen(host, port, reuse_port)
        except OSError as exc:
            raise listen_error(host, port, exc) from None
        if self.args.idle_timeout:
            self.loop.call_later(self.args.idle_timeout / 4, self.sweep_idle)
        return sockname

    def listen(self, host, port, reuse_port):
        """(the server, its address); the server has close() and is_serving()."""
        server = self.loop.listen_tcp(self.new_protocol, host, port,
                                      backlog=LISTEN_BACKLOG, reuse_port=reuse_port)
        return server, server.sockname

    def new_protocol(self):
        return self.protocol_class(self)

    def sweep_idle(self):
        """Finish connections idle for at least --idle-timeout seconds.

        A connection's request count is compared at each sweep; its last
        activity happened before the sweep that last saw the count change,
        so a connection is never closed early, and at most one sweep period
        (a quarter of the timeout) late. No per-request clock reads.
        """
        now = self.sweep_time = self.loop.time()
        for conn in self.connections():
            if conn.ending:
                # Its replies or its peer's EOF still awaited: give them one
                # more timeout, then end it (a peer that sends and never
                # reads would otherwise hold the connection forever).
                if conn.seen_requests != ENDING:
                    conn.seen_requests, conn.seen_at = ENDING, now
                elif now - conn.seen_at >= self.args.idle_timeout:
                    conn.end_now()
            elif conn.requests != conn.seen_requests:
                conn.seen_requests, conn.seen_at = conn.requests, now
            elif now - conn.seen_at >= self.args.idle_timeout:
                if logger.isEnabledFor(logging.INFO):
                    logger.info("closing idle connection %s", conn.peer())
                conn.finish()
        self.loop.call_later(self.args.idle_timeout / 4, self.sweep_idle)

    # --- shutdown -----------------------------------------------------------

    def shutdown(self):
        """First call: stop accepting and keep serving the open connections
        until they end or --grace seconds pass. Second call: end the grace
        period now. Then every connection is finished (its replies, FIN,
        its input read to EOF) and, FINISH_TIMEOUT later, closed or reset."""
        if self.state == SERVING:
            self.state = DRAINING
            self.grace_timer = self.loop.call_later(self.args.grace, self.finish_connections)
            # Not at once: connections whose handshake is done wait in the
            # listen queue (their clients see them open) and closing the
            # listener would reset them; the next iteration accepts them.
            self.loop.call_soon(self.stop_accepting)
        elif self.state == DRAINING:
            self.grace_timer.cancel()
            self.finish_connections()

    def stop_accepting(self):
        self.server.close()
        logger.info("shutting down: stopped accepting; %d connections open, %.3g s grace",
                    self.active, self.args.grace)
        self.stop_when_done()

    def finish_connections(self):
        self.state = FINISHING
        for conn in self.connections():
            conn.finish()
        self.loop.call_later(FINISH_TIMEOUT, self.end_connections)

    def end_connections(self):
        for conn in self.connections():
            conn.end_now()

    def finishing(self):
        return self.state == FINISHING

    def connection_started(self, conn):
        self.active += 1

    def connection_ended(self, conn):
        self.active -= 1
        self.stop_when_done()

    def stop_when_done(self):
        if self.done():
            self.loop.stop()

    def done(self):
        """Shutting down, no longer accepting, and every connection ended."""
        return self.state != SERVING and self.active == 0 and not self.server.is_serving()

    def connections(self):
        """Open connections: the reactor tracks them, so no set of our own
        (a set costs ~50 bytes per idle connection)."""
        protocols = (t.get_protocol() for t in self.loop.transports())
        return [p for p in protocols if isinstance(p, EchoProtocol) and p.counted]

    def totals(self):
        for conn in self.connections():   # still open: count them too
            conn.add_to(self.stats)
            conn.counted = False
        return self.stats.as_dict()


def serve(args, host, port, reuse_port=False, ready=None, on_start=None):
    """Run one server (of args.api) until it has shut down; returns its totals.

    ready(sockname) runs once it listens; on_start(loop, echo) replaces
    the stop signals' handlers (workers take orders from their parent)."""
    loop, server_class = new_loop(args)
    try:
        echo = server_class(loop, args)
        sockname = echo.start(host, port, reuse_port)
        if on_start is None:
            for sig in STOP_SIGNALS:
                loop.add_signal_handler(sig, echo.shutdown)
        else:
            on_start(loop, echo)
        if ready is not None:
            ready(sockname)
        loop.run_forever()
        return echo.totals()
    finally:
        close_for_good(loop)


def new_loop(args):
    """(the event loop, the EchoServer class) of args.api; pymux.aio (and
    so asyncio) is imported only when asked for."""
    if args.api == "reactor":
        return Reactor(args.backend), EchoServer
    from .. import aio
    if args.api == "protocol":
        from ._aio_protocol import AioEchoServer as server_class
    else:
        from ._aio_streams import StreamsEchoServer as server_class
    return aio.new_event_loop(args.backend), server_class


def close_for_good(loop):
    """Close a loop that handles the stop signals, for the process's
    last moments: one more signal now (its handlers are removed) must not
    kill the process before it prints its totals; it is shutting down already."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    loop.close()
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)   # also drops any that are pending


def format_address(host, port):
    """HOST:PORT, with IPv6 hosts in brackets ([::1]:8088)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
