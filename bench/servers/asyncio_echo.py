"""asyncio Protocol echo server: data_received -> transport.write.

    python bench/servers/asyncio_echo.py --port 0 [--host H] [--upper]
                                         [--loop asyncio|uvloop]

Backpressure the asyncio way: pause_writing() pauses reading the peer and
resume_writing() resumes it. First stdout line: ``listening on HOST:PORT``.
SIGINT/SIGTERM stop it cleanly (the loop's own signal handlers replace
whatever the process inherited, SIG_IGN included).
"""
import asyncio
import signal
import socket
import sys

import _common


class Echo(asyncio.Protocol):
    __slots__ = ("transport",)

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()


class UpperEcho(Echo):
    def data_received(self, data):
        self.transport.write(data.upper())


async def serve(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = await loop.create_server(UpperEcho if args.upper else Echo,
                                      args.host, args.port, family=socket.AF_INET,
                                      backlog=socket.SOMAXCONN, reuse_address=True)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    await stop.wait()
    server.close()


def loop_factory(name):
    if name == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError as e:
        sys.exit(f"asyncio_echo: --loop uvloop needs the uvloop package "
                 f"(pip install uvloop): {e}")
    return uvloop.new_event_loop


def add_options(p):
    p.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")


def main(argv=None):
    args = _common.parse_args(__doc__, add_options, argv)
    # What asyncio.run() does, with a loop of our choice (asyncio.Runner and
    # asyncio.run(loop_factory=) need Python 3.11 and 3.12).
    loop = loop_factory(args.loop)()
    try:
        loop.run_until_complete(serve(args))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


if __name__ == "__main__":
    main()
