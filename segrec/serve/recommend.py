"""The lists a request gets: the published list (optionally re-ranked by context), the
cold-start list of a context for unknown visitors, and the re-rank by a live session.

Pure functions of a :class:`~segrec.serve.store.ServingBuild` and the request, so each rule is
tested without HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from segrec.segmentation.online import LiveEvent
from segrec.serve.context import Context
from segrec.serve.store import ITEM_COLUMNS, ServingBuild

# What a session event says about a product: carting is a stronger signal than viewing.
SESSION_SIGNALS: dict[str, float] = {"product_view": 1.0, "add_to_cart": 2.0}
CONTEXT_STRATEGY = "context_popularity"
SESSION_STRATEGY = "session"


def published_list(build: ServingBuild, customer_key: str, list_type: str) -> list[dict]:
    """The customer's list as customer_recommendations holds it (rank order)."""
    return build.recommendations.rows((customer_key, list_type), ITEM_COLUMNS)


def rerank_by_context(build: ServingBuild, items: list[dict], context: Context, weight: float) -> list[dict]:
    """``items`` re-scored as score + weight x context log-lift and re-ranked (stable: equal
    scores keep their order). Without a context the list is returned unchanged."""
    if context == Context() or not items or weight == 0:
        return items
    lift = build.context.scores(context)
    positions = build.context.product_ids.get_indexer([item["product_id"] for item in items])
    adjusted = [item["score"] + weight * (float(lift[p]) if p >= 0 else 0.0) for item, p in zip(items, positions,
                                                                                              strict=True)]
    order = sorted(range(len(items)), key=lambda i: -adjusted[i])
    return [{**items[i], "score": adjusted[i], "rank": rank} for rank, i in enumerate(order, start=1)]


def cold_start_list(build: ServingBuild, context: Context, n: int) -> list[dict]:
    """The ``n`` active products most popular in ``context`` (all visitors without a context)."""
    where = "" if context == Context() else f" on {context.device_type or 'any device'}" + (
        f" in the {context.daypart}" if context.daypart else "")
    return [
        {"rank": rank, "product_id": product_id, "score": score, "strategy": CONTEXT_STRATEGY,
         "reason": f"Popular{where}"}
        for rank, (product_id, score) in enumerate(build.context.cold_start(context, n), start=1)
    ]


def session_neighbours(
    build: ServingBuild, session: Sequence[LiveEvent], exclude: set[str], methods: Sequence[str]
) -> list[dict]:
    """Products similar to what the visitor viewed or carted in ``session``, best first.

    A candidate scores the sum over session products of signal weight x recency weight
    (1 for the latest product, 1/2 for the one before, ...) x its best similarity among
    ``methods``. Products removed from the cart stop counting; ``exclude`` (bought products,
    per the already-bought rules of the list) and the session's own products are never proposed.
    """
    signals: dict[str, float] = {}
    for event in session:
        if event.product_id is None:
            continue
        if event.event_type == "remove_from_cart":
            signals.pop(event.product_id, None)
        elif event.event_type in SESSION_SIGNALS:
            signals.pop(event.product_id, None)  # re-insert: dict order is recency order
            signals[event.product_id] = max(SESSION_SIGNALS[event.event_type], signals.get(event.product_id, 0.0))
    scores: dict[str, float] = {}
    because: dict[str, str] = {}
    for age, (product_id, signal) in enumerate(reversed(signals.items())):
        best: dict[str, float] = {}
        for row in build.similar.rows(product_id, ("method", "similar_product_id", "score")):
            if row["method"] in methods:
                best[row["similar_product_id"]] = max(best.get(row["similar_product_id"], 0.0), row["score"])
        for candidate, similarity in best.items():
            if candidate in signals or candidate in exclude or candidate not in build.categories:
                continue
            gain = signal * 0.5**age * similarity
            if gain > scores.get(candidate, 0.0):
                because[candidate] = product_id
            scores[candidate] = scores.get(candidate, 0.0) + gain
    ranked = sorted(scores, key=lambda p: (-scores[p], p))
    return [{"product_id": p, "score": scores[p], "strategy": SESSION_STRATEGY,
             "reason": f"Because you just looked at {because[p]}"} for p in ranked]


def rerank_by_session(
    build: ServingBuild,
    items: list[dict],
    session: Sequence[LiveEvent],
    *,
    bought: set[str],
    n: int,
    share: float = 0.5,
    methods: Sequence[str] = ("cooccurrence", "content"),
) -> list[dict]:
    """``items`` with the session's neighbours first: up to ``ceil(share x n)`` of them, then
    the published items in their order (without the products the session already placed and
    those bought in it), renumbered. ``bought`` are the products the list may not propose again."""
    picks = session_neighbours(build, session, bought, methods)[: int(np.ceil(share * n))]
    placed = {item["product_id"] for item in picks} | bought
    rest = [item for item in items if item["product_id"] not in placed]
    merged = (picks + rest)[:n]
    return [{**item, "rank": rank} for rank, item in enumerate(merged, start=1)]
