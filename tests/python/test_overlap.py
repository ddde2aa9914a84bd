"""segrec.overlap.made_ahead: the next item's work runs while the caller holds the current one."""

from __future__ import annotations

import threading

import pytest

from segrec.overlap import made_ahead


def test_results_come_in_order_and_the_next_is_made_while_the_caller_holds_one():
    started = {i: threading.Event() for i in range(4)}

    def work(i: int) -> int:
        started[i].set()
        return i * i

    seen = []
    for item, result in enumerate(made_ahead(work, range(4))):
        if item < 3:  # the caller still holds item; the next one's work has begun without it
            assert started[item + 1].wait(timeout=10)
        seen.append(result)
    assert seen == [0, 1, 4, 9]
    assert list(made_ahead(work, [])) == []


def test_an_error_in_the_work_is_raised_at_its_item_and_a_caller_that_stops_starts_no_more():
    def work(i: int) -> int:
        if i == 2:
            raise ValueError("bad batch 2")
        return i

    got = []
    with pytest.raises(ValueError, match="bad batch 2"):
        for result in made_ahead(work, range(5)):
            got.append(result)
    assert got == [0, 1]

    calls = []

    def counted(i: int) -> int:
        calls.append(i)
        return i

    for _ in made_ahead(counted, range(100)):
        break
    assert calls == [0, 1]  # the one under way when the caller stopped, none after it
