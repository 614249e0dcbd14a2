# Types for pymux.select: typeshed's stdlib/select.pyi for Linux, so code
# checked against `import select` checks the same with
# `import pymux.select as select`. tests/test_typing.py compares the two and
# runs stubtest against the runtime module.
#
# Left out, because pymux.select does not have them at runtime: PIPE_BUF,
# EPOLLWAKEUP (Python 3.14+), and the BSD and Solaris objects. No
# sys.platform guards: pymux runs on Linux only.
from _typeshed import FileDescriptorLike
from collections.abc import Iterable
from types import TracebackType
from typing import Final, TypeVar, final, overload
from typing_extensions import Never, Self, deprecated

__all__ = ["error", "select", "poll", "epoll"]

POLLERR: Final[int]
POLLHUP: Final[int]
POLLIN: Final[int]
POLLMSG: Final[int]
POLLNVAL: Final[int]
POLLOUT: Final[int]
POLLPRI: Final[int]
POLLRDBAND: Final[int]
POLLRDHUP: Final[int]
POLLRDNORM: Final[int]
POLLWRBAND: Final[int]
POLLWRNORM: Final[int]

@final
class poll:
    # default value is select.POLLIN | select.POLLPRI | select.POLLOUT
    def register(self, fd: FileDescriptorLike, eventmask: int = 7, /) -> None: ...
    def modify(self, fd: FileDescriptorLike, eventmask: int, /) -> None: ...
    def unregister(self, fd: FileDescriptorLike, /) -> None: ...
    def poll(self, timeout: float | None = None, /) -> list[tuple[int, int]]: ...

_R = TypeVar("_R", default=Never, bound=FileDescriptorLike)
_W = TypeVar("_W", default=Never, bound=FileDescriptorLike)
_X = TypeVar("_X", default=Never, bound=FileDescriptorLike)

def select(
    rlist: Iterable[_R], wlist: Iterable[_W], xlist: Iterable[_X], timeout: float | None = None, /
) -> tuple[list[_R], list[_W], list[_X]]: ...

error = OSError

@final
class epoll:
    # typeshed spells these as __new__; pymux's runtime takes them in __init__.
    @overload
    def __init__(self, sizehint: int = -1) -> None: ...
    @overload
    @deprecated(
        "The `flags` parameter is deprecated since Python 3.4. "
        "Use `os.set_inheritable()` to make the file descriptor inheritable."
    )
    def __init__(self, sizehint: int = -1, flags: int = 0) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        exc_tb: TracebackType | None = None,
        /,
    ) -> None: ...
    def close(self) -> None: ...
    # typeshed: `closed: bool`; read-only in both runtimes, so a property.
    @property
    def closed(self) -> bool: ...
    def fileno(self) -> int: ...
    def register(self, fd: FileDescriptorLike, eventmask: int = ...) -> None: ...
    def modify(self, fd: FileDescriptorLike, eventmask: int) -> None: ...
    def unregister(self, fd: FileDescriptorLike) -> None: ...
    def poll(self, timeout: float | None = None, maxevents: int = -1) -> list[tuple[int, int]]: ...
    @classmethod
    def fromfd(cls, fd: FileDescriptorLike, /) -> epoll: ...

EPOLLERR: Final[int]
EPOLLEXCLUSIVE: Final[int]
EPOLLET: Final[int]
EPOLLHUP: Final[int]
EPOLLIN: Final[int]
EPOLLMSG: Final[int]
EPOLLONESHOT: Final[int]
EPOLLOUT: Final[int]
EPOLLPRI: Final[int]
EPOLLRDBAND: Final[int]
EPOLLRDHUP: Final[int]
EPOLLRDNORM: Final[int]
EPOLLWRBAND: Final[int]
EPOLLWRNORM: Final[int]
EPOLL_CLOEXEC: Final[int]
