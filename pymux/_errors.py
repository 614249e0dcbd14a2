"""The one place that builds an OSError from a C -errno return value.

Callers map the few codes that mean something else in their context
themselves (for instance -ENOENT from poll.unregister() is the stdlib's
KeyError); the loop core's -EBUSY and -ECHILD have their own helper here.
"""
import errno
import os


def oserror(rc):
    """The OSError for a negative C return code (CPython picks the subclass,
    FileNotFoundError for -ENOENT and so on)."""
    err = -rc
    return OSError(err, os.strerror(err))


def raise_errno(rc):
    """Raise the OSError for a negative C return code."""
    raise oserror(rc)


def check(rc):
    """Return rc when it is >= 0, else raise the matching OSError."""
    if rc < 0:
        raise oserror(rc)
    return rc


def owned(rc):
    """Return rc, unless it is the loop core refusing a caller that does not
    own the loop: -EBUSY, a thread other than the one running it (use
    call_soon_threadsafe), or -ECHILD, a process forked after the loop was
    created (its kernel state is the parent's). Both are programming errors."""
    if rc == -errno.EBUSY:
        raise RuntimeError("the event loop was used from another thread while it runs; "
                           "use call_soon_threadsafe()")
    if rc == -errno.ECHILD:
        raise RuntimeError(FORKED)
    return rc


FORKED = ("this event loop was created before fork(), in the parent process: a child "
          "may only close() it, and must make its own")


def check_loop(rc):
    """check() for the loop core (see owned)."""
    return check(owned(rc))
