"""Accepting connections, on both loops: a protocol factory that raises,
and a full fd table (EMFILE) that pauses accepting until fds are free."""
import asyncio
import errno
import gc
import os
import resource
import socket

import pytest


class Greeter(asyncio.Protocol):
    def connection_made(self, transport):
        transport.write(b"hello")
        transport.close()


def recv_all(sock):
    data = bytearray()
    while chunk := sock.recv(100):
        data += chunk
    return bytes(data)


def test_a_protocol_factory_that_raises_drops_that_connection_only(aio_loop, run,
                                                                    handler_contexts):
    calls = []

    def factory():
        calls.append(None)
        if len(calls) == 1:
            raise ValueError("no protocol for you")
        return Greeter()

    async def main():
        server = await aio_loop.create_server(factory, "127.0.0.1", 0)
        async with server:
            results = []
            for _ in range(2):
                reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
                while not calls:
                    await asyncio.sleep(0.001)
                # asyncio leaves the refused connection's socket to the
                # garbage collector (at once on CPython, not on PyPy).
                for _ in range(3):
                    gc.collect()
                try:
                    results.append(await reader.read())
                except ConnectionResetError:
                    results.append("reset")
                writer.close()
            return results

    first, second = run(main())
    assert first in (b"", "reset") and second == b"hello"
    # Outside debug mode asyncio reports nothing for it.
    assert handler_contexts == []


def test_accepting_pauses_on_emfile_and_resumes_once_fds_are_free(aio_loop, run,
                                                                  handler_contexts):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    fillers = []

    async def main():
        server = await aio_loop.create_server(Greeter, "127.0.0.1", 0)
        async with server:
            client = socket.create_connection(server.sockets[0].getsockname())
            client.settimeout(10)
            with client:
                # Every fd number below the limit taken: accept() gets EMFILE.
                resource.setrlimit(resource.RLIMIT_NOFILE, (client.fileno() + 8, hard))
                try:
                    while True:
                        fillers.append(os.open(os.devnull, os.O_RDONLY))
                except OSError:
                    pass
                while not handler_contexts:
                    await asyncio.sleep(0.01)
                for fd in fillers:
                    os.close(fd)
                fillers.clear()
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
                # asyncio retries after ACCEPT_RETRY_DELAY (1 s).
                return await aio_loop.run_in_executor(None, recv_all, client)

    try:
        received = run(main())
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert received == b"hello"
    context = handler_contexts[0]
    assert context["message"] == "socket.accept() out of system resource"
    assert isinstance(context["exception"], OSError)
    assert context["exception"].errno == errno.EMFILE
    assert isinstance(context["socket"], asyncio.trsock.TransportSocket)


def test_a_server_made_with_start_serving_false_accepts_once_started(aio_loop, run):
    async def main():
        server = await aio_loop.create_server(Greeter, "127.0.0.1", 0, start_serving=False)
        async with server:
            states = [server.is_serving()]
            await server.start_serving()
            states.append(server.is_serving())
            reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
            greeting = await reader.read()
            writer.close()
        states.append(server.is_serving())
        return states, greeting

    assert run(main()) == ([False, True, False], b"hello")


def test_serve_forever_serves_until_the_server_closes(aio_loop, run):
    async def main():
        server = await aio_loop.create_server(Greeter, "127.0.0.1", 0, start_serving=False)
        addr = server.sockets[0].getsockname()
        serving = asyncio.ensure_future(server.serve_forever())
        await asyncio.sleep(0)
        reader, writer = await asyncio.open_connection(*addr)
        greeting = await reader.read()
        writer.close()
        server.close()
        with pytest.raises(asyncio.CancelledError):
            await serving
        await server.wait_closed()
        with pytest.raises(OSError):
            await asyncio.open_connection(*addr)
        return greeting

    assert run(main()) == b"hello"


class Silent(asyncio.Protocol):
    def __init__(self, made):
        self.made = made

    def connection_made(self, transport):
        self.made.set_result(transport)


@pytest.mark.skipif(not hasattr(asyncio.Server, "close_clients"),
                    reason="Server.close_clients and abort_clients are Python 3.13's")
@pytest.mark.parametrize("method", ["close_clients", "abort_clients"])
def test_close_or_abort_clients_ends_the_servers_connections(aio_loop, run, method):
    async def main():
        made = aio_loop.create_future()
        server = await aio_loop.create_server(lambda: Silent(made), "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        transport = await made
        server.close()
        getattr(server, method)()
        await server.wait_closed()          # waits for the connections too on 3.13
        try:
            ended = await reader.read()
        except ConnectionResetError:
            ended = b""
        writer.close()
        return ended, transport.is_closing()

    assert run(main()) == (b"", True)
