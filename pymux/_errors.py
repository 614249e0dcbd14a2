"""The one place where C's -errno return values become Python exceptions."""
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
