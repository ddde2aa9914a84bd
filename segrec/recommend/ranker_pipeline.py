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

import functools
import json
import pickle
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
from threadpoolctl import threadpool_limits

from segrec.errors import SegrecError
from segrec.io import require_columns
from segrec.overlap import made_ahead
from segrec.recommend._arrays import text_in
from segrec.recommend.als import ALSFactory
from segrec.recommend.bias_rerank import POPULARITY_COLUMN, RerankSettings, rerank_settings
from segrec.recommend.candidates import (
    PURCHASE_COLUMNS,
    CandidateConfig,
    CandidateGenerator,
    Candidates,
    CutoffRows,
    customer_slice,
    label_pairs,
    own_pair_stats,
    product_stats,
    sorted_by_customer,
)
from segrec.recommend.evaluation import KS
from segrec.recommend.pipeline import evaluated_keys, sorted_text_keys
from segrec.recommend.ranker import LIST_TYPES, CandidateRanker, negative_sample, ranked_lists
from segrec.recommend.reasons import FIXED_REASONS
from segrec.schemas import REPEATED_TEXT, typed_table
from segrec.versioning import content_version, stable_floats


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
RANKER_KEYS: tuple[str, ...] = ("model", "max_negatives_per_positive", "customer_weighting", "shortlist")
RANKER_DEFAULTS: dict[str, Any] = {
    "model": "ensemble", "max_negatives_per_positive": 5.0, "customer_weighting": False,
    "n_own": 200, "n_als": 50, "n_cooc": 50, "n_popular": 50, "n_trending": 20, "min_trending_buyers": 5,
    "n_hybrid": 50, "train_windows": 3, "repurchase_rule": "learned", "random_state": 0, "shortlist": 50,
}
# Which strategy name a purchase-based source carries in the lists (as in the hybrid's rows).
SOURCE_STRATEGIES: dict[str, str] = {
    "src_als": "als", "src_cooc": "cooccurrence", "src_popular": "popularity", "src_trending": "trending",
}
# Customers whose candidate pairs are built, scored and listed at a time: bounds the memory
# of the ranker's pairs (about 300 candidates x 50 columns per customer) whatever the shop's size,
# at most BATCH_CUSTOMERS and at most BATCH_CELLS customers x catalog cells: each batch scores its
# customers against the whole catalog (ALS, co-occurrence; 2,000 x 19,000 products took ~1 GB).
BATCH_CUSTOMERS = 2_000
BATCH_CELLS = 8_000_000
# Only customer_key, product_id, rank, score and reason vary row by row: the rest is REPEATED_TEXT
# (data_version and parameters are one value per cutoff), so millions of list rows do not copy it.
RANKER_LISTS_SCHEMA = pa.schema([
    ("cutoff", REPEATED_TEXT), ("customer_key", pa.string()), ("list_type", REPEATED_TEXT), ("rank", pa.int64()),
    ("product_id", pa.string()), ("score", pa.float64()), ("strategy", REPEATED_TEXT), ("reason", pa.string()),
    ("ranker_status", REPEATED_TEXT), ("model_version", REPEATED_TEXT), ("data_version", REPEATED_TEXT),
    ("parameters", REPEATED_TEXT),
])


def holdout_cutoffs(windows: pd.Series) -> list[str]:
    """The hold-out cutoffs of :func:`holdout_moments` (all but ``latest``) in text order, the
    order int_recommendation__hybrid_holdout writes them in."""
    return sorted(c for c in holdout_moments(windows) if c != "latest")


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
    # the whole-number settings and their least value; shortlist may also be null (no shortlist)
    least = {key: 0 for key in (*CANDIDATE_KEYS, "n_hybrid")} | {"train_windows": 1, "shortlist": 1}
    for key, low in least.items():
        value = merged[key]
        if key == "shortlist" and value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            null = " or null" if key == "shortlist" else ""
            raise SegrecError(f"var recommendation_ranker.{key} must be a whole number >= {low}{null}, got {value!r}")
    return merged


