"""Logging for the echo server: one format, and a rate limit on repeated
warnings (an fd table that stays full would otherwise log ten a second)."""
import logging
import time

FORMAT = "%(asctime)s %(process)d %(name)s: %(message)s"


class RateLimit(logging.Filter):
    """Passes at most one warning (or worse) per logger and message template
    every `interval` seconds; the next one passed says how many were
    suppressed. Lower levels (-v's per-connection lines) all pass."""

    def __init__(self, interval=1.0, clock=time.monotonic):
        super().__init__()
        self.interval = interval
        self.clock = clock
        self.last = {}   # (logger name, template) -> [time passed, suppressed since]

    def filter(self, record):
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.msg)
        now = self.clock()
        seen = self.last.get(key)
        if seen is not None and now - seen[0] < self.interval:
            seen[1] += 1
            return False
        if seen is not None and seen[1]:
            record.msg = f"{record.getMessage()} ({seen[1]} similar messages suppressed)"
            record.args = None
        self.last[key] = [now, 0]
        return True


def configure(verbose):
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format=FORMAT)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RateLimit())
