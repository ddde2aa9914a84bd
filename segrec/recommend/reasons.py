"""Why a product is on a list, in words a customer could read."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

# Strategies whose picks come from the customer's own history and so have an anchor product.
HISTORY_STRATEGIES: tuple[str, ...] = ("als", "cooccurrence", "content")
FIXED_REASONS: dict[str, str] = {
    "segment_popularity": "Popular with customers like you",
    "segment_content": "Popular with customers like you",
    "popularity": "Popular with our customers",
    "trending": "Trending now",
    "new_arrival": "New arrival",
    "premium": "Handpicked from our premium range",
}


def anchor_items(
    history: sp.csr_matrix,
    pair_rows: np.ndarray,
    pair_items: np.ndarray,
    similarity: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    """For each recommended (row, item) pair, the history item most similar to the item.

    ``history`` holds the customers' past items (rows x items); ``similarity(a, b)``
    scores item pairs element-wise. Ties go to the lower item index. The item itself never
    anchors its own pick, and a pair whose best similarity is not positive gets -1.
    """
    counts = np.diff(history.indptr)[pair_rows]
    anchors = np.full(len(pair_rows), -1, dtype=np.int64)
    if counts.sum() == 0:
        return anchors
    # One block of candidates per pair, blocks in pair order, candidates by item index.
    pair_of = np.repeat(np.arange(len(pair_rows)), counts)
    block_start = np.cumsum(counts) - counts
    offset = np.arange(len(pair_of)) - block_start[pair_of]
    positions = np.repeat(history.indptr[pair_rows], counts) + offset
    candidates = history.indices[positions]
    sims = np.asarray(similarity(pair_items[pair_of], candidates), dtype=np.float64).ravel()
    sims[candidates == pair_items[pair_of]] = -np.inf
    has = counts > 0
    starts = block_start[has]
    best = np.full(len(pair_rows), -np.inf)
    best[has] = np.maximum.reduceat(sims, starts)
    index = np.arange(len(sims))
    first_best = np.minimum.reduceat(np.where(sims == best[pair_of], index, len(sims)), starts)
    good = best[has] > 0
    anchors[np.flatnonzero(has)[good]] = candidates[first_best[good]]
    return anchors


def reason_texts(rows: pd.DataFrame) -> pd.Series:
    """One reason per recommendation row.

    ``rows`` columns: ``strategy``; ``anchor_name`` (name of the anchor product or None);
    ``has_anchor``, ``anchor_bought`` (the anchor was bought, not only viewed),
    ``already_bought`` (the product itself was bought before: a repeat-purchase category),
    ``is_new`` and ``leaf_category`` of the recommended product.
    """
    strategy = rows["strategy"].to_numpy(dtype=object)
    verb = np.where(rows["anchor_bought"].to_numpy(dtype=bool), "bought", "viewed").astype(object)
    name = rows["anchor_name"].to_numpy(dtype=object)
    has_anchor = rows["has_anchor"].to_numpy(dtype=bool)
    named = pd.notna(name) & has_anchor
    history = np.isin(strategy, HISTORY_STRATEGIES)
    complement = strategy == "complement"
    new_pick = np.isin(strategy, ["new_arrival", "segment_content"])
    leaf = rows["leaf_category"].to_numpy(dtype=object)
    newish = rows["is_new"].to_numpy(dtype=bool) & new_pick & pd.notna(leaf)
    # the first rule that holds picks the text; texts with a name are made only for their rows
    # (joining strings for every row of a large shop's lists was most of the time)
    rules = [
        (rows["already_bought"].to_numpy(dtype=bool), lambda r: "Buy it again"),
        (history & named, lambda r: "Because you " + verb[r] + " " + name[r]),
        (history & has_anchor, lambda r: "Based on what you " + verb[r]),
        (history, lambda r: "Picked for you"),
        (complement & named, lambda r: "Often bought with " + name[r]),
        (complement, lambda r: "Often bought with your purchases"),
        (newish, lambda r: "New in " + leaf[r]),
    ]
    chosen = np.select([held for held, _ in rules], np.arange(len(rules)), default=-1)
    texts = np.empty(len(rows), dtype=object)
    other = chosen < 0
    texts[other] = [FIXED_REASONS.get(s, "Picked for you") for s in strategy[other]]
    for position, (_, text) in enumerate(rules):
        r = np.flatnonzero(chosen == position)
        if len(r):
            texts[r] = text(r)
    return pd.Series(texts, index=rows.index, dtype=object)
