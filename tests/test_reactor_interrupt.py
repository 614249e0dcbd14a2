"""KeyboardInterrupt and SystemExit raised by a callback end the run (they
propagate out of run_forever, as in asyncio), and lose nothing: the records
of that iteration not dispatched yet (bytes already read from other
connections, timers already due) are dispatched first when the reactor
runs again, then that iteration's call_soon callbacks."""
import pytest

from reactor_helpers import LONG, Kept, run_until, serve_clients

CLIENTS = 6


class RaisesOnce(Kept):
    """Raises `exc` from the first data_received of any instance sharing
    `state`, after keeping the bytes."""

    def __init__(self, state):
        super().__init__()
        self.state = state

    def data_received(self, data):
        super().data_received(data)
        self.state["order"].append(self)
        if not self.state["raised"]:
            self.state["raised"] = True
            raise self.state["exc"]


def _chunk(i, round_):
    return bytes([65 + i]) * (1000 + 100 * i) + f"|{round_}".encode()


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_interrupted_batch_delivers_every_byte_already_read_in_order(reactor, exc):
    # Issue 9 item 4: the DATA records after the raising callback were
    # dropped, and with them the bytes the loop had read for those streams.
    state = {"raised": False, "exc": exc, "order": []}
    server, clients, protocols = serve_clients(reactor, CLIENTS, lambda: RaisesOnce(state))
    try:
        for i, client in enumerate(clients):
            client.sendall(_chunk(i, 1))
        guard = reactor.call_later(LONG, reactor.stop)
        with pytest.raises(exc):
            reactor.run_forever()
        guard.cancel()
        assert len(state["order"]) == 1   # the batch stopped at the raise
        marks = []
        reactor.call_soon(lambda: marks.append(len(state["order"])))
        for i, client in enumerate(clients):
            client.sendall(_chunk(i, 2))
        run_until(reactor, lambda: all(len(p.data) == 2 * len(_chunk(i, 1))
                                       for i, p in enumerate(protocols)))
        for i, protocol in enumerate(protocols):
            assert bytes(protocol.data) == _chunk(i, 1) + _chunk(i, 2)
        # The kept records came first, before call_soon callbacks scheduled
        # between the runs: every connection had its first chunk by then.
        assert marks and marks[0] >= CLIENTS
    finally:
        for client in clients:
            client.close()


def _at_one_deadline(reactor, *calls):
    when = reactor.time() + 0.01
    for call in calls:
        reactor.call_at(when, *call)


def _soon(reactor, *calls):
    for call in calls:
        reactor.call_soon(*call)


@pytest.mark.parametrize("schedule", [_at_one_deadline, _soon], ids=["timers", "call_soon"])
def test_callback_after_the_interrupted_one_still_runs(reactor, schedule):
    # Timers due in the same batch: on main the second one was lost.
    ran = []

    def interrupt():
        ran.append("interrupt")
        raise KeyboardInterrupt

    schedule(reactor, (interrupt,), (ran.append, "next"))
    with pytest.raises(KeyboardInterrupt):
        reactor.run_forever()
    assert ran == ["interrupt"]
    run_until(reactor, lambda: len(ran) == 2)
    assert ran == ["interrupt", "next"]


def test_records_kept_by_an_interrupt_are_dropped_by_close(reactor):
    state = {"raised": False, "exc": KeyboardInterrupt, "order": []}
    server, clients, protocols = serve_clients(reactor, 3, lambda: RaisesOnce(state))
    try:
        for i, client in enumerate(clients):
            client.sendall(_chunk(i, 1))
        with pytest.raises(KeyboardInterrupt):
            reactor.run_until(lambda: False, timeout=LONG)
        reactor.close()   # the read buffer is freed: nothing may read it now
        assert len(state["order"]) == 1
        with pytest.raises(RuntimeError):
            reactor.run_until(lambda: False, timeout=0.01)
    finally:
        for client in clients:
            client.close()
