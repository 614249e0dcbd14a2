"""Lifetimes of the reactor's objects that reach C memory: transports,
servers, handles and the Reactor itself, used after their reactor is closed
(or would be collected).

Nothing may touch the freed C loop: the sanitizer build (PYMUX_SANITIZE=1,
see README "Development") turns any such access into a heap-use-after-free
report, so run these there too. Each use gets a defined outcome, the one
asyncio gives where it has one: a transport closed before its reactor
ignores writes (asyncio ignores writes after close()); one the reactor's
close() took down raises RuntimeError("Reactor is closed") (asyncio raises
"Event loop is closed" when a transport needs its closed loop).
"""
import gc
import socket
import weakref

import pytest

from pymux.reactor import Reactor
from reactor_helpers import LONG, receive_while_running, run_until, serve_clients
from reactor_helpers import reactor_backend  # noqa: F401 (a fixture)


def _peer_sees_the_end(client):
    client.settimeout(LONG)
    try:
        return client.recv(1) == b""
    except ConnectionResetError:
        return True


# --- transports -------------------------------------------------------------------


def _closed_before_its_reactor(reactor):
    """A connection whose transport closed (connection_lost ran), then its
    reactor closed: returns (the peer's socket, the transport)."""
    server, (client,), (protocol,) = serve_clients(reactor, 1)
    protocol.transport.close()
    run_until(reactor, lambda: protocol.lost)
    reactor.close()
    return client, protocol.transport


def test_write_on_a_transport_closed_before_its_reactor_is_ignored(reactor):
    # Issue 9 item 1: the transport kept the freed loop pointer, and this
    # write wrote into freed memory (ASan: heap-use-after-free in mux__enter).
    client, transport = _closed_before_its_reactor(reactor)
    try:
        transport.write(b"late")
        transport.writelines([b"late", b"r"])
        transport.write(bytearray(b"late"))
        assert transport.is_closing()
        assert transport.get_write_buffer_size() == 0
    finally:
        client.close()


def test_write_on_a_transport_aborted_before_its_reactor_is_ignored(reactor):
    server, (client,), (protocol,) = serve_clients(reactor, 1)
    protocol.transport.abort()
    reactor.close()
    try:
        protocol.transport.write(b"late")
    finally:
        client.close()


def test_write_on_a_transport_whose_close_was_flushing_is_ignored(reactor):
    # close() with bytes queued leaves the C stream flushing; the reactor's
    # close() then ends it.
    server, (client,), (protocol,) = serve_clients(reactor, 1)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    transport = protocol.transport
    transport.write(b"x" * (8 * 1024 * 1024))
    assert transport.get_write_buffer_size() > 0
    transport.close()
    reactor.close()
    try:
        transport.write(b"late")
        transport.abort()
        assert transport.is_closing()
    finally:
        client.close()


@pytest.mark.parametrize("data", [b"late", bytearray(b"late"), memoryview(b"late"), b""],
                         ids=["bytes", "bytearray", "memoryview", "empty"])
def test_write_on_an_open_transport_after_reactor_close_raises_runtime_error(reactor, data):
    # Issue 9 item 2: this raised "TypeError: data argument must be a
    # bytes-like object, not 'bytes'".
    server, (client,), (protocol,) = serve_clients(reactor, 1)
    reactor.close()
    try:
        with pytest.raises(RuntimeError, match="Reactor is closed"):
            protocol.transport.write(data)
        with pytest.raises(RuntimeError, match="Reactor is closed"):
            protocol.transport.writelines([data])
        with pytest.raises(TypeError):
            protocol.transport.write("not bytes")
        assert _peer_sees_the_end(client)
    finally:
        client.close()


def test_every_other_transport_method_after_reactor_close_is_harmless(reactor):
    server, (client,), (protocol,) = serve_clients(reactor, 1)
    transport = protocol.transport
    reactor.close()
    try:
        assert transport.is_closing()
        assert not transport.is_reading()
        transport.pause_reading()
        transport.resume_reading()
        transport.set_write_buffer_limits(high=100)
        assert transport.get_write_buffer_limits() == (25, 100)
        assert transport.get_write_buffer_size() == 0
        transport.write_eof()
        assert transport.get_extra_info("peername", "none") == "none"
        assert transport.get_extra_info("socket") is None
        transport.close()
        transport.abort()
        assert transport.get_protocol() is protocol
        assert "closing" in repr(transport)
        assert not protocol.lost   # like asyncio's loop.close(): no callbacks any more
    finally:
        client.close()


