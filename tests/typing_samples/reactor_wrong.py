"""Mistakes a type checker catches in pymux.reactor code: each line marked
`# E: code` must get that error."""
import socket

from pymux.reactor import Protocol, Reactor, Transport


def on_readable(sock: socket.socket) -> None:
    print(sock.recv(100))


class WrongData(Protocol):
    def data_received(self, data: str) -> None:  # E: override
        print(data.upper())


def mistakes(reactor: Reactor, transport: Transport, sock: socket.socket) -> None:
    reactor.call_later("soon", reactor.stop)  # E: arg-type
    reactor.call_soon(on_readable, "not a socket")  # E: arg-type
    reactor.add_reader(sock, on_readable)  # E: arg-type
    reactor.add_reader("fd", on_readable, sock)  # E: arg-type
    transport.write("text")  # E: arg-type
    reactor.listen_tcp(object)  # E: arg-type
    server = reactor.listen_tcp(Protocol, port="8080")  # E: arg-type
    server.port.upper()  # E: attr-defined
    if reactor.stop():  # E: func-returns-value
        print("stopped")
