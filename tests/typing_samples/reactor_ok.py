"""A user program on pymux.reactor: an echo server, a client and timers."""
import asyncio
import signal
import socket
from typing import Any

from pymux.reactor import BACKENDS, Handle, Protocol, Reactor, Server, TimerHandle, Transport


class Echo(Protocol):
    def connection_made(self, transport: Transport) -> None:
        self.transport = transport
        transport.set_write_buffer_limits(high=64 * 1024)

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def eof_received(self) -> bool | None:
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            print("lost:", exc)


class Client(Protocol):
    def __init__(self) -> None:
        self.received = bytearray()

    def connection_made(self, transport: Transport) -> None:
        transport.writelines([b"ping", bytearray(b" "), memoryview(b"pong")])
        transport.write_eof()
        peer = transport.get_extra_info("peername")
        print("connected to", peer, transport.get_write_buffer_size())

    def data_received(self, data: bytes) -> None:
        self.received += data


class AsyncioClient(asyncio.Protocol):
    def data_received(self, data: bytes) -> None:
        print(len(data))


def on_readable(sock: socket.socket, reactor: Reactor) -> None:
    print(sock.recv(100))
    reactor.remove_reader(sock)


def on_error(reactor: Reactor, context: dict[str, Any]) -> None:
    print(context["message"], reactor.is_running())


def main(backend: str = "epoll") -> None:
    assert backend in BACKENDS
    reactor = Reactor(backend)
    reactor.set_exception_handler(on_error)
    server: Server = reactor.listen_tcp(Echo, "127.0.0.1", 0, backlog=16)
    client: Client = reactor.connect_tcp(Client, "127.0.0.1", server.port,
                                         on_error=lambda exc: print(exc.errno))
    reactor.connect_tcp(AsyncioClient, "127.0.0.1", server.port)
    a, b = socket.socketpair()
    reactor.add_reader(a, on_readable, a, reactor)
    reactor.add_writer(b.fileno(), print, "writable")
    handle: Handle = reactor.call_soon(b.send, b"x")
    timer: TimerHandle = reactor.call_later(1.0, reactor.stop)
    deadline = reactor.time() + 2.0
    reactor.call_at(deadline, print, "late", timer.when())
    reactor.add_signal_handler(signal.SIGINT, reactor.stop)
    done = reactor.run_until(lambda: len(client.received) >= 9, timeout=5.0)
    print(done, handle.cancelled(), [t.is_closing() for t in reactor.transports()])
    reactor.remove_writer(b)
    reactor.remove_signal_handler(signal.SIGINT)
    server.close()
    print(server.is_serving(), server.sockname)
    reactor.call_soon_threadsafe(reactor.stop)
    reactor.run_forever()
    reactor.run(print, "once more")
    reactor.close()
    a.close()
    b.close()


if __name__ == "__main__":
    main()
