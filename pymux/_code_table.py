"""The code -> (key, events) table of pymux.selectors on PyPy.

A list indexed by code: under PyPy's JIT, mapping a ready fd's code is one
bounds check and one load, where a dict lookup hashes and probes (about a
third of a busy select()'s time on PyPy). CPython keeps the dict, whose
``__getitem__`` map() calls in C.

It acts as the dict it replaces for the operations pymux.selectors uses
(tests/test_code_table.py runs both through the same operations). Codes
are ints >= 0. Codes of fds below LIST_FDS live in the list, which grows to
the highest one stored (32 bytes per fd; the kernel hands out the lowest
free fd, so it stays about as long as the process has fds); higher codes go
to a dict, so one odd high fd does not cost a list of millions of entries.
"""

LIST_FDS = 65536
_LIST_CODES = LIST_FDS * 4


class CodeTable:
    """code -> pair, a list below LIST_FDS and a dict above."""

    __slots__ = ("_slots", "_high")

    def __init__(self):
        self._slots = []
        self._high = {}

    def __len__(self):
        return len(self._slots) - self._slots.count(None) + len(self._high)

    def __getitem__(self, code):
        slots = self._slots
        pair = slots[code] if code < len(slots) else None
        if pair is None:
            return self._high[code]    # KeyError for a missing low code too
        return pair

    def __setitem__(self, code, pair):
        slots = self._slots
        if code < len(slots):
            slots[code] = pair
        elif code < _LIST_CODES:
            # Doubling keeps a run of increasing fds linear.
            slots.extend([None] * (min(max(code + 1, 2 * len(slots)), _LIST_CODES) - len(slots)))
            slots[code] = pair
        else:
            self._high[code] = pair

    def pop(self, code, default):
        slots = self._slots
        if code < len(slots):
            pair = slots[code]
            slots[code] = None
            return default if pair is None else pair
        return self._high.pop(code, default)

    def __delitem__(self, code):
        if self.pop(code, None) is None:
            raise KeyError(code)

    def update(self, pairs):
        for code, pair in pairs.items():
            self[code] = pair

    def clear(self):
        # A new list: a ready() running in another thread keeps reading the
        # old one, as if its wait had returned just before.
        self._slots = []
        self._high.clear()

    def ready(self, codes):
        """The pairs of `codes` (a list of ints), in order; KeyError for a
        code without one."""
        slots = self._slots
        size = len(slots)
        out = []
        for code in codes:
            pair = slots[code] if code < size else None
            if pair is None:
                pair = self._high[code]
            out.append(pair)
        return out
