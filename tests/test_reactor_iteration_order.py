"""The order of one reactor iteration, as README.md ("One iteration") states
it: the C core's fd records in the order it served the fds, then the expired
timers in (deadline, FIFO) order, then the call_soon callbacks queued by then
(including those the records and timers scheduled); a callback scheduled by a
call_soon callback waits for the next iteration."""

LONG = 10.0   # a hang guard only


def test_one_iteration_runs_fd_records_then_timers_then_call_soon(reactor, socketpair):
    a, b = socketpair()
    b.send(b"x")
    ran = []

    def on_readable():
        ran.append("fd record")
        reactor.remove_reader(a.fileno())
        reactor.call_soon(ran.append, "soon from fd record")

    def on_timer(name):
        ran.append(name)
        reactor.call_soon(ran.append, f"soon from {name}")

    def on_soon():
        ran.append("soon")
        reactor.call_soon(ran.append, "soon from soon")

    reactor.call_soon(on_soon)
    reactor.call_later(0, on_timer, "timer 1")
    reactor.call_later(0, on_timer, "timer 2")   # same deadline: FIFO
    reactor.add_reader(a.fileno(), on_readable)

    def iteration_boundary():
        ran.append("|")   # run_until asks its predicate once per iteration
        return "soon from soon" in ran

    assert reactor.run_until(iteration_boundary, timeout=LONG)
    first = ran.index("|", 1)
    assert ran[:first] == [
        "|",
        "fd record",
        "timer 1",
        "timer 2",
        "soon",
        "soon from fd record",
        "soon from timer 1",
        "soon from timer 2",
    ]
    assert ran[first:] == ["|", "soon from soon", "|"]


def test_a_timer_due_during_the_iteration_waits_for_the_next_one(reactor):
    ran = []

    def schedule_due_timer():
        ran.append("soon")
        reactor.call_later(0, ran.append, "timer")

    reactor.call_soon(schedule_due_timer)

    def iteration_boundary():
        ran.append("|")
        return "timer" in ran

    assert reactor.run_until(iteration_boundary, timeout=LONG)
    assert ran == ["|", "soon", "|", "timer", "|"]
