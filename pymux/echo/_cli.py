"""Command line: options, their checks, and main().

Every bad option, address that cannot be listened on and server that
cannot be reached ends with one line `python -m pymux.echo: error: ...`
on stderr and exit status 2 (argparse's convention), never a traceback.
"""
import argparse
import math
import os
import sys

from ..reactor import BACKENDS
from . import _logs
from ._client import run_client
from ._server import StartupError, format_address, serve
from ._workers import run_workers

PROG = "python -m pymux.echo"
APIS = ("reactor", "protocol", "streams")
MAX_SECONDS = 1e9         # ~31 years: any longer is a typo, and overflows the timer heap
MAX_BUFFER = 2**32 - 1    # the C core's per-stream limit
MAX_WORKERS = 1024

EPILOG = """\
signals:
  SIGINT, SIGTERM and SIGHUP stop the server gracefully: it stops accepting,
  serves the open connections until they end or --grace seconds pass, then
  sends every connection its queued replies and FIN, reads what the peer still
  sends until it closes (closing with unread input would reset it), and prints
  `totals: N connections, N requests, N bytes` (bytes the peers received).
  A second signal ends the grace period at once. Connections that have not
  closed 1 s after that are closed, or reset if replies are still unsent.
  With --workers, signal the parent: it relays each signal to every worker
  once, and workers whose parent dies (even by SIGKILL) shut down by themselves.
"""


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    _logs.configure(args.verbose)
    try:
        if args.connect:
            return run_client(*args.connect)
        if args.workers > 1:
            totals, complete = run_workers(args, print_listening)
        else:
            totals, complete = serve(args, args.host, args.port, ready=print_listening), True
    except StartupError as exc:
        parser.error(str(exc))
    print_totals(totals)
    return 0 if complete else 1


class Parser(argparse.ArgumentParser):
    def error(self, message):
        """One line, no usage block: the error is the news (see --help)."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    p = Parser(prog=PROG, description="pymux echo server", epilog=EPILOG,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", type=listen_host, default="127.0.0.1",
                   help="address or name to listen on (default 127.0.0.1; :: or 0.0.0.0 for all)")
    p.add_argument("--port", type=port_number(0), default=8088, help="0 picks a free port")
    p.add_argument("--api", choices=APIS, default="reactor",
                   help="reactor: pymux.reactor (default); protocol: an asyncio Protocol on "
                        "pymux.aio; streams: asyncio streams on pymux.aio")
    p.add_argument("--backend", choices=sorted(BACKENDS), default="epoll",
                   help="the I/O backend of the reactor or of pymux.aio's loop (uring: "
                        "io_uring completions, where the kernel allows them)")
    p.add_argument("--upper", action="store_true", help="reply in upper case")
    p.add_argument("--workers", type=integer(1, MAX_WORKERS), default=1, metavar="N",
                   help="processes sharing the port (SO_REUSEPORT)")
    p.add_argument("--max-connections", type=integer(0), default=0, metavar="N",
                   help="0: no limit")
    p.add_argument("--max-buffer", type=integer(1, MAX_BUFFER), default=256 * 1024,
                   metavar="BYTES",
                   help="per-connection write buffer cap in bytes; past it the peer is not read")
    p.add_argument("--idle-timeout", type=seconds, default=0.0, metavar="SECONDS",
                   help="close connections silent this long; 0: never")
    p.add_argument("--grace", type=seconds, default=5.0, metavar="SECONDS",
                   help="seconds open connections are still served after a stop signal "
                        "(default 5)")
    p.add_argument("--connect", type=connect_address, metavar="HOST:PORT",
                   help="run the interactive client instead ([HOST]:PORT for IPv6)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every connection")
    return p


# --- option types: each raises ArgumentTypeError with the reason -----------

def integer(low, high=None):
    def check(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, not {value}")
        return value
    return check


def port_number(low):
    return integer(low, 65535)


def seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (math.isfinite(value) and 0 <= value <= MAX_SECONDS):
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds from 0 to {MAX_SECONDS:.0e}, not {text}")
    return value


def listen_host(text):
    if not text.strip():
        raise argparse.ArgumentTypeError("empty host (use 0.0.0.0 or :: for every address)")
    return text


def connect_address(text):
    """HOST:PORT or [IPv6]:PORT; an empty host means 127.0.0.1."""
    if text.startswith("["):
        name, sep, port = text[1:].partition("]:")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected [HOST]:PORT, got {text!r}")
    else:
        name, sep, port = text.rpartition(":")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
        if ":" in name:
            raise argparse.ArgumentTypeError(
                f"put an IPv6 address in brackets: [{name}]:{port}")
    return (name or "127.0.0.1"), port_number(1)(port)


# --- output ------------------------------------------------------------------

def print_listening(sockname):
    print(f"listening on {format_address(*sockname[:2])}", flush=True)


def print_totals(totals):
    try:
        print("totals: {connections} connections, {requests} requests, {bytes} bytes"
              .format(**totals), flush=True)
    except OSError:   # stdout is gone (a closed terminal: SIGHUP); exit quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
