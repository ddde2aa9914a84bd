"""The served lists of the learned ranker: what ``int_recommendation__ranker_lists`` calls.

The moments of ``int_recommendation__windows`` give one candidate set each, built only from
what was known then (:func:`segrec.recommend.candidates.candidate_pairs`, plus the hybrid's
list at that moment as one more source), labelled by what customers did in the window that
follows (``int_recommendation__holdout_truth``):

==============================  ====================================================
cutoff                          used for
==============================  ====================================================
``latest``                      the served lists (ranker trained on ``test``,
                                ``validation``, ``train_1``, ...)
``test``                        lists judged on the test window (ranker trained on
                                ``validation``, ``train_1``, ``train_2``, ...)
``validation``, ``train_<k>``   training only
==============================  ====================================================

Each ranker learns from ``train_windows`` windows (var recommendation_ranker), so the
offline figure of ``recommendation_metrics`` (strategies ``ranker_*``) measures exactly the
procedure that produces the served lists, one window earlier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from segrec.errors import SegrecError
from segrec.io import require_columns
from segrec.recommend.candidates import (
    PURCHASE_COLUMNS,
    CandidateConfig,
    candidate_pairs,
    label_pairs,
    own_pair_stats,
    product_stats,
)
from segrec.recommend.evaluation import KS
from segrec.recommend.ranker import LIST_TYPES, CandidateRanker, ranked_lists
from segrec.recommend.reasons import FIXED_REASONS
from segrec.versioning import content_version


def holdout_moments(windows: pd.Series) -> dict[str, pd.Timestamp]:
    """The cutoffs of ``int_recommendation__windows`` from latest to earliest: ``latest`` (the
    serving moment, inclusive), ``test``, ``validation``, then ``train_1``, ``train_2``, ... (the
    ranker's earlier training windows, columns ``train_<k>_start``)."""
    moments = {
        # the serving cutoff reads everything up to and including the as-of moment
        "latest": pd.Timestamp(windows["as_of_time"]) + pd.Timedelta(microseconds=1),
        "test": pd.Timestamp(windows["test_start"]),
        "validation": pd.Timestamp(windows["validation_start"]),
    }
    k = 1
    while f"train_{k}_start" in windows.index:
        moments[f"train_{k}"] = pd.Timestamp(windows[f"train_{k}_start"])
        k += 1
    return moments

# The rules a user may set on re-buys: "learned" lets the ranker put own products anywhere;
# "repeat_categories" keeps own products only in repeat-purchase categories (the old switch).
REPURCHASE_RULES: tuple[str, ...] = ("learned", "repeat_categories")
# Keys of the dbt var recommendation_ranker and the CandidateRanker / CandidateConfig field each sets.
CANDIDATE_KEYS: tuple[str, ...] = ("n_own", "n_als", "n_cooc", "n_popular", "n_trending", "min_trending_buyers")
RANKER_KEYS: tuple[str, ...] = ("model", "max_negatives_per_positive", "customer_weighting")
RANKER_DEFAULTS: dict[str, Any] = {
    "model": "ensemble", "max_negatives_per_positive": 5.0, "customer_weighting": False,
    "n_own": 200, "n_als": 50, "n_cooc": 50, "n_popular": 50, "n_trending": 20, "min_trending_buyers": 5,
    "n_hybrid": 50, "train_windows": 3, "repurchase_rule": "learned", "random_state": 0,
}
# Which strategy name a purchase-based source carries in the lists (as in the hybrid's rows).
SOURCE_STRATEGIES: dict[str, str] = {
    "src_als": "als", "src_cooc": "cooccurrence", "src_popular": "popularity", "src_trending": "trending",
}
RANKER_LISTS_SCHEMA = pa.schema([
    ("cutoff", pa.string()), ("customer_key", pa.string()), ("list_type", pa.string()), ("rank", pa.int64()),
    ("product_id", pa.string()), ("score", pa.float64()), ("strategy", pa.string()), ("reason", pa.string()),
    ("ranker_status", pa.string()), ("model_version", pa.string()),
])
HYBRID_CANDIDATES_SCHEMA = pa.schema([
    ("cutoff", pa.string()), ("customer_key", pa.string()), ("product_id", pa.string()),
    ("hybrid_score", pa.float64()), ("hybrid_rank", pa.int64()), ("strategy", pa.string()), ("reason", pa.string()),
])


def ranker_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The dbt var ``recommendation_ranker`` checked, with defaults for keys it leaves out."""
    unknown = sorted(set(settings) - set(RANKER_DEFAULTS))
    if unknown:
        raise SegrecError(f"var recommendation_ranker: unknown key(s) {unknown}; use {sorted(RANKER_DEFAULTS)}")
    merged = RANKER_DEFAULTS | dict(settings)
    if merged["repurchase_rule"] not in REPURCHASE_RULES:
        raise SegrecError(
            f"var recommendation_ranker.repurchase_rule: {merged['repurchase_rule']!r}; "
            f"use one of {list(REPURCHASE_RULES)}"
        )
    for key in (*CANDIDATE_KEYS, "n_hybrid", "train_windows"):
        least = 1 if key == "train_windows" else 0
        if not isinstance(merged[key], int) or isinstance(merged[key], bool) or merged[key] < least:
            raise SegrecError(
                f"var recommendation_ranker.{key} must be a whole number >= {least}, got {merged[key]!r}")
    return merged


def buy_again_lists(purchases: pd.DataFrame, cutoff: pd.Timestamp, *, n: int) -> pd.DataFrame:
    """The skeptic's baseline: each customer's own past products, most purchase days first,
    ties by the product's buyers in the last 30 days, then product id. Columns
    ``customer_key``, ``rank``, ``product_id``."""
    require_columns(purchases, "purchases", PURCHASE_COLUMNS)
    history = purchases[purchases["event_time"] < pd.Timestamp(cutoff)]
    if history.empty:
        return pd.DataFrame({"customer_key": [], "rank": [], "product_id": []})
    own = own_pair_stats(history, cutoff)
    pop = product_stats(history, cutoff, windows=(30,)).set_index("product_id")["pop_30d"]
    own = own.assign(pop=own["product_id"].map(pop).to_numpy())
    own = own.sort_values(["customer_key", "own_days", "pop", "product_id"], ascending=[True, False, False, True],
                          kind="stable")
    top = own.groupby("customer_key", sort=False).head(n)
    return top.assign(rank=top.groupby("customer_key", sort=False).cumcount() + 1)[
        ["customer_key", "rank", "product_id"]].reset_index(drop=True)


def fallback_scores(pairs: pd.DataFrame) -> np.ndarray:
    """The order used when no ranker can be trained (a window without any or without only
    purchases): own products first by purchase days, then the hybrid's order."""
    own = pairs["own_days"].to_numpy(dtype=float)
    hybrid = 1.0 / (1.0 + pairs["hybrid_rank"].to_numpy(dtype=float))
    return np.where(own > 0, 1.0 + own, hybrid)


def _reasons(lists: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Strategy and reason of each listed pair: own products are re-buys, the hybrid keeps
    its own strategy and reason, other sources get theirs."""
    is_own = lists["is_own"].to_numpy() > 0
    source = np.full(len(lists), "popularity", dtype=object)
    for column, name in reversed(SOURCE_STRATEGIES.items()):  # the first listed source wins
        source = np.where(lists[column].to_numpy() > 0, name, source)
    from_hybrid = lists["hybrid_strategy"].notna().to_numpy()
    strategy = np.where(is_own, "buy_again", np.where(from_hybrid, lists["hybrid_strategy"], source))
    days = lists["own_days"].fillna(0).astype(int).astype(str).to_numpy(dtype=object)
    ago = np.floor(lists["days_since_last_own"].fillna(0)).astype(int).astype(str).to_numpy(dtype=object)
    rebuy = "Buy it again: you bought it on " + days + " day(s), last " + ago + " days ago"
    fixed = pd.Series(strategy).map(FIXED_REASONS | {"als": "Picked for you",
                                                     "cooccurrence": "Often bought with your purchases"})
    hybrid_reason = lists["hybrid_reason"].to_numpy(dtype=object)
    reason = np.where(is_own, rebuy, np.where(pd.notna(hybrid_reason), hybrid_reason, fixed.fillna("Picked for you")))
    return strategy.astype(object), reason.astype(object)


def _cutoff_pairs(
    purchases: pd.DataFrame,
    cutoff: pd.Timestamp,
    hybrid: pd.DataFrame,
    products: pd.DataFrame,
    customers: list[object],
    config: CandidateConfig,
    repurchase_rule: str,
    random_state: int,
) -> pd.DataFrame:
    """The candidate pairs of one cutoff, active products only, the re-buy rule applied."""
    extra = hybrid[["customer_key", "product_id", "hybrid_score", "hybrid_rank"]] if len(hybrid) else None
    if extra is None and not (purchases["event_time"] < cutoff).any():
        return pd.DataFrame()
    pairs = candidate_pairs(purchases, cutoff, customers=customers, config=config, extra=extra,
                            random_state=random_state)
    active = products.loc[products["is_active"].astype(bool), "product_id"]
    pairs = pairs[pairs["product_id"].isin(set(active))]
    if repurchase_rule == "repeat_categories":
        repeat = set(products.loc[products["is_repeat_purchase_category"].astype(bool), "product_id"])
        pairs = pairs[(pairs["is_own"] == 0) | pairs["product_id"].isin(repeat)]
    described = hybrid[["customer_key", "product_id", "strategy", "reason"]].rename(
        columns={"strategy": "hybrid_strategy", "reason": "hybrid_reason"})
    return pairs.merge(described, on=["customer_key", "product_id"], how="left").reset_index(drop=True)


def _fit_or_none(ranker: CandidateRanker, pairs: pd.DataFrame, labels: np.ndarray) -> CandidateRanker | None:
    """The fitted ranker, or None when the window cannot teach it (no pairs, one class, or no
    feature observed)."""
    if len(pairs) == 0 or labels.min(initial=1) == labels.max(initial=0):
        return None
    try:
        return ranker.fit(pairs, labels)
    except SegrecError as error:
        print(f"ranker: {error}; lists in the fallback order")
        return None


def ranker_lists(
    purchases: pd.DataFrame,
    windows: pd.Series,
    hybrid: pd.DataFrame,
    truth: pd.DataFrame,
    products: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    settings: Mapping[str, Any],
    list_length: int,
    horizon_days: int,
    max_per_category: int | None = None,
) -> pd.DataFrame:
    """The ``int_recommendation__ranker_lists`` rows (:data:`RANKER_LISTS_SCHEMA`).

    ``purchases``: purchase lines (PURCHASE_COLUMNS); ``windows``: validation_start,
    test_start, as_of_time; ``hybrid``: the hybrid candidates per cutoff
    (:data:`HYBRID_CANDIDATES_SCHEMA`); ``truth``: cutoff, customer_key, product_id of the
    hold-out windows; ``products``: cutoff, product_id, is_active, category,
    is_repeat_purchase_category; ``customers``: customer_key of everybody to list.
    Lists for cutoffs ``test`` (judged offline at every k of evaluation.KS, so at least
    max(KS) long) and ``latest`` (served, ``list_length`` long), each list type,
    ``ranker_status`` = ``trained`` or ``fallback`` (no window to learn from).
    """
    settings = ranker_settings(settings)
    require_columns(truth, "hold-out truth", ("cutoff", "customer_key", "product_id"))
    config = replace(CandidateConfig(), horizon_days=horizon_days,
                     **{key: settings[key] for key in CANDIDATE_KEYS})
    moments = holdout_moments(windows)
    keys = list(customers["customer_key"])
    pairs = {}
    for cutoff, moment in moments.items():
        chosen = hybrid[hybrid["cutoff"] == cutoff]
        pairs[cutoff] = _cutoff_pairs(
            purchases, moment, chosen, products[products["cutoff"] == cutoff], keys, config,
            settings["repurchase_rule"], settings["random_state"],
        )
    params = {key: settings[key] for key in RANKER_KEYS} | {"random_state": settings["random_state"]}
    order = list(moments)  # latest, test, validation, train_1, ...: each cutoff learns from the next ones
    out = []
    for position, serve in enumerate(order[:2]):
        if pairs[serve].empty:
            continue
        # the windows that ended by the served cutoff, latest first, with what happened in them
        train = [c for c in order[position + 1:position + 1 + settings["train_windows"]]
                 if moments[c] < moments[serve] and len(pairs[c])]
        frames = [pairs[c] for c in train]
        labels = np.concatenate([label_pairs(pairs[c], truth[truth["cutoff"] == c]) for c in train]) if train \
            else np.zeros(0, dtype=np.int8)
        training = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        model = _fit_or_none(CandidateRanker(**params), training, labels)
        scores = fallback_scores(pairs[serve]) if model is None else model.predict(pairs[serve])
        columns = ["customer_key", "product_id", "is_own", "own_days", "days_since_last_own",
                   *SOURCE_STRATEGIES, "hybrid_strategy", "hybrid_reason"]
        categories = products[products["cutoff"] == serve].set_index("product_id")["category"]
        length = list_length if serve == "latest" else max(list_length, *KS)
        lists = ranked_lists(pairs[serve][columns].assign(reason=None), scores, k=length,
                             categories=categories, max_per_category=max_per_category)
        strategy, reason = _reasons(lists)
        version = content_version(
            params, serve, [str(moments[c]) for c in [serve, *train]], np.asarray(labels, dtype=np.int8),
            "\x1f".join(training["customer_key"].astype(str)) if len(training) else "",
        )
        out.append(pd.DataFrame({
            "cutoff": serve,
            "customer_key": lists["customer_key"].astype(str).to_numpy(),
            "list_type": lists["list_type"].to_numpy(),
            "rank": lists["rank"].to_numpy(dtype=np.int64),
            "product_id": lists["product_id"].astype(str).to_numpy(),
            "score": lists["score"].to_numpy(dtype=float),
            "strategy": strategy,
            "reason": reason,
            "ranker_status": "fallback" if model is None else "trained",
            "model_version": version,
        }))
    if not out:
        return pd.DataFrame({field.name: pd.Series([], dtype=object) for field in RANKER_LISTS_SCHEMA})
    return pd.concat(out, ignore_index=True)


def ranker_strategy_lists(lists: pd.DataFrame, cutoff: str = "test") -> dict[str, pd.DataFrame]:
    """The ranker's lists of one cutoff as evaluation strategies ``ranker_<list_type>``."""
    chosen = lists[lists["cutoff"] == cutoff]
    return {f"ranker_{t}": chosen[chosen["list_type"] == t][["customer_key", "rank", "product_id"]]
            for t in LIST_TYPES}
