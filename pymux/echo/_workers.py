"""--workers N: N processes, each with its own SO_REUSEPORT listener.

The parent only supervises. Each worker is tied to it by a socketpair:
  parent -> worker: one byte per stop signal the parent got (the worker
                    reacts as to its own signal: the first is a graceful
                    shutdown, the second ends the grace period); EOF means
                    the parent died (even by SIGKILL: the kernel closes its
                    end), and the worker shuts down gracefully by itself.
  worker -> parent: "ready" once it listens, then its totals as JSON.
Workers ignore the stop signals themselves: a signal sent to the whole
process group (Ctrl-C, a service manager) reaches the parent too, which
relays it exactly once.
"""
import json
import logging
import os
import signal
import socket

from ..reactor import Reactor
from ._server import (SERVING, STOP_SIGNALS, StartupError, close_for_good, listen_error,
                      serve)

logger = logging.getLogger("pymux.echo")

READY = b"ready"


def run_workers(args, announce):
    """Serve with args.workers processes; announce(sockname) once all
    listen. Returns the totals of all of them and whether every worker
    reported its own; SystemExit if one failed to start."""
    probe = _reserve_port(args.host, args.port)   # fixes the port when --port 0
    sockname = probe.getsockname()
    # Until the parent's handlers are in place, signals wait in the mask.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    workers = []
    try:
        for _ in range(args.workers):
            workers.append(_fork_worker(args, sockname[1], probe, workers))
    finally:
        probe.close()
    supervisor = Supervisor(workers, lambda: announce(sockname))
    supervisor.run()
    if not supervisor.announced:
        raise SystemExit("a worker failed to start")
    return supervisor.totals(), supervisor.complete()


def _reserve_port(host, port):
    probe = None
    try:
        family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                   flags=socket.AI_PASSIVE)[0]
        probe = socket.socket(family, socket.SOCK_STREAM)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        probe.bind(addr)
    except OSError as exc:
        if probe is not None:
            probe.close()
        raise listen_error(host, port, exc) from None
    return probe


class Worker:
    """The parent's view of one worker process."""

    def __init__(self, pid, link):
        self.pid = pid
        self.link = link      # the parent's end of the socketpair
        self.buffer = b""
        self.ready = False
        self.totals = None
        self.status = None    # exit status once it has ended


def _fork_worker(args, port, probe, started):
    parent_end, worker_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            parent_end.close()
            for worker in started:   # other workers' links are the parent's alone
                worker.link.close()
            probe.close()
            code = _worker_main(args, port, worker_end)
        except StartupError as exc:
            logger.error("worker %d: %s", os.getpid(), exc)
        except BaseException:   # noqa: BLE001: report, never return into the parent's code
            logger.exception("worker %d failed", os.getpid())
        finally:
            os._exit(code)
    worker_end.close()
    return Worker(pid, parent_end)


def _worker_main(args, port, link):
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)   # pending ones are dropped on unblocking
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    def follow_parent(loop, echo):
        link.setblocking(False)

        def on_order():
            try:
                orders = link.recv(64)
            except (BlockingIOError, InterruptedError):
                return
            if orders:
                for _ in orders:
                    echo.shutdown()
                return
            loop.remove_reader(link)
            if echo.state == SERVING:
                logger.warning("the parent process is gone: shutting down")
                echo.shutdown()

        loop.add_reader(link, on_order)

    totals = serve(args, args.host, port, reuse_port=True,
                   ready=lambda _: link.sendall(READY + b"\n"), on_start=follow_parent)
    link.setblocking(True)
    try:
        link.sendall(json.dumps(totals).encode() + b"\n")
    except OSError:
        pass   # the parent is gone: nobody to report to
    return 0


class Supervisor:
    """The parent's loop: relays stop signals, collects readiness, totals
    and exit statuses, and ends once every worker has."""

    def __init__(self, workers, announce):
        self.workers = workers
        self.announce = announce
        self.announced = False
        self.signals = 0
        self.reactor = Reactor()

    def run(self):
        reactor = self.reactor
        try:
            for worker in self.workers:
                reactor.add_reader(worker.link, self.on_readable, worker)
            for sig in STOP_SIGNALS:
                reactor.add_signal_handler(sig, self.relay_signal)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            reactor.run_forever()
        finally:
            close_for_good(reactor)

    def relay_signal(self):
        self.signals += 1
        for worker in self.workers:
            if worker.status is None:
                try:
                    worker.link.send(b"s")
                except OSError:
                    pass   # ending already: its EOF is on the way
        logger.info("stop signal %d relayed to the workers", self.signals)

    def on_readable(self, worker):
        try:
            data = worker.link.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        if not data:
            self.ended(worker)
            return
        *lines, worker.buffer = (worker.buffer + data).split(b"\n")
        for line in lines:
            if line == READY:
                worker.ready = True
            else:
                worker.totals = json.loads(line)
        if not self.announced and all(w.ready for w in self.workers):
            self.announced = True
            self.announce()

    def ended(self, worker):
        self.reactor.remove_reader(worker.link)
        worker.link.close()
        _, worker.status = os.waitpid(worker.pid, 0)
        if worker.totals is None:
            logger.warning("worker %d ended without its totals (%s)", worker.pid,
                           _describe_status(worker.status))
        if not self.announced and self.signals == 0:
            # One failed to start: there is no server to run.
            self.relay_signal()
            self.relay_signal()
        if all(w.status is not None for w in self.workers):
            self.reactor.stop()

    def totals(self):
        totals = {"connections": 0, "requests": 0, "bytes": 0}
        for worker in self.workers:
            for key, value in (worker.totals or {}).items():
                totals[key] += value
        return totals

    def complete(self):
        return self.announced and all(w.totals is not None for w in self.workers)


def _describe_status(status):
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
