"""pymux._code_table.CodeTable acts as the dict it replaces on PyPy.

The same random operations run on a dict and on a CodeTable, with codes
below and above the list's range (fds past LIST_FDS go to its dict); after
every step both gave the same result or raised the same exception, and hold
the same pairs. ready() maps codes like the dict's __getitem__.
"""
import random

import pytest

from pymux._code_table import LIST_FDS, CodeTable

LOW = list(range(0, 64))
EDGE = list(range(LIST_FDS * 4 - 8, LIST_FDS * 4 + 8))
HIGH = [2**22 + 1, 2**31 + 7, 2**40]


def _outcome(fn):
    try:
        return True, fn()
    except KeyError as exc:
        return False, exc.args


def _items(table):
    return {code: table[code] for code in LOW + EDGE + HIGH if _outcome(lambda: table[code])[0]}


@pytest.mark.parametrize("seed", range(20))
def test_code_table_matches_a_dict(seed):
    rng = random.Random(seed)
    codes = LOW + EDGE + HIGH
    ref, table = {}, CodeTable()
    for step in range(400):
        code = rng.choice(codes)
        op = rng.choice(["set", "set", "get", "pop", "del", "update", "ready", "clear"]
                        if step % 100 else ["clear"])
        pair = (object(), step)
        if op == "set":
            ref[code] = pair
            table[code] = pair
        elif op == "get":
            assert _outcome(lambda: ref[code]) == _outcome(lambda: table[code])
        elif op == "pop":
            assert ref.pop(code, "none") is table.pop(code, "none")
        elif op == "del":
            def delete(mapping):
                del mapping[code]
            assert _outcome(lambda: delete(ref)) == _outcome(lambda: delete(table))
        elif op == "update":
            more = {rng.choice(codes): (object(), i) for i in range(3)}
            ref.update(more)
            table.update(more)
        elif op == "ready":
            asked = rng.sample(codes, 3)
            assert (_outcome(lambda: [ref[c] for c in asked])
                    == _outcome(lambda: table.ready(asked)))
        else:
            ref.clear()
            table.clear()
        assert len(ref) == len(table)
        assert _items(table) == ref


def test_ready_keeps_the_order_of_the_codes():
    table = CodeTable()
    pairs = {code: (code, "pair") for code in (5, 1, 4 * LIST_FDS + 3, 9)}
    table.update(pairs)
    order = [9, 4 * LIST_FDS + 3, 1, 5, 9]
    assert table.ready(order) == [pairs[c] for c in order]


def test_one_high_fd_does_not_grow_the_list():
    table = CodeTable()
    table[4 * (2**20 - 1) + 1] = ("key", 1)
    assert table._slots == []
    table[4 * 10 + 1] = ("key", 1)
    assert len(table._slots) <= 4 * 11