def training_data_version(moments: Sequence[pd.Timestamp], training: pd.DataFrame, labels: np.ndarray) -> str:
    """16 hex characters of a SHA-256 over a ranker's training input: the moments of the windows
    it learned from, the labelled pairs (columns and values, floats as
    :func:`segrec.versioning.stable_floats`) and their labels. The same windows and pairs give the
    same version, whatever the parameters."""
    # column by column: a rounded copy of one column at a time, not of the whole training frame
    columns = [
        pd.util.hash_array(stable_floats(training[c].to_numpy(dtype=float)))
        if pd.api.types.is_float_dtype(training[c])
        else pd.util.hash_pandas_object(training[c], index=False).to_numpy()
        for c in training.columns
    ]
    return content_version([str(m) for m in moments], [str(c) for c in training.columns], *columns,
                           np.asarray(labels, dtype=np.int8))


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


def _cutoff_candidates(
    generator: CandidateGenerator,
    batch: np.ndarray,
    hybrid: pd.DataFrame,
    active: pa.Array,
    rebuy_products: pa.Array | None,
) -> tuple[Candidates | None, np.ndarray]:
    """The candidates of one batch of customers at one cutoff (``hybrid``: that cutoff's hybrid
    lists of at least the batch's customers; None when there are none) and the mask of those
    that stay: products in ``active`` only, and own products only in ``rebuy_products`` when
    given (the re-buy rule repeat_categories)."""
    chosen = _rows_where(hybrid, text_in(hybrid["customer_key"], batch))
    # the hybrid's strategy and reason ride along with its candidates (one merge, in the features)
    extra = chosen[["customer_key", "product_id", "hybrid_score", "hybrid_rank", "strategy", "reason"]].rename(
        columns={"strategy": "hybrid_strategy", "reason": "hybrid_reason"}) if len(chosen) else None
    if extra is None and not generator.has_history_:
        return None, np.zeros(0, dtype=bool)
    found = generator.candidates(batch, extra)
    keep = text_in(found.pairs["product_id"], active)
    if rebuy_products is not None:
        keep &= ~generator.owned(found.pairs) | text_in(found.pairs["product_id"], rebuy_products)
    return found, keep


def _pair_rows(generator: CandidateGenerator, found: Candidates | None, keep: np.ndarray) -> pd.DataFrame:
    """The features of the ``found`` candidates where ``keep``, with the hybrid's strategy and
    reason (missing without hybrid candidates)."""
    if found is None:
        return pd.DataFrame()
    pairs = generator.features(found, None if keep.all() else keep)
    return pairs if found.extra is not None else pairs.assign(hybrid_strategy=None, hybrid_reason=None)


def _rows_where(frame: pd.DataFrame, mask: pd.Series | np.ndarray) -> pd.DataFrame:
    """``frame[mask]``, without copying a wide frame when every row is kept (the usual case)."""
    return frame if mask.all() else frame[mask]


_NO_PRODUCTS = pa.array([], type=pa.string())


def _flagged_products(products: pd.DataFrame, flag: str) -> pa.Array:
    """The product_id of the ``products`` rows whose ``flag`` is true (for :func:`text_in`)."""
    return pa.array(products.loc[products[flag].astype(bool), "product_id"].astype(str).to_numpy(dtype=object),
                    type=pa.string())


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


