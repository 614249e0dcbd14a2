"""pymux echo server: the reference application of the reactor.

    python -m pymux.echo [--host 127.0.0.1] [--port 8088] [--backend epoll]
                         [--upper] [--workers N] [--max-connections N]
                         [--max-buffer BYTES] [--idle-timeout SECONDS] [-v]
    python -m pymux.echo --connect HOST:PORT     # interactive client

The first line on stdout is `listening on HOST:PORT` (port 0 picks a free
port). SIGINT or SIGTERM stops it gracefully and prints the totals.
"""
import argparse
import json
import logging
import os
import signal
import socket
import sys

from .reactor import BACKENDS, Protocol, Reactor

logger = logging.getLogger("pymux.echo")


class Stats:
    """Totals for one process; connections add theirs when they end."""

    def __init__(self):
        self.connections = 0
        self.requests = 0
        self.bytes = 0

    def as_dict(self):
        return {"connections": self.connections, "requests": self.requests, "bytes": self.bytes}


class EchoServer:
    """Accepts connections and tracks them for limits, idle timeouts and totals."""

    def __init__(self, reactor, args):
        self.reactor = reactor
        self.args = args
        self.stats = Stats()
        self.active = 0           # open connections (for --max-connections)
        self.sweep_time = reactor.time()   # shared by new connections: no float each
        self.server = None
        self.protocol_class = UpperEchoProtocol if args.upper else EchoProtocol

    def start(self, host, port, reuse_port=False):
        self.server = self.reactor.listen_tcp(self.new_protocol, host, port,
                                              backlog=1024, reuse_port=reuse_port)
        if self.args.idle_timeout:
            self.reactor.call_later(self.args.idle_timeout / 4, self.sweep_idle)
        return self.server

    def new_protocol(self):
        return self.protocol_class(self)

    def sweep_idle(self):
        """Close connections idle for at least --idle-timeout seconds.

        A connection's request count is compared at each sweep; its last
        activity happened before the sweep that last saw the count change,
        so a connection is never closed early, and at most one sweep period
        (a quarter of the timeout) late. No per-request clock reads.
        """
        now = self.sweep_time = self.reactor.time()
        for conn in self.connections():
            transport = conn.transport
            if transport.is_closing():
                # Closing, its replies still queued: give them one more
                # timeout to drain, then drop them (a peer that sends and
                # never reads would otherwise hold the connection forever).
                if conn.seen_requests != CLOSING:
                    conn.seen_requests, conn.seen_at = CLOSING, now
                elif now - conn.seen_at >= self.args.idle_timeout:
                    transport.abort()
            elif conn.requests != conn.seen_requests:
                conn.seen_requests, conn.seen_at = conn.requests, now
            elif now - conn.seen_at >= self.args.idle_timeout:
                if logger.isEnabledFor(logging.INFO):
                    logger.info("closing idle connection %s", conn.peer())
                transport.close()
        self.reactor.call_later(self.args.idle_timeout / 4, self.sweep_idle)

    def shutdown(self):
        """Stop accepting, let queued replies flush, then stop the loop."""
        logger.info("shutting down")
        if self.server is not None:
            self.server.close()
        for conn in self.connections():
            conn.transport.close()
        self.reactor.stop()

    def connections(self):
        """Open connections: the reactor tracks them, so no set of our own
        (a set costs ~50 bytes per idle connection)."""
        protocols = (t.get_protocol() for t in self.reactor.transports())
        return [p for p in protocols if isinstance(p, EchoProtocol) and p.counted]

    def totals(self):
        for conn in self.connections():   # still open: count them too
            conn.add_to(self.stats)
            conn.counted = False
        return self.stats.as_dict()


CLOSING = -2   # EchoProtocol.seen_requests of a connection the sweep saw closing


class EchoProtocol(Protocol):
    """Writes back what it reads; pauses reading while its replies back up."""

    __slots__ = ("owner", "transport", "counted", "requests", "nbytes", "seen_requests",
                 "seen_at")

    def __init__(self, owner):
        self.owner = owner
        self.transport = None
        self.counted = False      # in owner.active and, at the end, in the totals
        self.requests = self.nbytes = 0
        # -1: the first sweep after connecting starts the idle clock, so a
        # new connection is never closed early (and no clock read here).
        self.seen_requests = -1
        self.seen_at = owner.sweep_time

    def connection_made(self, transport):
        owner = self.owner
        self.transport = transport
        if owner.args.max_connections and owner.active >= owner.args.max_connections:
            logger.info("refusing connection: --max-connections reached")
            transport.abort()
            return
        owner.active += 1
        self.counted = True
        transport.set_write_buffer_limits(high=owner.args.max_buffer)
        if logger.isEnabledFor(logging.INFO):
            logger.info("connection from %s", self.peer())

    def data_received(self, data):
        self.transport.write(data)
        self.requests += 1
        self.nbytes += len(data)

    def eof_received(self):
        return False   # close once every reply is flushed (half-close)

    def pause_writing(self):
        self.transport.pause_reading()   # backpressure: stop reading the peer

    def resume_writing(self):
        self.transport.resume_reading()

    def connection_lost(self, exc):
        owner = self.owner
        if self.counted:
            self.counted = False
            owner.active -= 1
            self.add_to(owner.stats)
        if logger.isEnabledFor(logging.INFO):
            logger.info("connection closed (%s requests, %s bytes)%s", self.requests,
                        self.nbytes, f": {exc}" if exc else "")

    def add_to(self, stats):
        stats.connections += 1
        stats.requests += self.requests
        stats.bytes += self.nbytes

    def peer(self):
        return self.transport.get_extra_info("peername") if self.transport else None


