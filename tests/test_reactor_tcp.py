"""Reactor TCP: listen_tcp/connect_tcp, the Protocol callback order, the
Transport API, flow control both ways, and a raising data_received.

The peer is either a reactor client (connect_tcp) or a plain non-blocking
socket watched with add_reader, so the loop wakes whenever it has news.
"""
import fcntl
import hashlib
import os
import random
import socket

import pytest

from pymux.reactor import Protocol
from reactor_helpers import LONG, run_a_little, run_until

BIG = 4 * 1024 * 1024   # more than the kernel takes at once from a peer that does not read


def payload(n, seed=0):
    return random.Random(seed).randbytes(n)


def squeeze(events):
    """Collapse runs of "data" so the order of kinds is easy to compare."""
    out = []
    for e in events:
        if not (e == "data" and out and out[-1] == "data"):
            out.append(e)
    return out


class Recorder(Protocol):
    """Records every callback; echoes if asked; eof_received returns keep_open."""

    def __init__(self, echo=False, keep_open=False):
        self.echo = echo
        self.keep_open = keep_open
        self.events = []
        self.data = bytearray()
        self.transport = None
        self.lost_exc = "not lost"
        self.buffer_at_resume = None

    def connection_made(self, transport):
        self.events.append("made")
        self.transport = transport

    def data_received(self, data):
        self.events.append("data")
        self.data += data
        if self.echo:
            self.transport.write(data)

    def eof_received(self):
        self.events.append("eof")
        return self.keep_open

    def connection_lost(self, exc):
        self.events.append("lost")
        self.lost_exc = exc

    def pause_writing(self):
        self.events.append("pause")

    def resume_writing(self):
        self.events.append("resume")
        self.buffer_at_resume = self.transport.get_write_buffer_size()


class Peer:
    """A plain socket connected to `address`; the reactor reads it on demand."""

    def __init__(self, reactor, address, rcvbuf=None):
        self.reactor = reactor
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(LONG)
        self.sock.connect(address)
        self.sock.setblocking(False)
        self.received = bytearray()
        self.eof = False
        self.error = None

    def start_reading(self):
        self.reactor.add_reader(self.sock, self._readable)

    def stop_reading(self):
        self.reactor.remove_reader(self.sock)

    def _readable(self):
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError as exc:
            self.error = exc
            self.stop_reading()
            return
        if not data:
            self.eof = True
            self.stop_reading()
        self.received += data

    def send(self, data):
        self.sock.setblocking(True)
        self.sock.settimeout(LONG)
        self.sock.sendall(data)
        self.sock.setblocking(False)

    def close(self):
        if self.sock.fileno() < 0:
            return
        if not self.reactor.is_closed():
            self.reactor.remove_reader(self.sock)
        self.sock.close()


@pytest.fixture
def accepted(reactor):
    """Factory: ``accepted(protocol=None, rcvbuf=None)`` -> (server protocol,
    Peer), connected through listen_tcp. Peers are closed at teardown."""
    peers = []
    server = []

    def make(protocol=None, rcvbuf=None):
        made = []

        def factory():
            p = protocol if protocol is not None else Recorder()
            made.append(p)
            return p

        srv = reactor.listen_tcp(factory, "127.0.0.1", 0)
        server.append(srv)
        peer = Peer(reactor, srv.sockname, rcvbuf)
        peers.append(peer)
        run_until(reactor, lambda: made and made[0].transport is not None)
        return made[0], peer

    yield make
    for peer in peers:
        peer.close()
    for srv in server:
        srv.close()


# --- listen_tcp + connect_tcp ---------------------------------------------------


def test_round_trip_calls_protocol_methods_in_order(reactor):
    data = payload(1024 * 1024)
    servers = []

    def server_factory():
        servers.append(Recorder(echo=True))
        return servers[-1]

    srv = reactor.listen_tcp(server_factory, "127.0.0.1", 0)
    client = reactor.connect_tcp(Recorder, "127.0.0.1", srv.port)
    run_until(reactor, lambda: client.transport is not None)
    client.transport.write(data)
    client.transport.write_eof()
    run_until(reactor, lambda: "lost" in client.events and servers and "lost" in servers[0].events)
    srv.close()
    assert squeeze(client.events) == ["made", "data", "eof", "lost"]
    assert squeeze(servers[0].events) == ["made", "data", "eof", "lost"]
    assert client.lost_exc is None and servers[0].lost_exc is None
    assert hashlib.sha256(client.data).digest() == hashlib.sha256(data).digest()
    assert len(client.data) == len(data)


