"""Overlap the steps of a batch loop on two cores (the thread of a dbt Python model and one more).

Why: a model that makes each batch in two steps (build a batch's inputs, then score and write
it) leaves a core idle when it runs alone, as the served ranker lists do at the end of a build.
The steps are NumPy, pandas, Arrow and scikit-learn work that mostly releases the GIL, so a
second thread that builds the next batch while the current one is scored uses that core.
Results come in the order of the items, each computed by the same code as without the overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def made_ahead(work: Callable[[Item], Result], items: Iterable[Item]) -> Iterator[Result]:
    """``work(item)`` for each of ``items`` in order, as ``map`` gives them, ``work`` of the next item
    running in a worker thread while the caller uses the current one: at most two results exist at once.
    An exception in ``work`` is raised where its result is asked for; a caller that stops early
    waits for the one piece of work under way, none is started after it."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="segrec-ahead") as pool:
        pending: Future[Result] | None = None
        for item in items:
            upcoming = pool.submit(work, item)
            if pending is not None:
                yield pending.result()
            pending = upcoming
        if pending is not None:
            yield pending.result()
