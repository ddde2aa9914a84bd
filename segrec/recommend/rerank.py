"""Re-ranking: context, segment policies and the business rules every list obeys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from segrec.errors import SegrecError
from segrec.io import require_columns
from segrec.recommend._arrays import ordered_rows, top_k_rows
from segrec.recommend.baselines import segment_popularity_scores
from segrec.recommend.data import CONTEXT_COLUMNS, RecData, normalize_label

# Rule segment (normalized, see normalize_label) -> policy. High-value customers lean to
# premium and high-margin items, frequent buyers to complements of what they buy, browsers
# to trending items and new arrivals.
SEGMENT_POLICIES: dict[str, str] = {
    "high_value": "premium",
    "frequent_buyer": "complements",
    "browser": "discovery",
}
POLICIES: tuple[str, ...] = ("premium", "complements", "discovery")


def policy_flags(
    rule_segments: Sequence[Sequence[str]], policies: Mapping[str, str] = SEGMENT_POLICIES
) -> dict[str, np.ndarray]:
    """Which policy applies to which customer, from each customer's rule segments."""
    unknown = sorted(set(policies.values()) - set(POLICIES))
    if unknown:
        raise SegrecError(f"segment policies: unknown policy {unknown}; use {list(POLICIES)}")
    by_label = {normalize_label(label): policy for label, policy in policies.items()}
    flags = {policy: np.zeros(len(rule_segments), dtype=bool) for policy in POLICIES}
    for row, labels in enumerate(rule_segments):
        for label in labels:
            policy = by_label.get(normalize_label(label))
            if policy is not None:
                flags[policy][row] = True
    return flags


def premium_affinity(products: pd.DataFrame) -> np.ndarray:
    """How well a product suits high-value customers: half premium price band, half margin (0-1)."""
    premium = (products["price_band"] == "premium").to_numpy(dtype=float)
    return 0.5 * premium + 0.5 * products["margin"].to_numpy(dtype=float)


@dataclass(frozen=True)
class ContextLifts:
    """Per context column, the known values and a values x items log-lift table."""

    values: dict[str, pd.Index]
    log_lift: dict[str, np.ndarray]


def fit_context_lifts(
    binary: sp.csr_matrix,
    customers: pd.DataFrame,
    *,
    columns: Sequence[str] = CONTEXT_COLUMNS,
    prior_strength: float = 20.0,
) -> ContextLifts:
    """What sells to people in each context, relative to everybody.

    For a context value v of column c (say ``usual_device = mobile``) the lift of item i is
    the share of active customers with that value who interacted with i, shrunk toward the
    global share (see :func:`segment_popularity_scores`), divided by the global share.
    Items nobody touched have lift 1 (log 0).
    """
    values, log_lift = {}, {}
    for column in columns:
        codes, uniques = pd.factorize(customers[column], sort=True, use_na_sentinel=True)
        shares = segment_popularity_scores(binary, codes, len(uniques), prior_strength=prior_strength)
        overall = shares[-1]
        ratio = np.divide(shares[:-1], overall, out=np.ones_like(shares[:-1]), where=overall > 0)
        values[column] = pd.Index(uniques)
        log_lift[column] = np.log(np.maximum(ratio, 1e-12)).astype(np.float32)
    return ContextLifts(values=values, log_lift=log_lift)


def context_scores(lifts: ContextLifts, customers: pd.DataFrame) -> np.ndarray:
    """Mean log-lift over the context columns each customer has, clipped to [-1, 1].

    ``customers`` are the rows to score (aligned side table); a customer without any known
    context gets 0 everywhere, i.e. no re-ranking.
    """
    return _scores_of_codes(lifts, _context_codes(lifts, customers))


