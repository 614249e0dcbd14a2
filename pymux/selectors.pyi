# Types for pymux.selectors: typeshed's stdlib/selectors.pyi for Linux, so
# code checked against `import selectors` checks the same with
# `import pymux.selectors as selectors`. The classes keep typeshed's names
# and layout because mypy's messages name the class that defines a method
# ('"register" of "_BaseSelectorImpl"'). tests/test_typing.py compares the
# two and runs stubtest against the runtime module.
#
# pymux's additions: the keyword-only `edge_triggered` (True only for the
# epoll selectors) and the `edge_triggered` property.
from _typeshed import FileDescriptorLike
from abc import ABCMeta
from collections.abc import Mapping
from typing import Any, Literal, type_check_only

# The stdlib's own objects at runtime, so the same types here.
from selectors import (
    EVENT_READ as EVENT_READ,
    EVENT_WRITE as EVENT_WRITE,
    BaseSelector as BaseSelector,
    SelectorKey as SelectorKey,
)

__all__ = ["BaseSelector", "SelectorKey", "EVENT_READ", "EVENT_WRITE",
           "SelectSelector", "PollSelector", "EpollSelector", "DefaultSelector"]

class _BaseSelectorImpl(BaseSelector, metaclass=ABCMeta):
    def __init__(self, *, edge_triggered: bool = False) -> None: ...
    @property
    def edge_triggered(self) -> bool: ...
    def register(self, fileobj: FileDescriptorLike, events: int, data: Any = None) -> SelectorKey: ...
    def unregister(self, fileobj: FileDescriptorLike) -> SelectorKey: ...
    def modify(self, fileobj: FileDescriptorLike, events: int, data: Any = None) -> SelectorKey: ...
    def get_map(self) -> Mapping[FileDescriptorLike, SelectorKey]: ...

class SelectSelector(_BaseSelectorImpl):
    # edge_triggered=True raises ValueError at runtime.
    def __init__(self, *, edge_triggered: Literal[False] = False) -> None: ...
    def select(self, timeout: float | None = None) -> list[tuple[SelectorKey, int]]: ...

# typeshed's base of the poll and epoll selectors; pymux has no such class.
@type_check_only
class _PollLikeSelector(_BaseSelectorImpl):
    def select(self, timeout: float | None = None) -> list[tuple[SelectorKey, int]]: ...

class PollSelector(_PollLikeSelector):
    # edge_triggered=True raises ValueError at runtime.
    def __init__(self, *, edge_triggered: Literal[False] = False) -> None: ...

class EpollSelector(_PollLikeSelector):
    def fileno(self) -> int: ...

# EpollSelector at runtime; typeshed declares it as a class of its own (the
# stdlib picks it per platform), and so does this stub, so that the same
# code gets the same types as with the stdlib.
class DefaultSelector(_BaseSelectorImpl):
    def select(self, timeout: float | None = None) -> list[tuple[SelectorKey, int]]: ...
    def fileno(self) -> int: ...
