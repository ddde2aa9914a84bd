"""Re-ranking against popularity bias and category miscalibration: the control behind the dbt var
``recommendation_rerank``, applied to the learned ranker's ``discover`` and ``blended`` lists.

Both methods re-order each customer's ``pool`` best candidates by the ranker's score and are the
identity at ``weight`` 0 (the default method ``none`` is the identity at any weight):

- ``long_tail`` (popularity penalty; Abdollahpouri et al., "Managing Popularity Bias in
  Recommender Systems with Personalized Re-ranking", FLAIRS 2019, as its simplest baseline): sort
  the pool by ``(1 - weight) * relevance - weight * popularity``; weight 1 sorts it from the least
  to the most popular candidate.
- ``calibrated`` (Steck, "Calibrated Recommendations", RecSys 2018): pick greedily, ``length``
  times, the candidate that maximises ``(1 - weight) * relevance - weight * KL(p || q~)``, ``p``
  the customer's category mix (their own products, each once, as the metric ``category_kl``
  counts their history), ``q~ = (1 - a) q + a p`` the mix of the picks with the candidate, ``a``
  the metric's smoothing (:data:`segrec.recommend.evaluation.CALIBRATION_SMOOTHING`). A product
  without a category leaves the mix as it is; a customer without a known mix keeps the ranker's
  order. The rest of the pool follows the picks in the ranker's order.

``relevance`` and ``popularity`` are min-max scaled to [0, 1] within each customer's pool, so one
weight means the same for every customer and every scorer (the ensemble's scores are log-odds
sums, the fallback's purchase-day counts). Candidates beyond the pool keep their order after it;
ties keep the ranker's order. A pool wider than the ranker's shortlist takes in pairs the trees did
not score (their scores sit far below, see ranker.OUTSIDE_SHORTLIST): their relevance is about 0.
The business rules stay with the caller: the lists are made from eligible candidates only, and the
category cap and list length apply to the re-ranked order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from segrec.errors import SegrecError
from segrec.io import require_columns
from segrec.recommend.evaluation import CALIBRATION_SMOOTHING

RERANK_METHODS: tuple[str, ...] = ("none", "calibrated", "long_tail")
# buy_again lists are the customer's own history: neither a popularity penalty nor a pull toward
# their category mix changes what a re-order list is for.
RERANKED_LIST_TYPES: tuple[str, ...] = ("discover", "blended")
# The pair column the popularity penalty reads: distinct buyers in the last 365 days.
POPULARITY_COLUMN = "pop_365d"


@dataclass(frozen=True)
class RerankSettings:
    """A checked ``recommendation_rerank`` (see :func:`rerank_settings`). ``pool``: the candidates
    a re-rank may move, per customer and list (50 = the ranker's shortlist, so the pool holds only
    pairs the ensemble's trees scored)."""

    method: str = "none"
    weight: float = 0.0
    pool: int = 50

    @property
    def is_identity(self) -> bool:
        return self.method == "none" or self.weight == 0.0

    @property
    def needs_history(self) -> bool:
        """Calibration pulls toward each customer's category mix: only it reads their history."""
        return self.method == "calibrated" and not self.is_identity


RERANK_DEFAULTS: dict[str, Any] = asdict(RerankSettings())


def rerank_settings(settings: Mapping[str, Any] | None) -> RerankSettings:
    """The dbt var ``recommendation_rerank`` checked, with defaults for keys it leaves out."""
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(RERANK_DEFAULTS))
    if unknown:
        raise SegrecError(f"var recommendation_rerank: unknown key(s) {unknown}; use {sorted(RERANK_DEFAULTS)}")
    merged = RERANK_DEFAULTS | settings
    if merged["method"] not in RERANK_METHODS:
        raise SegrecError(f"var recommendation_rerank.method: {merged['method']!r}; use one of {list(RERANK_METHODS)}")
    weight = merged["weight"]
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0.0 <= weight <= 1.0:
        raise SegrecError(f"var recommendation_rerank.weight must be a number in [0, 1], got {weight!r}")
    pool = merged["pool"]
    if isinstance(pool, bool) or not isinstance(pool, int) or pool < 1:
        raise SegrecError(f"var recommendation_rerank.pool must be a whole number >= 1, got {pool!r}")
    return RerankSettings(method=merged["method"], weight=float(weight), pool=pool)