def context_index(lifts: ContextLifts, customers: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """:func:`context_scores` once per distinct context: the scores of each distinct combination
    of context values, and each customer's row in them (``table[rows]`` equals
    ``context_scores(lifts, customers)``). Why: a shop has a few hundred contexts and may have
    millions of customers, so scoring each customer's row again costs a pass per batch."""
    unique, rows = np.unique(_context_codes(lifts, customers), axis=0, return_inverse=True)
    return _scores_of_codes(lifts, unique), rows.reshape(-1)


def _context_codes(lifts: ContextLifts, customers: pd.DataFrame) -> np.ndarray:
    """Customers x context columns: the position of each customer's value (-1: unknown)."""
    codes = [lifts.values[column].get_indexer(pd.Index(customers[column].to_numpy(dtype=object)))
             for column in lifts.log_lift]
    return np.stack(codes, axis=1) if codes else np.zeros((len(customers), 0), dtype=np.int64)


def _scores_of_codes(lifts: ContextLifts, codes: np.ndarray) -> np.ndarray:
    n_items = next(iter(lifts.log_lift.values())).shape[1] if lifts.log_lift else 0
    total = np.zeros((len(codes), n_items), dtype=np.float32)
    known = np.zeros((len(codes), 1), dtype=np.float32)
    for position, table in enumerate(lifts.log_lift.values()):
        has = codes[:, position] >= 0
        total[has] += table[codes[has, position]]
        known[has] += 1
    total /= np.maximum(known, 1)
    return np.clip(total, -1.0, 1.0, out=total)


def repeat_purchase_categories(
    purchases: pd.DataFrame,
    products: pd.DataFrame,
    *,
    threshold: float = 0.2,
    min_pairs: int = 20,
    level: str = "category",
) -> pd.DataFrame:
    """Decide from the data which categories customers buy again.

    A (customer, product) pair is a re-purchase when the customer bought the product on at
    least two distinct days (several lines of one order are one day). A category is
    repeat-purchase when its share of re-purchase pairs exceeds ``threshold`` among at
    least ``min_pairs`` pairs (fewer pairs are not evidence enough: not repeat).

    Parameters
    ----------
    purchases : purchase events with ``customer_key``, ``product_id``, ``event_time``.
    products : ``product_id`` and the category column ``level``.

    Returns one row per category: ``level``, ``n_pairs``, ``n_repeat_pairs``,
    ``repurchase_rate``, ``is_repeat_purchase_category``.
    """
    require_columns(purchases, "purchases", ("customer_key", "product_id", "event_time"))
    require_columns(products, "products", ("product_id", level))
    days = pd.DataFrame(
        {
            "customer_key": purchases["customer_key"].to_numpy(dtype=object),
            "product_id": purchases["product_id"].to_numpy(dtype=object),
            "day": pd.to_datetime(purchases["event_time"]).dt.floor("D").to_numpy(),
        }
    ).dropna()
    pairs = days.drop_duplicates().groupby(["customer_key", "product_id"], sort=False).size()
    pairs = pairs.rename("n_days").reset_index()
    categories = products[["product_id", level]].drop_duplicates("product_id")
    pairs = pairs.merge(categories, on="product_id", how="inner").dropna(subset=[level])
    pairs["is_repeat"] = pairs["n_days"] >= 2
    out = pairs.groupby(level, sort=True).agg(
        n_pairs=("is_repeat", "size"), n_repeat_pairs=("is_repeat", "sum")
    ).reset_index()
    out["n_repeat_pairs"] = out["n_repeat_pairs"].astype(np.int64)
    out["repurchase_rate"] = out["n_repeat_pairs"] / out["n_pairs"]
    out["is_repeat_purchase_category"] = (out["repurchase_rate"] > threshold) & (out["n_pairs"] >= min_pairs)
    return out


# select_top_n under a diversity cap looks for each row's picks among its best CAP_PREFIX x n
# items first (at 19,047 products, the capped selection over the whole catalog was the slowest
# step of the hybrid's lists after the scores).
CAP_PREFIX = 4
# Caps up to this many items per category are found by successive row maxima (_best_by_maxima).
MAX_BY_MAXIMA = 8


def category_codes(products: pd.DataFrame, column: str = "category") -> np.ndarray:
    """Integer code per product for the diversity cap; -1 where the category is unknown."""
    codes, _ = pd.factorize(products[column], sort=True, use_na_sentinel=True)
    return codes


def eligible_items(data: RecData, user_rows: np.ndarray) -> np.ndarray:
    """Business rules as a rows x items mask: active products only, and nothing already
    bought unless its category is repeat-purchase."""
    active = data.products["is_active"].to_numpy(dtype=bool)
    repeat = data.products["is_repeat_purchase_category"].to_numpy(dtype=bool)
    eligible = np.repeat(active[None, :], len(user_rows), axis=0)
    # cleared at the bought cells only: a dense copy of the purchases is a pass more per row
    bought = data.purchased[user_rows]
    rows = np.repeat(np.arange(len(user_rows)), np.diff(bought.indptr))
    blocked = (bought.data > 0) & ~repeat[bought.indices]
    eligible[rows[blocked], bought.indices[blocked]] = False
    return eligible


def select_top_n(
    scores: np.ndarray,
    eligible: np.ndarray,
    categories: np.ndarray,
    n: int,
    max_per_category: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Best ``n`` eligible items per row with at most ``max_per_category`` per category.

    Items with an unknown category (code -1) are not capped. A row gets exactly ``n`` items
    whenever it has ``n`` eligible items: when the cap leaves it short (a small catalog, or a
    customer who bought most of it), the best remaining eligible items fill it regardless of
    category, because the list length is a promise and the cap a preference. A row with
    fewer eligible items is padded with item -1 and score NaN. Items are ordered by score;
    ties go to the lower item index.
    """
    if n < 1:
        raise SegrecError(f"n (list length) must be at least 1, got {n}")
    if max_per_category is not None and max_per_category < 1:
        raise SegrecError(f"max_per_category must be at least 1 or None, got {max_per_category}")
    masked = np.where(eligible, scores, -np.inf)
    if max_per_category is None:
        return _select_uncapped(masked, n)
    # Most rows are decided by their best CAP_PREFIX * n items, when the catalog is wider and the
    # cap lets n items through (see _capped_prefix); the other rows choose among a few candidates
    # per category (_capped_candidates), as every row does when the categories cannot fill a list.
    if CAP_PREFIX * n < masked.shape[1] and _cap_can_fill(categories, n, max_per_category):
        items, values, done = _capped_prefix(masked, categories, n, max_per_category)
    else:
        items, values = np.full((len(masked), n), -1, dtype=np.int64), np.full((len(masked), n), np.nan)
        done = np.zeros(len(masked), dtype=bool)
    rest = np.flatnonzero(~done)
    if len(rest):
        columns, scored = _capped_candidates(masked[rest], categories, n, max_per_category)
        items[rest], values[rest], _ = _select_ranked(columns, scored, categories, n, max_per_category)
    return items, values


def _cap_can_fill(categories: np.ndarray, n: int, cap: int) -> bool:
    """Whether the catalog has room for ``n`` items within the cap: ``cap`` per category plus
    every item of unknown category (-1)."""
    codes, counts = np.unique(categories, return_counts=True)
    return int(np.where(codes >= 0, np.minimum(counts, cap), counts).sum()) >= n


def _capped_prefix(
    masked: np.ndarray, categories: np.ndarray, n: int, cap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`select_top_n` of the rows whose best ``CAP_PREFIX * n`` items hold ``n`` allowed
    ones, and which rows those are (the others get -1 and NaN). Whether an item is within the
    cap depends only on the items ranked above it, so the prefix knows which of its items are
    allowed, and the list is the first ``n`` of them."""
    columns, scored = top_k_rows(masked, CAP_PREFIX * n)
    items, values, n_allowed = _select_ranked(columns, scored, categories, n, cap, fill=False)
    return items, values, n_allowed >= n


def _capped_candidates(masked: np.ndarray, categories: np.ndarray, n: int, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the few columns its capped list is made of, best first (ties: lower column),
    each once, then -inf padding: the ``cap`` best of each category (what the cap allows), the
    ``n`` best of unknown category, and the ``2 n`` best of all (the fillers, when the allowed
    items are fewer than ``n``). Scans each column once, where ranking the allowed items of the
    whole catalog took several passes."""
    parts = [top_k_rows(masked, 2 * n)[0]]
    order = np.argsort(categories, kind="stable")
    by_category = masked[:, order]  # each category's columns side by side, in column order
    starts = np.r_[0, np.flatnonzero(np.diff(categories[order])) + 1, len(order)]
    for start, end in zip(starts[:-1], starts[1:], strict=True):
        columns = order[start:end]
        k = n if categories[columns[0]] < 0 else cap
        if len(columns) <= k:
            parts.append(np.broadcast_to(columns, (len(masked), len(columns))))
        elif k <= MAX_BY_MAXIMA:
            parts.append(columns[_best_by_maxima(by_category[:, start:end], k)])
        else:
            parts.append(columns[top_k_rows(by_category[:, start:end], k)[0]])
    candidates = np.sort(np.concatenate(parts, axis=1), axis=1)
    scored = np.take_along_axis(masked, candidates, axis=1)
    scored[:, 1:][candidates[:, 1:] == candidates[:, :-1]] = -np.inf  # a column twice: once
    order = np.lexsort((candidates, -scored), axis=1)
    return np.take_along_axis(candidates, order, axis=1), np.take_along_axis(scored, order, axis=1)


def _best_by_maxima(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of ``k`` largest entries per row (ties: the lower position), found as ``k``
    successive row maxima, each cleared (to -inf, in ``scores``: the caller's copy) once taken;
    a row with fewer than ``k`` finite entries repeats positions. For the small ``k`` of a
    category cap, ``k`` passes of argmax cost less than a partition and its tie check."""
    picks = np.empty((len(scores), k), dtype=np.int64)
    rows = np.arange(len(scores))
    for i in range(k):
        picks[:, i] = np.argmax(scores, axis=1)
        scores[rows, picks[:, i]] = -np.inf
    return picks


def _select_ranked(
    columns: np.ndarray, scored: np.ndarray, categories: np.ndarray, n: int, cap: int, fill: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`select_top_n` of rows given as their ranked items (``columns`` and ``scored``,
    best first, -inf for not eligible, which come last): the first ``n`` allowed items (within
    the cap), then, where they are fewer and ``fill``, the best others until ``n``, the whole
    ordered by score (allowed first among equal scores, then by rank); a row that cannot be
    filled is padded with -1 and NaN. Also returns each row's number of allowed items."""
    codes = categories[columns]
    # the number of better items of the same category, per position: a stable sort by category
    # keeps the rank order within a category
    by_category = np.argsort(codes, axis=1, kind="stable")
    sorted_codes = np.take_along_axis(codes, by_category, axis=1)
    position = np.broadcast_to(np.arange(codes.shape[1]), codes.shape)
    starts = np.ones(codes.shape, dtype=bool)
    starts[:, 1:] = sorted_codes[:, 1:] != sorted_codes[:, :-1]
    better = position - np.maximum.accumulate(np.where(starts, position, 0), axis=1)
    np.put_along_axis(better, by_category, better.copy(), axis=1)
    eligible = np.isfinite(scored)
    allowed = eligible & ((codes < 0) | (better < cap))
    n_allowed = allowed.sum(axis=1)
    items = np.full((len(columns), n), -1, dtype=np.int64)
    values = np.full((len(columns), n), np.nan)
    full = n_allowed >= n
    take = allowed & (np.cumsum(allowed, axis=1) <= n) & full[:, None]
    items[full], values[full] = columns[take].reshape(-1, n), scored[take].reshape(-1, n)
    short = np.flatnonzero(~full) if fill else np.zeros(0, dtype=np.int64)
    if len(short):
        other = eligible[short] & ~allowed[short]
        filler = other & (np.cumsum(other, axis=1) <= (n - n_allowed[short])[:, None])
        chosen = allowed[short] | filler
        order = np.lexsort((position[short], filler, np.where(chosen, -scored[short], np.inf)), axis=1)[:, :n]
        kept = np.take_along_axis(chosen, order, axis=1)
        width = order.shape[1]  # fewer than n when the catalog is
        items[short, :width] = np.where(kept, np.take_along_axis(columns[short], order, axis=1), -1)
        values[short, :width] = np.where(kept, np.take_along_axis(scored[short], order, axis=1), np.nan)
    return items, values, n_allowed


def _select_uncapped(masked: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`select_top_n` without a cap (``masked``: -inf where not eligible)."""
    eligible = np.isfinite(masked)
    items = np.full((len(masked), n), -1, dtype=np.int64)
    values = np.full((len(masked), n), np.nan)
    # A row with at most n eligible items takes them all: no ranking needed to choose them.
    few = eligible.sum(axis=1) <= n
    many = np.flatnonzero(~few)
    if len(many):
        items[many], values[many] = top_k_rows(masked[many], n)
    few = np.flatnonzero(few)
    if len(few):
        items[few], values[few] = ordered_rows(*_all_eligible(masked[few], eligible[few], n))
    return items, values


def _all_eligible(masked: np.ndarray, eligible: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's eligible items (at most ``n``) in column order, padded with -1 and NaN."""
    rows, columns = np.nonzero(eligible)
    position = np.arange(len(rows)) - np.searchsorted(rows, rows)
    items = np.full((len(masked), n), -1, dtype=np.int64)
    values = np.full((len(masked), n), np.nan)
    items[rows, position] = columns
    values[rows, position] = masked[rows, columns]
    return items, values


def apply_business_rules(
    scores: np.ndarray, data: RecData, user_rows: np.ndarray, n: int, max_per_category: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Mask ineligible items and pick the top ``n`` per row under the diversity cap."""
    categories = category_codes(data.products)
    return select_top_n(scores, eligible_items(data, user_rows), categories, n, max_per_category)