def test_connect_tcp_returns_the_protocol_and_calls_connection_made_later(reactor):
    srv = reactor.listen_tcp(Recorder, "127.0.0.1", 0)
    client = reactor.connect_tcp(Recorder, "127.0.0.1", srv.port)
    assert isinstance(client, Recorder)
    assert client.events == []
    run_until(reactor, lambda: client.events)
    assert client.events == ["made"]
    client.transport.close()
    srv.close()


def test_connect_tcp_to_a_closed_port_reports_the_error_to_on_error(reactor):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]   # bound, never listening: refused
        errors = []
        client = reactor.connect_tcp(Recorder, "127.0.0.1", port, on_error=errors.append)
        run_until(reactor, lambda: errors)
    assert isinstance(errors[0], ConnectionRefusedError)
    assert client.events == []


def test_connect_tcp_failure_without_on_error_reaches_the_exception_handler(reactor):
    contexts = []
    reactor.set_exception_handler(lambda r, ctx: contexts.append(ctx))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        reactor.connect_tcp(Recorder, "127.0.0.1", s.getsockname()[1])
        run_until(reactor, lambda: contexts)
    assert isinstance(contexts[0]["exception"], ConnectionRefusedError)


def test_server_sockname_names_the_bound_port(reactor):
    srv = reactor.listen_tcp(Recorder, "127.0.0.1", 0)
    assert srv.sockname[0] == "127.0.0.1"
    assert srv.port == srv.sockname[1] > 0
    assert srv.is_serving()
    srv.close()
    assert not srv.is_serving()


def test_closed_server_refuses_new_connections(reactor):
    srv = reactor.listen_tcp(Recorder, "127.0.0.1", 0)
    srv.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(srv.sockname, timeout=LONG).close()


def test_raising_data_received_is_reported_and_aborts_only_its_connection(reactor):
    contexts = []
    reactor.set_exception_handler(lambda r, ctx: contexts.append(ctx))

    class Fragile(Recorder):
        def data_received(self, data):
            if b"boom" in data:
                raise ValueError("boom")
            super().data_received(data)

    servers = []
    srv = reactor.listen_tcp(lambda: servers.append(Fragile(echo=True)) or servers[-1],
                             "127.0.0.1", 0)
    bad, good = Peer(reactor, srv.sockname), Peer(reactor, srv.sockname)
    try:
        run_until(reactor, lambda: len(servers) == 2)
        bad.start_reading()
        good.start_reading()
        bad.send(b"boom")
        run_until(reactor, lambda: bad.eof or bad.error)
        good.send(b"still here")
        run_until(reactor, lambda: bytes(good.received) == b"still here")
    finally:
        bad.close()
        good.close()
        srv.close()
    assert [type(c["exception"]) for c in contexts] == [ValueError]
    lost = [s for s in servers if "lost" in s.events]
    assert len(lost) == 1 and lost[0].transport.is_closing()
    alive = [s for s in servers if "lost" not in s.events]
    assert len(alive) == 1 and not alive[0].transport.is_closing()


# --- Transport: writing -----------------------------------------------------------


def test_write_accepts_bytes_bytearray_and_memoryview(reactor, accepted):
    proto, peer = accepted()
    peer.start_reading()
    proto.transport.write(b"one,")
    proto.transport.write(bytearray(b"two,"))
    proto.transport.write(memoryview(b"xthree,")[1:])
    proto.transport.write(b"")
    run_until(reactor, lambda: len(peer.received) >= 14)
    assert bytes(peer.received) == b"one,two,three,"


@pytest.mark.parametrize("data", ["text", [b"x"], (b"x",), 42])
def test_write_of_a_non_bytes_like_object_raises_type_error(reactor, accepted, data):
    # A list or tuple of bytes would pass as a C char array: refused too.
    proto, peer = accepted()
    with pytest.raises(TypeError):
        proto.transport.write(data)


def test_writelines_sends_the_concatenation(reactor, accepted):
    proto, peer = accepted()
    peer.start_reading()
    proto.transport.writelines([b"a", bytearray(b"bc"), b"", memoryview(b"def")])
    run_until(reactor, lambda: len(peer.received) >= 6)
    assert bytes(peer.received) == b"abcdef"