def pool_scaled(values: np.ndarray) -> np.ndarray:
    """Each row min-max scaled to [0, 1] over its non-NaN cells (NaN: padding, kept); a row of
    one distinct value is all 1."""
    low = np.min(np.where(np.isnan(values), np.inf, values), axis=1, keepdims=True)
    high = np.max(np.where(np.isnan(values), -np.inf, values), axis=1, keepdims=True)
    span = high - low
    scaled = np.divide(values - low, span, out=np.ones_like(values, dtype=float), where=span > 0)
    return np.where(np.isnan(values), np.nan, scaled)


def _order_by_key(key: np.ndarray) -> np.ndarray:
    """Per row, the cell order by ascending ``key`` (ties by position)."""
    return np.argsort(key, axis=1, kind="stable")


def long_tail_order(scores: np.ndarray, popularity: np.ndarray, weight: float) -> np.ndarray:
    """Per row of a pool (``scores`` best first, NaN padding last), the order of its cells by
    ``(1 - weight) * relevance - weight * popularity`` (see the module docstring); padding stays last."""
    value = (1.0 - weight) * pool_scaled(scores) - weight * pool_scaled(np.where(np.isnan(scores), np.nan, popularity))
    return _order_by_key(np.where(np.isnan(scores), np.inf, -value))


def calibrated_order(
    scores: np.ndarray, categories: np.ndarray, target: np.ndarray, weight: float, length: int
) -> np.ndarray:
    """Per row of a pool (``scores`` best first, NaN padding last), Steck's greedy order: ``length``
    picks, then the other cells in their order, padding last.

    ``categories``: a code per cell (-1: none); ``target``: rows x codes, the customer's category
    counts (any scale; an all-zero row keeps the ranker's order).
    """
    n_rows, width = scores.shape
    if target.shape[1] == 0:  # no category anywhere: nothing to calibrate
        return _order_by_key(np.where(np.isnan(scores), np.inf, np.arange(width)[None, :]))
    relevance = pool_scaled(scores)
    totals = target.sum(axis=1, keepdims=True)
    p = np.divide(target, totals, out=np.zeros_like(target, dtype=float), where=totals > 0)
    known_p = p > 0
    a = CALIBRATION_SMOOTHING
    counts = np.zeros_like(p)
    n_known = np.zeros((n_rows, 1))
    open_ = ~np.isnan(scores)
    step_of = np.full((n_rows, width), np.inf)
    rows = np.arange(n_rows)
    code = np.maximum(categories, 0)
    for step in range(min(length, width)):
        # KL(p || q~) now, and after one more item of each category: adding an item of category c
        # turns q~_j into base_j + [j == c] (1 - a) / (n + 1), base the mix with n + 1 items.
        now = (1 - a) * np.divide(counts, n_known, out=np.zeros_like(counts), where=n_known > 0) + a * p
        base = (1 - a) * counts / (n_known + 1) + a * p
        log_p = np.log(np.where(known_p, p, 1.0))
        kl_now = (p * (log_p - np.log(np.where(known_p, now, 1.0)))).sum(axis=1)
        kl_base = (p * (log_p - np.log(np.where(known_p, base, 1.0)))).sum(axis=1, keepdims=True)
        gain = np.log(np.where(known_p, base + (1 - a) / (n_known + 1), 1.0)) - np.log(np.where(known_p, base, 1.0))
        kl_add = kl_base - p * gain  # rows x categories
        kl = np.where(categories >= 0, np.take_along_axis(kl_add, code, axis=1), kl_now[:, None])
        value = np.where(open_, (1.0 - weight) * relevance - weight * kl, -np.inf)
        pick = np.argmax(value, axis=1)  # the first best: ties go to the ranker's order
        live = open_[rows, pick]
        r, c = rows[live], pick[live]
        step_of[r, c] = step
        open_[r, c] = False
        picked = categories[r, c]
        has = picked >= 0
        counts[r[has], picked[has]] += 1
        n_known[r[has]] += 1
    key = np.where(np.isfinite(step_of), step_of, length + np.arange(width)[None, :])
    return _order_by_key(np.where(np.isnan(scores), np.inf, key))


