"""pymux.reactor: an asyncio-shaped callback reactor on pymux's C core.

    from pymux.reactor import Reactor, Protocol

    class Echo(Protocol):
        def connection_made(self, transport):
            self.transport = transport
        def data_received(self, data):
            self.transport.write(data)

    reactor = Reactor()                      # or Reactor("epoll-et"), "poll", "select", "uring"
    server = reactor.listen_tcp(Echo, "127.0.0.1", 8088)
    reactor.add_signal_handler(signal.SIGINT, reactor.stop)
    reactor.run_forever()
"""
from .._backends import BACKENDS
from ._handles import Handle, TimerHandle
from ._protocol import Protocol
from ._reactor import Reactor
from ._tcp import Server
from ._transport import Transport

__all__ = ["BACKENDS", "Handle", "Protocol", "Reactor", "Server", "TimerHandle", "Transport"]
