"""HTTP/1.1 "hello" server on asyncio streams, on any asyncio loop; no aiohttp.

    python bench/servers/asyncio_http.py --port 0 [--host H]
                                         [--loop asyncio|uvloop|pymux]

Each connection is one task: read a request head (up to the blank line),
answer ``Hello, World!`` with Content-Length, keep the connection open
(HTTP/1.1 keep-alive) until the client closes it or asks to
(``Connection: close``). GET and HEAD get 200; other methods 405; a request
with a body (Content-Length or Transfer-Encoding) or a malformed head gets
400 and the connection is closed. What bench/loadgen.c --http drives. First
stdout line: ``listening on HOST:PORT``; SIGINT/SIGTERM stop it cleanly.
"""
import asyncio

import _common
from _asyncio_loops import add_loop_option, listen_options, run, serve_until_stopped

BODY = b"Hello, World!"
HELLO = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
         % len(BODY) + BODY)
HELLO_HEAD = HELLO[:-len(BODY)]
NOT_ALLOWED = (b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n"
               b"Content-Length: 0\r\n\r\n")
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
HEAD_LIMIT = 8192   # bytes of request head accepted (StreamReader's limit)


def respond(head):
    """(the response to one request head, whether to keep the connection open)."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return BAD_REQUEST, False
    method = parts[0]
    keep_alive = parts[2] == b"HTTP/1.1"
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            if line:
                return BAD_REQUEST, False
            continue
        name = name.strip().lower()
        if name in (b"content-length", b"transfer-encoding") and value.strip() != b"0":
            return BAD_REQUEST, False   # no request bodies here
        if name == b"connection":
            token = value.strip().lower()
            keep_alive = token == b"keep-alive" or (keep_alive and token != b"close")
    if method == b"GET":
        return HELLO, keep_alive
    if method == b"HEAD":
        return HELLO_HEAD, keep_alive
    return NOT_ALLOWED, keep_alive


async def serve_connection(reader, writer):
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break   # the client closed (between requests, or mid-head)
            except asyncio.LimitOverrunError:
                writer.write(BAD_REQUEST)
                break
            response, keep_alive = respond(head[:-4])
            writer.write(response)
            if not keep_alive:
                break
            await writer.drain()
        writer.close()
        await writer.wait_closed()
    except ConnectionError:
        writer.transport.abort()


async def serve(args):
    server = await asyncio.start_server(serve_connection, args.host, args.port,
                                        limit=HEAD_LIMIT, **listen_options(args))
    await serve_until_stopped(server)


def main(argv=None):
    run(serve, _common.parse_args(__doc__, add_loop_option, argv), "asyncio_http")


if __name__ == "__main__":
    main()