def batch_customers(n_products: int) -> int:
    """Customers per batch for a catalog of ``n_products`` (:data:`BATCH_CUSTOMERS`, :data:`BATCH_CELLS`)."""
    return max(1, min(BATCH_CUSTOMERS, BATCH_CELLS // max(n_products, 1)))


def customer_batches(keys: Sequence[object], batch_size: int) -> list[np.ndarray]:
    """``keys`` as sorted strings, without repeats, cut into consecutive batches of at most
    ``batch_size``: each batch is a key range, so frames sorted by customer slice cheaply."""
    if batch_size < 1:
        raise SegrecError(f"batch_size must be >= 1, got {batch_size}")
    ordered = sorted_text_keys(keys)
    return [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]


class _Cutoffs:
    """The per-cutoff inputs of :func:`ranker_lists`: a fitted :class:`CandidateGenerator`
    (made once, on first use), the hybrid lists and products of the cutoff, and the labelled,
    negative-subsampled training pairs of a window (made once, shared by both served cutoffs)."""

    def __init__(self, purchases: pd.DataFrame, moments: dict[str, pd.Timestamp], hybrid: pa.Table | pd.DataFrame,
                 truth: pd.DataFrame, products: pd.DataFrame, config: CandidateConfig,
                 settings: Mapping[str, Any], als_factory: ALSFactory | None = None) -> None:
        self.purchases, self.moments, self.config, self.settings = purchases, moments, config, settings
        self.als_factory = als_factory
        self.hybrid = CutoffRows(hybrid)
        # sorted by customer: a batch labels its pairs against its own customers' slice
        self.truth = rows_by_cutoff(truth, "hold-out truth")
        # the product sets every batch of a cutoff filters by, made once per cutoff (re-buys are
        # limited only under the rule repeat_categories)
        by_cutoff = dict(iter(products.groupby("cutoff", sort=False)))
        self.active = {c: _flagged_products(part, "is_active") for c, part in by_cutoff.items()}
        self.rebuy_products = None if settings["repurchase_rule"] != "repeat_categories" else {
            c: _flagged_products(part, "is_repeat_purchase_category") for c, part in by_cutoff.items()}
        self._generators: dict[str, CandidateGenerator] = {}
        self.training: dict[str, tuple[pd.DataFrame, np.ndarray]] = {}

    def generator(self, cutoff: str) -> CandidateGenerator:
        if cutoff not in self._generators:
            self._generators[cutoff] = CandidateGenerator(self.config, random_state=self.settings["random_state"],
                                                          als_factory=self.als_factory) \
                .fit(self.purchases, self.moments[cutoff])
        return self._generators[cutoff]

    def keep_only(self, cutoff: str) -> None:
        """Free the generators of every other cutoff: once a window's training pairs are made,
        only the served cutoff's generator is asked again (each holds an ALS and the items x
        items co-occurrence of its window)."""
        self._generators = {c: g for c, g in self._generators.items() if c == cutoff}

    def candidates(self, cutoff: str, batch: np.ndarray) -> tuple[Candidates | None, np.ndarray]:
        hybrid = self.hybrid.rows(cutoff, batch[0], batch[-1])  # batches are sorted, never empty
        rebuy_products = None if self.rebuy_products is None else self.rebuy_products.get(cutoff, _NO_PRODUCTS)
        return _cutoff_candidates(self.generator(cutoff), batch, hybrid, self.active.get(cutoff, _NO_PRODUCTS),
                                  rebuy_products)

    def pairs(self, cutoff: str, batch: np.ndarray) -> pd.DataFrame:
        """The candidate pairs of a batch with their features (to score)."""
        return _pair_rows(self.generator(cutoff), *self.candidates(cutoff, batch))

    def labelled(self, cutoff: str, batch: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        """The pairs of a batch a ranker learns from: labelled by the cutoff's window, negatives
        subsampled (as the ranker would), and only those kept get their features (1 in 16 of
        the pairs at 1M events)."""
        found, keep = self.candidates(cutoff, batch)
        if found is None or not keep.any():
            return pd.DataFrame(), np.zeros(0, dtype=np.int8)
        keys = found.pairs.loc[keep, ["customer_key", "product_id"]].reset_index(drop=True)
        truth = self.truth.get(cutoff)
        if truth is None:
            truth = pd.DataFrame({"customer_key": [], "product_id": []})
        else:
            truth = customer_slice(truth, keys["customer_key"].min(), keys["customer_key"].max())
        labels = label_pairs(keys, truth)
        sampled = negative_sample(keys, labels, self.settings["max_negatives_per_positive"],
                                  self.settings["random_state"], salt=cutoff)
        chosen = np.zeros(len(keep), dtype=bool)
        chosen[np.flatnonzero(keep)[sampled]] = True
        return _pair_rows(self.generator(cutoff), found, chosen), labels[sampled]

    def train_window(self, cutoff: str, batches: list[np.ndarray]) -> tuple[pd.DataFrame, np.ndarray]:
        if cutoff not in self.training:
            parts = [self.labelled(cutoff, batch) for batch in batches]
            self.training[cutoff] = _stacked(parts)
        return self.training[cutoff]


def _stacked(parts: Sequence[tuple[pd.DataFrame, np.ndarray]]) -> tuple[pd.DataFrame, np.ndarray]:
    parts = [(frame, labels) for frame, labels in parts if len(frame)]
    if not parts:
        return pd.DataFrame(), np.zeros(0, dtype=np.int8)
    return pd.concat([f for f, _ in parts], ignore_index=True), np.concatenate([lab for _, lab in parts])


def _batch_lists(pairs: pd.DataFrame, scores: np.ndarray, *, length: int, categories: pd.Series,
                 max_per_category: int | None, rerank: RerankSettings | None = None,
                 history: pd.DataFrame | None = None) -> pd.DataFrame:
    """The three list kinds of one batch of scored pairs, with strategy and reason."""
    columns = ["customer_key", "product_id", "is_own", "own_days", "days_since_last_own", POPULARITY_COLUMN,
               *SOURCE_STRATEGIES, "hybrid_strategy", "hybrid_reason"]
    lists = ranked_lists(pairs[columns].assign(reason=None), scores, k=length,
                         categories=categories, max_per_category=max_per_category, rerank=rerank, history=history)
    strategy, reason = _reasons(lists)
    return pd.DataFrame({
        "customer_key": lists["customer_key"].astype(str).to_numpy(),
        "list_type": lists["list_type"].to_numpy(),
        "rank": lists["rank"].to_numpy(dtype=np.int64),
        "product_id": lists["product_id"].astype(str).to_numpy(),
        "score": lists["score"].to_numpy(dtype=float),
        "strategy": strategy,
        "reason": reason,
    })


@dataclass(frozen=True)
class ScoredBatch:
    """One batch of customers' candidate pairs at a served cutoff with the ranker's scores."""

    cutoff: str
    pairs: pd.DataFrame
    scores: np.ndarray
    ranker_status: str
    model_version: str
    data_version: str  # :func:`training_data_version` of what the ranker learned from


class RankerInputs(NamedTuple):
    """The tables the ranker's lists are made from (see :func:`ranker_lists`)."""

    purchases: pd.DataFrame
    windows: pd.Series
    hybrid: pa.Table | pd.DataFrame
    truth: pd.DataFrame | None  # the hold-out purchases the rankers learn from (None: listing only)
    products: pd.DataFrame
    customers: pd.DataFrame


# The cutoffs a ranker serves lists for: test (judged offline) and latest (served).
SERVED_CUTOFFS: tuple[str, ...] = ("test", "latest")
# One row per served cutoff: what int_recommendation__ranker_fits stores for the list models.
RANKER_FITS_SCHEMA = pa.schema([
    ("cutoff", pa.string()), ("ranker_status", pa.string()), ("model_version", pa.string()),
    ("data_version", pa.string()), ("ranker", pa.binary()),
])


@dataclass(frozen=True)
class FittedRanker:
    """The ranker of one served cutoff, with its versions; ``model`` None: the fallback order
    (:func:`fallback_scores`), the window had nothing to learn from."""

    cutoff: str
    model: CandidateRanker | None
    model_version: str
    data_version: str  # :func:`training_data_version` of what the ranker learned from

    @property
    def ranker_status(self) -> str:
        return "fallback" if self.model is None else "trained"


def _prepared(inputs: RankerInputs, settings: Mapping[str, Any], horizon_days: int, batch_size: int | None,
              als_factory: ALSFactory | None) -> tuple[_Cutoffs, dict[str, list[np.ndarray]], dict[str, Any]]:
    """The per-cutoff inputs, the customer batches (everybody, the evaluation sample) and the
    checked settings of :func:`fit_rankers` and :func:`scored_batches`."""
    purchases, windows, hybrid, truth, products, customers = inputs
    settings = ranker_settings(settings)
    config = replace(CandidateConfig(), horizon_days=horizon_days,
                     **{key: settings[key] for key in CANDIDATE_KEYS})
    cutoffs = _Cutoffs(purchases, holdout_moments(windows), hybrid, truth, products, config, settings, als_factory)
    batch_size = batch_size or batch_customers(products["product_id"].nunique())
    batches = {"latest": customer_batches(customers["customer_key"], batch_size),
               "sample": customer_batches(evaluated_keys(customers), batch_size)}
    return cutoffs, batches, settings


def _fit_served(cutoffs: _Cutoffs, sample: list[np.ndarray], settings: Mapping[str, Any],
                served: Sequence[str]) -> dict[str, FittedRanker]:
    """The ranker of each ``served`` cutoff, learned on the evaluation sample's pairs of the
    ``train_windows`` windows that ended by it (latest learns from test, validation, train_1, ...;
    test from validation, train_1, ...)."""
    params = {key: settings[key] for key in RANKER_KEYS} | {"random_state": settings["random_state"]}
    moments = cutoffs.moments
    order = list(moments)  # latest, test, validation, train_1, ...: each cutoff learns from the next ones
    fits = {}
    for serve in sorted(served, key=order.index, reverse=True):  # test first, as the lists come
        position = order.index(serve)
        # the windows that ended by the served cutoff, latest first, with what happened in them
        train = [c for c in order[position + 1:position + 1 + settings["train_windows"]]
                 if moments[c] < moments[serve]]
        training, labels = _stacked([cutoffs.train_window(c, sample) for c in train])
        model = _fit_or_none(CandidateRanker(**params), training, labels)
        used = [c for c in train if len(cutoffs.training[c][0])]
        version = content_version(
            params, serve, [str(moments[c]) for c in [serve, *used]], np.asarray(labels, dtype=np.int8),
            "\x1f".join(training["customer_key"].astype(str)) if len(training) else "",
        )
        fits[serve] = FittedRanker(serve, model, version, training_data_version([moments[c] for c in used],
                                                                                training, labels))
        cutoffs.keep_only(serve)
    return fits


def fit_rankers(inputs: RankerInputs, *, settings: Mapping[str, Any], horizon_days: int,
                batch_size: int | None = None, als_factory: ALSFactory | None = None,
                served: Sequence[str] = SERVED_CUTOFFS) -> dict[str, FittedRanker]:
    """The rankers of the ``served`` cutoffs (see :func:`ranker_lists` for the arguments), by
    cutoff: what ``int_recommendation__ranker_fits`` stores (:func:`ranker_fits_table`). Only the
    hold-out cutoffs' hybrid lists are read (the windows it learns from)."""
    unknown = sorted(set(served) - set(SERVED_CUTOFFS))
    if unknown:
        raise SegrecError(f"fit_rankers: unknown served cutoff(s) {unknown}; use {list(SERVED_CUTOFFS)}")
    cutoffs, batches, settings = _prepared(inputs, settings, horizon_days, batch_size, als_factory)
    return _fit_served(cutoffs, batches["sample"], settings, served)


def ranker_fits_table(fits: Mapping[str, FittedRanker]) -> pa.Table:
    """The ``int_recommendation__ranker_fits`` rows (:data:`RANKER_FITS_SCHEMA`): each fitted
    ranker pickled (null in the fallback order) beside its status and versions."""
    rows = sorted(fits.values(), key=lambda fit: fit.cutoff)
    return pa.table({
        "cutoff": [fit.cutoff for fit in rows],
        "ranker_status": [fit.ranker_status for fit in rows],
        "model_version": [fit.model_version for fit in rows],
        "data_version": [fit.data_version for fit in rows],
        "ranker": [None if fit.model is None else pickle.dumps(fit.model, protocol=pickle.HIGHEST_PROTOCOL)
                   for fit in rows],
    }, schema=RANKER_FITS_SCHEMA)


def fitted_rankers(table: pa.Table | pd.DataFrame) -> dict[str, FittedRanker]:
    """The rankers of :func:`ranker_fits_table` by cutoff. The pickles are read back only from
    the table this build's int_recommendation__ranker_fits wrote (never from outside data)."""
    frame = table.to_pandas() if isinstance(table, pa.Table) else table
    require_columns(frame, "int_recommendation__ranker_fits", RANKER_FITS_SCHEMA.names)
    fits = {}
    for row in frame.itertuples(index=False):
        if row.cutoff in fits:
            raise SegrecError(f"int_recommendation__ranker_fits: more than one row for cutoff {row.cutoff!r}")
        model = None if row.ranker is None or pd.isna(row.ranker_status) or row.ranker_status == "fallback" \
            else _unpickled_ranker(row.cutoff, row.ranker)
        if row.ranker_status == "trained" and model is None:
            raise SegrecError(f"int_recommendation__ranker_fits: cutoff {row.cutoff!r} is trained but has no ranker")
        fits[row.cutoff] = FittedRanker(row.cutoff, model, row.model_version, row.data_version)
    return fits


def _unpickled_ranker(cutoff: str, blob: bytes) -> CandidateRanker:
    """The ranker pickled in one row of int_recommendation__ranker_fits, or a SegrecError that says
    to rebuild it (e.g. a table written by another segrec version, listed without rebuilding it)."""
    try:
        model = pickle.loads(bytes(blob))
    except Exception as error:  # unpickling raises whatever the stored classes' code raises
        raise SegrecError(f"int_recommendation__ranker_fits: the ranker of cutoff {cutoff!r} cannot be read "
                          f"({type(error).__name__}: {error}); rebuild int_recommendation__ranker_fits") from error
    if not isinstance(model, CandidateRanker):
        raise SegrecError(f"int_recommendation__ranker_fits: cutoff {cutoff!r} holds a {type(model).__name__}, "
                          "not a CandidateRanker; rebuild int_recommendation__ranker_fits")
    return model


def scored_batches(inputs: RankerInputs, *, settings: Mapping[str, Any], horizon_days: int,
                   batch_size: int | None = None, als_factory: ALSFactory | None = None,
                   fits: Mapping[str, FittedRanker] | None = None,
                   served: Sequence[str] = SERVED_CUTOFFS) -> Iterator[ScoredBatch]:
    """The scored candidate pairs behind :func:`ranker_lists` (its arguments), of each
    ``served`` cutoff in that order (test: the evaluation sample; latest: everybody), a batch of
    customers at a time, scored by ``fits`` (:func:`fit_rankers`; None: fitted here first, for
    the served cutoffs only)."""
    cutoffs, batches, settings = _prepared(inputs, settings, horizon_days, batch_size, als_factory)
    if fits is None:
        fits = _fit_served(cutoffs, batches["sample"], settings, served)
    missing = [c for c in served if c not in fits]
    if missing:
        raise SegrecError(f"scored_batches: no fitted ranker for cutoff(s) {missing}")
    for serve in served:
        fit = fits[serve]
        cutoffs.keep_only(serve)
        # The next batch's pairs are made while this one is scored and listed (segrec.overlap), each
        # thread on one core: the trees' OpenMP threads, waiting for a core the pairs hold, made the
        # scoring 3x slower (10M events: 73 s alone on two cores, 214 s beside the pairs).
        with threadpool_limits(1):
            for pairs in made_ahead(functools.partial(cutoffs.pairs, serve),
                                       batches["latest" if serve == "latest" else "sample"]):
                if pairs.empty:
                    continue
                scores = fallback_scores(pairs) if fit.model is None else fit.model.predict(pairs)
                yield ScoredBatch(serve, pairs, scores, fit.ranker_status, fit.model_version, fit.data_version)


def cutoff_categories(products: pd.DataFrame, cutoff: str) -> pd.Series:
    """The category per product_id of one cutoff of ``int_recommendation__products``."""
    return products.loc[products["cutoff"] == cutoff, ["product_id", "category"]].set_index("product_id")["category"]


def rows_by_cutoff(frame: pd.DataFrame | None, table: str) -> dict[str, pd.DataFrame]:
    """``frame``'s (cutoff, customer_key, product_id) rows per cutoff, each sorted by customer
    (customer_key as text), so a batch's rows slice cheaply (``customer_slice``): the hold-out
    truth and the history. Empty without a ``frame``."""
    if frame is None:
        return {}
    require_columns(frame, table, ("cutoff", "customer_key", "product_id"))
    return {c: sorted_by_customer(part) for c, part in frame.groupby("cutoff", sort=False)}


def batch_history(history: Mapping[str, pd.DataFrame], batch: ScoredBatch) -> pd.DataFrame | None:
    """The history rows of one batch's customers at its cutoff (None without a history)."""
    if not history:
        return None
    keys = np.unique(batch.pairs["customer_key"].astype(str).to_numpy())
    part = history.get(batch.cutoff)
    if part is None or len(keys) == 0:
        return pd.DataFrame({"customer_key": [], "product_id": []})
    chosen = customer_slice(part, keys[0], keys[-1])
    return chosen[text_in(chosen["customer_key"], keys)]


def ranker_lists(
    purchases: pd.DataFrame,
    windows: pd.Series,
    hybrid: pa.Table | pd.DataFrame,
    truth: pd.DataFrame,
    products: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    settings: Mapping[str, Any],
    list_length: int,
    horizon_days: int,
    max_per_category: int | None = None,
    batch_size: int | None = None,
    rerank: Mapping[str, Any] | None = None,
    history: pd.DataFrame | None = None,
    als_factory: ALSFactory | None = None,
    fits: Mapping[str, FittedRanker] | None = None,
    served: Sequence[str] = SERVED_CUTOFFS,
) -> Iterator[pa.Table]:
    """The ``int_recommendation__ranker_lists`` rows (:data:`RANKER_LISTS_SCHEMA`) of the
    ``served`` cutoffs in that order (int_recommendation__ranker_holdout lists test,
    __ranker_latest latest), a batch of customers at a time (:func:`segrec.schemas.stacked_tables` joins them):
    a large shop's lists (4.6M rows at 10M events) are never all in memory, the model writes
    them out as they come (:func:`segrec.engine.to_output_batches`).

    ``purchases``: purchase lines (PURCHASE_COLUMNS); ``windows``: validation_start,
    test_start, as_of_time; ``hybrid``: the hybrid candidates per cutoff
    (:data:`segrec.recommend.pipeline.HYBRID_CANDIDATES_SCHEMA`, best as Arrow: it is kept as it is, see
    :class:`segrec.recommend.candidates.CutoffRows`); ``truth``: cutoff, customer_key, product_id of the
    hold-out windows; ``products``: cutoff, product_id, is_active, category,
    is_repeat_purchase_category; ``customers``: customer_key of everybody to list and, when
    there, ``is_evaluated`` (the evaluation sample: the rankers learn from these customers'
    windows and the ``test`` lists are made for them only; default everybody).
    Lists for cutoffs ``test`` (judged offline at every k of evaluation.KS, so at least
    max(KS) long) and ``latest`` (served, ``list_length`` long), each list type,
    ``ranker_status`` = ``trained`` or ``fallback`` (no window to learn from), the ranker's
    ``model_version``, ``data_version`` (:func:`training_data_version`) and ``parameters`` (the
    checked settings and a non-identity re-rank as JSON), the same on every row of a cutoff. Customers are
    handled ``batch_size`` at a time (default :func:`batch_customers` of the catalog), so memory
    does not grow with the shop. ``rerank``: the
    dbt var recommendation_rerank (:func:`segrec.recommend.bias_rerank.rerank_settings`), applied
    to the discover and blended lists of both cutoffs, so the offline figures judge it too;
    ``history`` (cutoff, customer_key, product_id: the interactions known at each cutoff) is the
    category mix ``calibrated`` pulls toward, as category_kl measures it (None: own purchases).
    ``als_factory`` trains the ALS candidate source (segrec.recommend.pipeline.als_factory_for;
    None: implicit). ``fits``: the rankers of :func:`fit_rankers` (None: fitted here first).
    """
    control = rerank_settings(rerank)
    histories = rows_by_cutoff(history, "history") if control.needs_history else {}
    parameters = ranker_settings(settings) | ({} if control.is_identity else {"rerank": asdict(control)})
    lengths = {"latest": list_length, "test": max(list_length, *KS)}
    categories = {cutoff: cutoff_categories(products, cutoff) for cutoff in lengths}  # once, not per batch
    inputs = RankerInputs(purchases, windows, hybrid, truth, products, customers)
    for batch in scored_batches(inputs, settings=settings, horizon_days=horizon_days, batch_size=batch_size,
                                als_factory=als_factory, fits=fits, served=served):
        version = batch.model_version if control.is_identity else content_version(batch.model_version, asdict(control))
        lists = _batch_lists(batch.pairs, batch.scores, length=lengths[batch.cutoff],
                             categories=categories[batch.cutoff],
                             max_per_category=max_per_category, rerank=control,
                             history=batch_history(histories, batch))
        yield typed_table(
            lists.assign(cutoff=batch.cutoff, ranker_status=batch.ranker_status, model_version=version,
                         data_version=batch.data_version, parameters=json.dumps(parameters, sort_keys=True)),
            RANKER_LISTS_SCHEMA)


def ranker_strategy_lists(lists: pd.DataFrame, cutoff: str = "test") -> dict[str, pd.DataFrame]:
    """The ranker's lists of one cutoff as evaluation strategies ``ranker_<list_type>``."""
    chosen = lists[lists["cutoff"] == cutoff]
    return {f"ranker_{t}": chosen[chosen["list_type"] == t][["customer_key", "rank", "product_id"]]
            for t in LIST_TYPES}
