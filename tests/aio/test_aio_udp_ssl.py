"""UDP and SSL over loopback, on both loops."""
import asyncio
import shutil
import ssl
import subprocess

import pytest


class DatagramEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data.upper(), addr)


class DatagramClient(asyncio.DatagramProtocol):
    def __init__(self, loop, expected):
        self.got = []
        self.expected = expected
        self.done = loop.create_future()

    def datagram_received(self, data, addr):
        self.got.append(data)
        if len(self.got) == self.expected:
            self.done.set_result(None)


def test_udp_round_trip(aio_loop, run):
    messages = [b"one", b"two", b"x" * 60000]

    async def main():
        server, _ = await aio_loop.create_datagram_endpoint(
            DatagramEcho, local_addr=("127.0.0.1", 0))
        addr = server.get_extra_info("sockname")
        client, proto = await aio_loop.create_datagram_endpoint(
            lambda: DatagramClient(aio_loop, len(messages)), remote_addr=addr)
        try:
            for msg in messages:
                client.sendto(msg)
            await proto.done
            return proto.got
        finally:
            client.close()
            server.close()

    assert sorted(run(main())) == sorted(m.upper() for m in messages)


@pytest.fixture(scope="module")
def cert_files(tmp_path_factory):
    """A self-signed certificate for localhost/127.0.0.1, made by the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the SSL tests need the openssl command to make a certificate")
    path = tmp_path_factory.mktemp("ssl")
    cert, key = path / "cert.pem", path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def ssl_contexts(cert_files):
    cert, key = cert_files
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(str(cert), str(key))
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def test_ssl_stream_round_trip_with_verified_certificate(run, ssl_contexts):
    server_ctx, client_ctx = ssl_contexts
    payload = bytes(range(256)) * 2000

    async def echo(reader, writer):
        data = await reader.readexactly(len(payload))
        writer.write(data)
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_ctx)
        async with server:
            host, port = server.sockets[0].getsockname()
            reader, writer = await asyncio.open_connection(
                host, port, ssl=client_ctx, server_hostname="localhost")
            peercert = writer.get_extra_info("peercert")
            writer.write(payload)
            await writer.drain()
            data = await reader.readexactly(len(payload))
            tail = await reader.read()     # the server's close_notify: EOF
            writer.close()
            await writer.wait_closed()
            return data, tail, peercert

    data, tail, peercert = run(main())
    assert data == payload and tail == b""
    assert ("DNS", "localhost") in peercert["subjectAltName"]


def test_ssl_refuses_a_certificate_for_another_name(run, ssl_contexts):
    server_ctx, client_ctx = ssl_contexts

    async def main():
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=server_ctx)
        async with server:
            host, port = server.sockets[0].getsockname()
            with pytest.raises(ssl.SSLCertVerificationError):
                await asyncio.open_connection(host, port, ssl=client_ctx,
                                              server_hostname="not-localhost")

    run(main())


class LineProtocol(asyncio.Protocol):
    """Collects lines; `on_line(line)` decides what to do with each."""

    def __init__(self, on_line):
        self.on_line = on_line
        self.buffer = b""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            self.on_line(line + b"\n")


def test_start_tls_upgrades_a_plain_connection(aio_loop, run, ssl_contexts):
    # loop.start_tls, the form every supported Python has.
    server_ctx, client_ctx = ssl_contexts
    upgrades = []

    def server_protocol():
        proto = None

        def on_line(line):
            if line == b"STARTTLS\n":
                proto.transport.pause_reading()   # the ClientHello waits for start_tls
                proto.transport.write(b"OK\n")
                upgrades.append(aio_loop.create_task(upgrade()))
            else:
                proto.transport.write(line.upper())

        async def upgrade():
            proto.transport = await aio_loop.start_tls(
                proto.transport, proto, server_ctx, server_side=True)
            # Only now may the client send: a line arriving before start_tls
            # returns would be answered on the plain transport.
            proto.transport.write(b"READY\n")

        proto = LineProtocol(on_line)
        return proto

    async def main():
        server = await aio_loop.create_server(server_protocol, "127.0.0.1", 0)
        async with server:
            lines = asyncio.Queue()
            transport, proto = await aio_loop.create_connection(
                lambda: LineProtocol(lines.put_nowait), *server.sockets[0].getsockname())
            transport.write(b"STARTTLS\n")
            assert await lines.get() == b"OK\n"
            tls = await aio_loop.start_tls(transport, proto, client_ctx, server_hostname="localhost")
            assert await lines.get() == b"READY\n"
            tls.write(b"secret\n")
            line = await lines.get()
            upgraded = tls.get_extra_info("ssl_object") is not None
            tls.close()
            await asyncio.gather(*upgrades)
            return line, upgraded

    assert run(main()) == (b"SECRET\n", True)