class UpperEchoProtocol(EchoProtocol):
    """The classic teaching server's variant: replies in upper case."""

    __slots__ = ()

    def data_received(self, data):
        self.transport.write(data.upper())
        self.requests += 1
        self.nbytes += len(data)


def serve(args, host, port, reuse_port=False, ready=None):
    """Run one server process until SIGINT/SIGTERM; returns its totals."""
    reactor = Reactor(args.backend)
    echo = EchoServer(reactor, args)
    server = echo.start(host, port, reuse_port)
    for sig in (signal.SIGINT, signal.SIGTERM):
        reactor.add_signal_handler(sig, echo.shutdown)
    if ready is not None:
        ready(server.sockname)
    reactor.run_forever()
    # Give closing connections a moment to flush their queued replies.
    reactor.run_until(lambda: echo.active == 0, timeout=1.0)
    totals = echo.totals()
    reactor.close()
    return totals


def print_listening(sockname):
    host, port = sockname[:2]
    print(f"listening on {host}:{port}", flush=True)


def print_totals(totals):
    print("totals: {connections} connections, {requests} requests, {bytes} bytes".format(**totals),
          flush=True)


def run_workers(args):
    """--workers N: N processes, each with its own SO_REUSEPORT listener."""
    probe = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    probe.bind((args.host, args.port))   # fixes the port when --port 0
    sockname = probe.getsockname()
    rfd, wfd = os.pipe()
    # Signals wait in the mask until sigwait() below; workers unblock them.
    watched = {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD}
    for sig in watched:   # an ignored signal (e.g. `cmd &` in a script) never arrives
        signal.signal(sig, _ignore_signal)
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    pids = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, watched)
            os.close(rfd)
            probe.close()
            code = 1
            try:
                totals = serve(args, args.host, sockname[1], reuse_port=True,
                               ready=lambda _: os.write(wfd, b"ready\n"))
                os.write(wfd, (json.dumps(totals) + "\n").encode())
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    os.close(wfd)
    totals = {"connections": 0, "requests": 0, "bytes": 0}
    with os.fdopen(rfd) as pipe:
        for _ in range(args.workers):
            if pipe.readline() != "ready\n":
                _stop_workers(pids)
                raise SystemExit("a worker failed to start")
        probe.close()
        print_listening(sockname)
        while signal.sigwait(watched) == signal.SIGCHLD:
            if not any(_alive(pid) for pid in pids):
                break
        _stop_workers(pids)
        for line in pipe:
            for key, value in json.loads(line).items():
                totals[key] += value
    for pid in pids:
        _reap(pid)
    return totals


def _ignore_signal(signum, frame):
    """A handler, unlike SIG_IGN, lets a blocked signal wait for sigwait()."""


def _stop_workers(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def _reap(pid):
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _alive(pid):
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == 0


def run_client(address):
    """Classic interactive client: send each stdin line, print the reply."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port))) as sock:
        for line in sys.stdin:
            payload = line.encode()
            sock.sendall(payload)
            reply = b""
            while len(reply) < len(payload):
                chunk = sock.recv(65536)
                if not chunk:
                    print("connection closed by the server", file=sys.stderr)
                    return 1
                reply += chunk
            sys.stdout.write(reply.decode(errors="replace"))
            sys.stdout.flush()
    return 0


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m pymux.echo", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8088, help="0 picks a free port")
    p.add_argument("--backend", choices=sorted(BACKENDS), default="epoll")
    p.add_argument("--upper", action="store_true", help="reply in upper case")
    p.add_argument("--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    p.add_argument("--max-connections", type=int, default=0, help="0: no limit")
    p.add_argument("--max-buffer", type=int, default=256 * 1024,
                   help="per-connection write buffer cap in bytes; past it the peer is not read")
    p.add_argument("--idle-timeout", type=float, default=0, help="seconds; 0: never")
    p.add_argument("--connect", metavar="HOST:PORT", help="run the interactive client instead")
    p.add_argument("-v", "--verbose", action="store_true", help="log every connection")
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error("--workers must be >= 1")
    if args.max_buffer < 1:
        p.error("--max-buffer must be >= 1")
    if args.idle_timeout < 0 or args.max_connections < 0:
        p.error("--idle-timeout and --max-connections must be >= 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(process)d %(name)s: %(message)s")
    if args.connect:
        return run_client(args.connect)
    if args.workers > 1:
        totals = run_workers(args)
    else:
        totals = serve(args, args.host, args.port, ready=print_listening)
    print_totals(totals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
