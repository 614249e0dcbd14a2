# Types for pymux.sys (a pymux API: no stdlib twin). tests/test_typing.py
# runs stubtest against the runtime module.
from _typeshed import FileDescriptorLike
from typing import Any, Final

from pymux.uring import Ring

__all__ = ["select", "fd_set", "FD_ZERO", "FD_SET", "FD_CLR", "FD_ISSET", "FD_SETSIZE",
           "poll", "pollfd_array", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_events",
           "io_uring_setup", "io_uring_enter", "io_uring_register",
           "IORING_REGISTER_PROBE", "IORING_REGISTER_BUFFERS", "IORING_UNREGISTER_BUFFERS",
           "IORING_REGISTER_FILES", "IORING_UNREGISTER_FILES", "IORING_REGISTER_EVENTFD",
           "IORING_UNREGISTER_EVENTFD", "IORING_REGISTER_PBUF_RING", "IOSQE_FIXED_FILE",
           "EPOLL_CTL_ADD", "EPOLL_CTL_MOD", "EPOLL_CTL_DEL", "EPOLL_CLOEXEC",
           "EPOLLIN", "EPOLLOUT", "EPOLLPRI", "EPOLLERR", "EPOLLHUP", "EPOLLRDHUP", "EPOLLET",
           "EPOLLONESHOT", "EPOLLEXCLUSIVE",
           "POLLIN", "POLLOUT", "POLLPRI", "POLLERR", "POLLHUP", "POLLNVAL", "POLLRDHUP"]

FD_SETSIZE: Final[int]
EPOLL_CTL_ADD: Final[int]
EPOLL_CTL_MOD: Final[int]
EPOLL_CTL_DEL: Final[int]
EPOLL_CLOEXEC: Final[int]
EPOLLIN: Final[int]
EPOLLOUT: Final[int]
EPOLLPRI: Final[int]
EPOLLERR: Final[int]
EPOLLHUP: Final[int]
EPOLLRDHUP: Final[int]
EPOLLET: Final[int]
EPOLLONESHOT: Final[int]
EPOLLEXCLUSIVE: Final[int]
POLLIN: Final[int]
POLLOUT: Final[int]
POLLPRI: Final[int]
POLLERR: Final[int]
POLLHUP: Final[int]
POLLNVAL: Final[int]
POLLRDHUP: Final[int]
IORING_REGISTER_PROBE: Final[int]
IORING_REGISTER_BUFFERS: Final[int]
IORING_UNREGISTER_BUFFERS: Final[int]
IORING_REGISTER_FILES: Final[int]
IORING_UNREGISTER_FILES: Final[int]
IORING_REGISTER_EVENTFD: Final[int]
IORING_UNREGISTER_EVENTFD: Final[int]
IORING_REGISTER_PBUF_RING: Final[int]
IOSQE_FIXED_FILE: Final[int]

class fd_set:
    def __init__(self) -> None: ...

def FD_ZERO(s: fd_set) -> None: ...
def FD_SET(fd: FileDescriptorLike, s: fd_set) -> None: ...
def FD_CLR(fd: FileDescriptorLike, s: fd_set) -> None: ...
def FD_ISSET(fd: FileDescriptorLike, s: fd_set) -> bool: ...
def select(nfds: int, readfds: fd_set | None, writefds: fd_set | None,
           exceptfds: fd_set | None, timeout: float | None = None) -> int: ...

# A cffi `struct pollfd[n]`: fds[i].fd, fds[i].events, fds[i].revents.
def pollfd_array(n: int) -> Any: ...
def poll(fds: Any, nfds: int, timeout: int) -> int: ...

def epoll_create1(flags: int = 0) -> int: ...
def epoll_ctl(epfd: FileDescriptorLike, op: int, fd: FileDescriptorLike,
              events: int = 0) -> None: ...

class epoll_events:
    maxevents: int
    fds: Any      # cffi int[maxevents]
    events: Any   # cffi uint32_t[maxevents]
    def __init__(self, maxevents: int) -> None: ...
    def ready(self, n: int) -> list[tuple[int, int]]: ...

def epoll_wait(epfd: FileDescriptorLike, events: epoll_events, maxevents: int,
               timeout: int) -> int: ...

def io_uring_setup(entries: int) -> Ring: ...
def io_uring_enter(ring: Ring, min_complete: int = 1,
                   timeout: float | None = None) -> list[tuple[int, int, int]]: ...

# The argument and the result depend on the opcode: see the docstring
# (PROBE returns the supported opcodes; the others 0).
def io_uring_register(ring: Ring, opcode: int, arg: Any = None) -> Any: ...
