"""One client connection of the non-blocking echo models in bench/servers/.

A ``Conn`` is a non-blocking client socket and the bytes read from it but not
yet sent back. Every non-blocking model (busy, select, poll, epoll LT and ET,
selectors, SIGIO) keeps the same per-connection rules, so they live here once:

- the reply to a chunk (the chunk, or its upper case with --upper) is sent at
  once; what the kernel does not take (a partial send) waits in ``out``, and
  later replies queue behind it so the byte order holds;
- while HIGH_WATER bytes are unsent the model stops reading that peer
  (``may_read()`` is False): a client that sends but never reads cannot make
  the server buffer without bound;
- EOF from the peer sets ``eof``; the model closes the socket once ``out`` is
  empty (``done()``);
- a reset or a broken pipe drops the unsent bytes and makes it ``done()``.

What differs between the models, and is their lesson, stays in each model
file: how it learns that a socket is ready, what it registers and when, and
which of these methods it calls for which event.
"""
import _common


class Conn:
    __slots__ = ("sock", "out", "eof", "mask")

    def __init__(self, sock, mask=0):
        self.sock = sock
        self.out = bytearray()      # bytes read but not yet sent back
        self.eof = False            # the peer closed its side: close once out is sent
        self.mask = mask            # the events it is registered for (models that keep one)

    def may_read(self):
        """False after EOF, and while HIGH_WATER bytes wait to be sent."""
        return not self.eof and len(self.out) < _common.HIGH_WATER

    def done(self):
        """EOF (or an error) and everything sent: close it."""
        return self.eof and not self.out

    def wanted(self, readable, writable):
        """The events to wait for: ``writable`` while bytes are unsent, ``readable`` while may_read()."""
        mask = writable if self.out else 0
        if self.may_read():
            mask |= readable
        return mask

    def on_ready(self, revents, readable, writable, reply):
        """One event of a level-triggered loop (poll, epoll LT): send once if
        ``writable`` is in revents, recv once on anything else (IN, HUP, ERR:
        recv tells which). Returns the events to wait for next (wanted()):
        0 once the peer sent EOF and everything is sent back."""
        if revents & writable:
            self.write_once()
        if revents & ~writable:
            self.read_once(reply)
        return self.wanted(readable, writable)

    # read_once, write_once and try_once return True if they did something (read,
    # sent, or hit EOF or an error): the busy and SIGIO loops use it to know when to stop.

    def read_once(self, reply):
        """recv once (EAGAIN: nothing there, False); reply at once, keep what send() left."""
        return self._io(self._recv_reply, reply)

    def write_once(self):
        """send the pending bytes once; keep what the kernel did not take."""
        return self._io(self._send)

    def drain(self, reply):
        """recv until EAGAIN, EOF or HIGH_WATER unsent, replying to each chunk at once."""
        return self._io(self._drain, reply)

    def flush(self):
        """send until everything is sent or EAGAIN."""
        return self._io(self._flush)

    def try_once(self, reply):
        """One attempt without knowing readiness: send what is pending, then recv once."""
        did = self.write_once() if self.out else False
        if self.may_read():
            did = self.read_once(reply) or did
        return did

    def _recv_reply(self, reply):
        data = self.sock.recv(_common.RECV_SIZE)
        if not data:
            self.eof = True
            return True
        data = reply(data)
        if not self.out:                    # nothing queued: send now, keep the rest
            data = data[self.sock.send(data):]
        self.out += data
        return True

    def _send(self):
        n = self.sock.send(self.out)
        del self.out[:n]
        return n > 0

    def _drain(self, reply):
        while self.may_read():
            self._recv_reply(reply)         # BlockingIOError (EAGAIN) ends the drain
        return True

    def _flush(self):
        while self.out:
            self._send()
        return True

    def _io(self, step, *args):
        try:
            return step(*args)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:                     # reset by peer, broken pipe: drop the connection
            self.out.clear()
            self.eof = True
            return True