def rerank_candidates(
    candidates: pd.DataFrame,
    settings: RerankSettings,
    *,
    length: int,
    categories: np.ndarray | None = None,
    target: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``candidates`` (one list's, grouped by ``customer_key``, each customer's best ``score``
    first) in the re-ranked order of ``settings``.

    ``long_tail`` reads :data:`POPULARITY_COLUMN` (missing: 0). ``calibrated`` needs
    ``categories`` (a code per candidate row, -1: none) and ``target`` (customers x codes: the
    customers' category counts); ``length`` is its number of greedy picks.
    """
    if settings.is_identity or candidates.empty:
        return candidates
    require_columns(candidates, "candidates", ("customer_key", "score"))
    customer = candidates["customer_key"].to_numpy()
    group, keys = pd.factorize(customer)
    place = candidates.groupby(group, sort=False).cumcount().to_numpy()
    pool = place < settings.pool
    width = min(settings.pool, int(place.max()) + 1)
    cells = (group[pool], place[pool])

    def padded(values: np.ndarray, fill: float) -> np.ndarray:
        out = np.full((len(keys), width), fill)
        out[cells] = values[pool]
        return out

    scores = padded(candidates["score"].to_numpy(dtype=float), np.nan)
    if settings.method == "long_tail":
        require_columns(candidates, "candidates", (POPULARITY_COLUMN,))
        popularity = np.nan_to_num(candidates[POPULARITY_COLUMN].to_numpy(dtype=float))
        order = long_tail_order(scores, padded(popularity, np.nan), settings.weight)
    else:
        if categories is None or target is None:
            raise SegrecError("calibrated re-ranking needs the candidates' categories and the customers' mix")
        codes = padded(np.asarray(categories, dtype=float), -1).astype(np.int64)
        n_codes = int(max(codes.max(initial=-1), max(target.columns, default=-1))) + 1
        mix = target.reindex(index=pd.Index(keys), columns=range(n_codes), fill_value=0.0).to_numpy(dtype=float)
        order = calibrated_order(scores, codes, mix, settings.weight, length)
    position = place.copy()
    new_place = np.empty_like(order)
    np.put_along_axis(new_place, order, np.arange(width)[None, :].repeat(len(keys), axis=0), axis=1)
    position[pool] = new_place[cells]
    return candidates.iloc[np.lexsort((position, group))]


def product_category_codes(product_ids: pd.Series, categories: pd.Series | None) -> np.ndarray:
    """A code per product id: the position of its category (``categories``: category per
    product_id) among the distinct categories, -1 without one; the same code for the same category
    in every batch, so mixes and lists compare."""
    names = pd.Index(categories.dropna().unique()) if categories is not None else pd.Index([])
    if len(names) == 0:
        return np.full(len(product_ids), -1, dtype=np.int64)
    return names.get_indexer(product_ids.map(categories))


def category_mix(customers: np.ndarray, categories: np.ndarray) -> pd.DataFrame:
    """Customers x category codes: how many of each customer's rows fall in each category (rows
    with code -1 left out); the target of :func:`calibrated_order`."""
    known = np.asarray(categories) >= 0
    if not known.any():
        return pd.DataFrame(index=pd.Index([], dtype=object))
    frame = pd.DataFrame({"customer_key": np.asarray(customers)[known], "code": np.asarray(categories)[known]})
    return frame.groupby(["customer_key", "code"]).size().unstack(fill_value=0).astype(float)