def test_write_eof_sends_every_queued_byte_then_eof(reactor, accepted):
    proto, peer = accepted(rcvbuf=4096)
    data = payload(BIG)
    assert proto.transport.can_write_eof()
    proto.transport.write(data)
    proto.transport.write_eof()
    peer.start_reading()
    run_until(reactor, lambda: peer.eof or peer.error)
    assert peer.error is None
    assert bytes(peer.received) == data


def test_transport_keeps_reading_after_write_eof(reactor, accepted):
    proto, peer = accepted()
    peer.start_reading()
    proto.transport.write_eof()
    run_until(reactor, lambda: peer.eof)
    peer.send(b"after eof")
    run_until(reactor, lambda: bytes(proto.data) == b"after eof")
    assert not proto.transport.is_closing()


def test_write_after_write_eof_raises_runtime_error(reactor, accepted):
    proto, peer = accepted()
    proto.transport.write_eof()
    with pytest.raises(RuntimeError):
        proto.transport.write(b"late")


def test_get_write_buffer_size_counts_the_bytes_the_kernel_did_not_take(reactor, accepted):
    proto, peer = accepted(rcvbuf=4096)
    t = proto.transport
    assert t.get_write_buffer_size() == 0
    t.write(payload(BIG))
    queued = t.get_write_buffer_size()
    assert 0 < queued <= BIG
    peer.start_reading()
    run_until(reactor, lambda: len(peer.received) == BIG)
    assert t.get_write_buffer_size() == 0


def test_pause_writing_above_high_water_then_resume_writing_at_low_water(reactor, accepted):
    proto, peer = accepted(rcvbuf=4096)
    t = proto.transport
    t.set_write_buffer_limits(high=64 * 1024, low=16 * 1024)
    data = payload(BIG)
    t.write(data)
    assert proto.events[-1] == "pause"
    assert t.get_write_buffer_size() > 64 * 1024
    peer.start_reading()
    run_until(reactor, lambda: "resume" in proto.events)
    assert proto.buffer_at_resume <= 16 * 1024
    run_until(reactor, lambda: len(peer.received) == BIG)
    assert proto.events == ["made", "pause", "resume"]
    assert bytes(peer.received) == data


def test_writes_below_high_water_never_pause_writing(reactor, accepted):
    proto, peer = accepted()
    peer.start_reading()
    for _ in range(100):
        proto.transport.write(b"x" * 100)
    run_until(reactor, lambda: len(peer.received) == 10_000)
    assert "pause" not in proto.events


def test_set_write_buffer_limits_with_high_below_low_raises_value_error(reactor, accepted):
    proto, peer = accepted()
    with pytest.raises(ValueError):
        proto.transport.set_write_buffer_limits(high=10, low=20)


def test_set_write_buffer_limits_with_negative_low_raises_value_error(reactor, accepted):
    proto, peer = accepted()
    with pytest.raises(ValueError):
        proto.transport.set_write_buffer_limits(high=10, low=-1)


def test_set_write_buffer_limits_defaults_low_to_a_quarter_of_high(reactor, accepted):
    proto, peer = accepted()
    proto.transport.set_write_buffer_limits(high=4000)
    assert proto.transport.get_write_buffer_limits() == (1000, 4000)


# --- Transport: reading ---------------------------------------------------------


def test_pause_reading_holds_data_until_resume_reading(reactor, accepted):
    proto, peer = accepted()
    t = proto.transport
    t.pause_reading()
    assert not t.is_reading()
    peer.send(b"held back")
    run_a_little(reactor, 0.1)
    assert proto.data == b""
    t.resume_reading()
    assert t.is_reading()
    run_until(reactor, lambda: proto.data == b"held back")


def test_eof_received_returning_true_keeps_the_transport_open_for_writing(reactor, accepted):
    proto, peer = accepted(Recorder(keep_open=True))
    peer.start_reading()
    peer.sock.shutdown(socket.SHUT_WR)
    run_until(reactor, lambda: "eof" in proto.events)
    assert not proto.transport.is_closing()
    proto.transport.write(b"still talking")
    proto.transport.close()
    run_until(reactor, lambda: peer.eof)
    assert bytes(peer.received) == b"still talking"
    run_until(reactor, lambda: "lost" in proto.events)


