"""asyncio on pymux.selectors: an echo server and clients using streams on
asyncio.SelectorEventLoop(<selector>), with the stdlib's selectors as the
baseline. Large payloads make the transports' writes partial, so write
interest is added and removed (modify) while data flows."""

import asyncio
import selectors as std_selectors

import pytest

import pymux.selectors as mux_selectors

SELECTORS = [
    pytest.param(lambda: mux_selectors.DefaultSelector(), id="pymux-DefaultSelector"),
    pytest.param(lambda: mux_selectors.PollSelector(), id="pymux-PollSelector"),
    pytest.param(lambda: mux_selectors.SelectSelector(), id="pymux-SelectSelector"),
    pytest.param(lambda: std_selectors.DefaultSelector(), id="stdlib-DefaultSelector"),
]
CLIENTS = 8
LINES = 20
BIG = 1 << 20


async def _echo(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()


async def _client(port, n):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i in range(LINES):
            line = f"client {n} line {i}\n".encode()
            writer.write(line)
            assert await reader.readline() == line
        payload = bytes([n]) * BIG
        writer.write(payload)
        await writer.drain()
        assert await reader.readexactly(BIG) == payload
        writer.write_eof()
        assert await reader.read() == b""
    finally:
        writer.close()
        await writer.wait_closed()
    return n


async def _echo_session():
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        done = await asyncio.wait_for(
            asyncio.gather(*(_client(port, n) for n in range(CLIENTS))), timeout=20)
    return done


@pytest.mark.parametrize("make_selector", SELECTORS)
def test_asyncio_echo_server_and_clients_exchange_data_over_streams(make_selector):
    loop = asyncio.SelectorEventLoop(make_selector())
    try:
        assert loop.run_until_complete(_echo_session()) == list(range(CLIENTS))
    finally:
        loop.close()


@pytest.mark.parametrize("make_selector", SELECTORS)
def test_asyncio_timers_and_call_soon_run_on_the_selector_loop(make_selector):
    loop = asyncio.SelectorEventLoop(make_selector())
    order = []

    async def main():
        loop.call_later(0.02, order.append, "later")
        loop.call_soon(order.append, "soon")
        await asyncio.sleep(0.05)
        return order

    try:
        assert loop.run_until_complete(main()) == ["soon", "later"]
    finally:
        loop.close()
