"""The one place where C's -errno return values become Python exceptions."""
import errno
import os


def raise_errno(rc):
    """Raise OSError for a negative C return code (CPython picks the subclass)."""
    err = -rc
    raise OSError(err, os.strerror(err))


def check(rc):
    """Return rc when it is >= 0, else raise the matching OSError."""
    if rc < 0:
        raise_errno(rc)
    return rc


def not_busy(rc):
    """Return rc, unless it is the loop core's -EBUSY: a call from a thread
    other than the one running the loop, a programming error."""
    if rc == -errno.EBUSY:
        raise RuntimeError("the reactor was used from another thread while it runs; "
                           "use call_soon_threadsafe()")
    return rc


def check_loop(rc):
    """check() for the loop core (see not_busy)."""
    return check(not_busy(rc))