def test_eof_received_returning_false_closes_the_transport(reactor, accepted):
    proto, peer = accepted()
    peer.start_reading()
    peer.sock.shutdown(socket.SHUT_WR)
    run_until(reactor, lambda: "lost" in proto.events and peer.eof)
    assert proto.events == ["made", "eof", "lost"]
    assert proto.lost_exc is None


def test_peer_reset_calls_connection_lost_once(reactor, accepted):
    proto, peer = accepted()
    peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    peer.close()
    proto.transport.write(b"x")   # may or may not notice the reset yet
    run_until(reactor, lambda: "lost" in proto.events)
    assert proto.events.count("lost") == 1
    assert proto.lost_exc is None or isinstance(proto.lost_exc, ConnectionError)


# --- Transport: closing ---------------------------------------------------------


def test_close_flushes_queued_data_then_calls_connection_lost(reactor, accepted):
    proto, peer = accepted(rcvbuf=4096)
    data = payload(BIG)
    proto.transport.write(data)
    assert proto.transport.get_write_buffer_size() > 0
    proto.transport.close()
    assert proto.transport.is_closing()
    peer.start_reading()
    run_until(reactor, lambda: (peer.eof or peer.error) and "lost" in proto.events)
    assert bytes(peer.received) == data
    assert proto.events == ["made", "pause", "lost"]   # no resume_writing once closing
    assert proto.lost_exc is None


def test_close_twice_calls_connection_lost_once(reactor, accepted):
    proto, peer = accepted()
    proto.transport.close()
    proto.transport.close()
    proto.transport.abort()
    run_until(reactor, lambda: "lost" in proto.events)
    run_a_little(reactor)
    assert proto.events == ["made", "lost"]


def test_abort_drops_queued_data_and_resets_the_peer(reactor, accepted):
    proto, peer = accepted(rcvbuf=4096)
    proto.transport.write(payload(BIG))
    proto.transport.abort()
    assert proto.transport.is_closing()
    peer.start_reading()
    run_until(reactor, lambda: (peer.eof or peer.error) and "lost" in proto.events)
    assert isinstance(peer.error, ConnectionResetError)
    assert len(peer.received) < BIG
    assert proto.events == ["made", "pause", "lost"]


def test_connection_lost_runs_after_the_closing_callback_returns(reactor, accepted):
    proto, peer = accepted()
    seen = []

    def close_and_look():
        proto.transport.abort()
        seen.append(list(proto.events))

    reactor.call_soon(close_and_look)
    run_until(reactor, lambda: "lost" in proto.events)
    assert seen == [["made"]]


# --- Transport: extra info ------------------------------------------------------


def test_get_extra_info_peername_and_sockname_match_the_peer(reactor, accepted):
    proto, peer = accepted()
    t = proto.transport
    assert t.get_extra_info("peername") == peer.sock.getsockname()
    assert t.get_extra_info("sockname") == peer.sock.getpeername()


def test_get_extra_info_socket_is_a_socket_of_the_connection(reactor, accepted):
    proto, peer = accepted()
    sock = proto.transport.get_extra_info("socket")
    assert isinstance(sock, socket.socket)
    assert sock.getpeername() == peer.sock.getsockname()
    assert sock.type == socket.SOCK_STREAM


@pytest.mark.parametrize("name", ["socket", "peername"])
def test_get_extra_info_leaves_the_connection_non_blocking(reactor, accepted, name):
    # Blocking, a send to a peer that does not read would stall the loop.
    proto, peer = accepted()
    proto.transport.get_extra_info(name)
    fd = proto.transport.get_extra_info("socket").fileno()   # a dup: same file flags
    assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK


def test_get_extra_info_of_an_unknown_name_returns_the_default(reactor, accepted):
    proto, peer = accepted()
    assert proto.transport.get_extra_info("no such thing") is None
    assert proto.transport.get_extra_info("no such thing", 42) == 42


def test_transport_still_works_after_get_extra_info_socket(reactor, accepted):
    proto, peer = accepted()
    proto.transport.get_extra_info("socket")
    peer.start_reading()
    proto.transport.write(b"ok")
    run_until(reactor, lambda: peer.received == b"ok")
    proto.transport.close()
    run_until(reactor, lambda: peer.eof and "lost" in proto.events)
