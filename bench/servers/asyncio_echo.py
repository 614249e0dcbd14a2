"""asyncio echo server, as a Protocol or on streams, on any asyncio loop.

    python bench/servers/asyncio_echo.py --port 0 [--host H] [--upper]
                                         [--api protocol|streams]
                                         [--loop asyncio|uvloop|pymux]

protocol: data_received -> transport.write; backpressure the asyncio way:
pause_writing() pauses reading the peer and resume_writing() resumes it.
streams: asyncio.start_server, one task per connection: read, write,
await drain() (which waits while the replies back up).
The code is the same on every --loop (see _asyncio_loops.py). First stdout
line: ``listening on HOST:PORT``; SIGINT/SIGTERM stop it cleanly.
"""
import asyncio
import functools

import _common
from _asyncio_loops import add_loop_option, listen_options, run, serve_until_stopped

READ_SIZE = 65536   # bytes a streams connection asks for per read()


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


async def echo_stream(reader, writer, upper=False):
    try:
        while data := await reader.read(READ_SIZE):
            writer.write(data.upper() if upper else data)
            await writer.drain()
        writer.close()   # the peer sent EOF: its replies go out first
        await writer.wait_closed()
    except ConnectionError:
        writer.transport.abort()


async def serve(args):
    if args.api == "protocol":
        server = await asyncio.get_running_loop().create_server(
            UpperEcho if args.upper else Echo, args.host, args.port, **listen_options(args))
    else:
        server = await asyncio.start_server(
            functools.partial(echo_stream, upper=args.upper), args.host, args.port,
            **listen_options(args))
    await serve_until_stopped(server)


def add_options(p):
    p.add_argument("--api", choices=("protocol", "streams"), default="protocol")
    add_loop_option(p)


def main(argv=None):
    run(serve, _common.parse_args(__doc__, add_options, argv), "asyncio_echo")


if __name__ == "__main__":
    main()