def test_reactor_close_closes_the_socket_get_extra_info_gave_out(reactor):
    # That socket is a dup of the stream's fd: left open, it would keep the
    # connection up after the reactor closed it.
    server, (client,), (protocol,) = serve_clients(reactor, 1)
    sock = protocol.transport.get_extra_info("socket")
    assert sock.fileno() >= 0
    reactor.close()
    try:
        assert sock.fileno() == -1
        assert _peer_sees_the_end(client)
    finally:
        client.close()


def test_a_transport_keeps_its_reactor_alive_and_usable(reactor_backend):
    # The transport holds its reactor: collecting the reactor while a
    # transport can still reach it never happens.
    reactor = Reactor(reactor_backend)
    server, (client,), (protocol,) = serve_clients(reactor, 1)
    transport = protocol.transport
    owner = weakref.ref(reactor)
    del reactor, server, protocol
    gc.collect()
    try:
        assert owner() is not None
        transport.write(b"still here")
        assert receive_while_running(owner(), client, 10) == b"still here"
    finally:
        owner().close()
        client.close()




# --- servers ----------------------------------------------------------------------


def test_server_close_after_reactor_close_is_harmless(reactor):
    server = reactor.listen_tcp(lambda: None, "127.0.0.1", 0)
    reactor.close()
    assert not server.is_serving()
    server.close()
    with socket.socket() as s:   # the reactor's close() released the port
        s.bind(server.sockname)


def test_server_closed_before_its_reactor_stays_closed(reactor):
    server = reactor.listen_tcp(lambda: None, "127.0.0.1", 0)
    server.close()
    reactor.close()
    server.close()
    assert not server.is_serving()


def test_server_waiting_to_retry_accept_when_the_reactor_closes(reactor):
    server = reactor.listen_tcp(lambda: None, "127.0.0.1", 0)
    server._accept_failed(24)   # EMFILE: a retry timer is armed
    reactor.close()
    server._resume()            # the retry, had it fired: nothing to resume
    server.close()
    assert not server.is_serving()


# --- handles ----------------------------------------------------------------------


def test_timer_handle_cancel_after_reactor_close_is_harmless(reactor):
    pending = reactor.call_later(LONG, print)
    fired = []
    done = reactor.call_later(0, fired.append, 1)
    run_until(reactor, lambda: fired)
    reactor.close()
    pending.cancel()
    done.cancel()
    pending.cancel()
    assert pending.cancelled() and done.cancelled()
    assert pending.when() > 0


def test_handle_cancel_after_reactor_close_is_harmless(reactor):
    handle = reactor.call_soon(print)
    reactor.close()
    handle.cancel()
    assert handle.cancelled()


# --- the reactor ------------------------------------------------------------------


def test_queries_and_removals_after_close_are_harmless(reactor):
    a, b = socket.socketpair()
    try:
        reactor.add_reader(a, print)
        reactor.add_writer(b, print)
        reactor.close()
        assert reactor.remove_reader(a) is False
        assert reactor.remove_writer(b) is False
        assert reactor.remove_signal_handler(10) is False
        assert reactor.transports() == []
        assert reactor.time() > 0
        assert not reactor.is_running()
        reactor.stop()
        assert "closed" in repr(reactor)
    finally:
        a.close()
        b.close()


def test_close_then_a_new_reactor_in_the_same_memory(reactor):
    # malloc may hand the freed loop out again at once: the old reactor's
    # transport must not reach the new one.
    client, transport = _closed_before_its_reactor(reactor)
    newer = Reactor(reactor.backend)
    try:
        calls = []
        newer.call_soon(lambda: (transport.write(b"old"), calls.append(1), newer.stop()))
        newer.run_forever()
        assert calls == [1]
        assert newer.run_until(lambda: False, timeout=0.01) is False
    finally:
        newer.close()
        client.close()
