"""Offline evaluation of recommendation lists: temporal split, catalog and metrics.

Definitions (per user ``u`` with test items ``T_u`` and list ``L_u``; ``rel_i`` = 1 when the
item at position ``i`` of ``L_u`` is in ``T_u``; only the first ``k`` positions count):

- precision@k = hits / k (textbook). A user with fewer than k test items cannot reach 1,
  and a list shorter than k still divides by k. Note that ``implicit.evaluation`` divides
  by min(k, |T_u|) summed over users instead.
- recall@k = hits / |T_u|.
- AP@k = sum_i rel_i * precision@i / min(k, |T_u|); MAP@k is its mean (as implicit's).
- NDCG@k = sum_i rel_i / log2(i + 1), divided by the same sum for an ideal list of
  min(k, |T_u|) hits (as implicit's).
- hit rate@k = 1 when at least one hit.
- AUC@k: the share of (test item, other catalog item) pairs ranked in the right order,
  when the catalog items missing from the list are tied below it (a tie counts half), as
  implicit's ``AUC_at_k``: (sum over listed misses of the hits above them + (negatives not
  listed) * (hits + |T_u|) / 2) / (|T_u| * (n_items - |T_u|)).
- catalog coverage@k = distinct items in the top-k lists of the group / catalog size.
- novelty@k = mean over users of the mean of -log2 popularity(i) over their top-k items,
  popularity = share of training customers who interacted with i (an unseen item counts
  as seen by one customer).
- intra-list diversity@k = mean over users of 1 - the mean pairwise content (cosine)
  similarity of their top-k items; users with fewer than 2 items are left out.

Popularity bias and calibration (Abdollahpouri et al. 2019; Steck, "Calibrated
Recommendations", RecSys 2018), beside them:

- exposure Gini@k = the Gini coefficient of how often each catalog item appears in the group's
  top-k lists (never-listed items count as 0): 0 = every item equally exposed, near 1 = a few
  items take all exposure.
- long-tail share@k = mean over users of the share of their top-k items outside the head (the
  most popular items that together make 80% of the training interactions).
- popularity lift@k = mean over users of (mean popularity of their top-k items) / (mean
  popularity of the items in their own history): 1 = as popular as what they use, above 1 =
  the list pushes more popular items than the customer's taste (popularity miscalibration).
  Users without history are left out.
- category KL@k = mean over users of KL(p || q), p the category mix of their history, q of
  their top-k list smoothed as 0.99 q + 0.01 p (so it stays finite): 0 = the list mirrors
  their category mix. Users without history or categories are left out.

Fairness across customer groups (``groups``: segment, age band, gender, region, new or
returning, ...): every metric above per group, and two more of the group's lists as a whole:

- exposure divergence@k = the Jensen-Shannon divergence (base 2, 0..1) between the category
  mix of the group's top-k lists and that of everybody's lists: 0 = the group is shown the same
  mix as everyone.
- history divergence = the same divergence between the category mix of the group's training
  histories and everybody's: how different the group's own taste is. Exposure divergence above
  history divergence means the lists make the groups more different than they are.

Every user of the ground truth is evaluated; a user without a list scores 0 (AUC 0.5).
Values are means over users (macro averages); ``n_users`` says over how many.

Uncertainty, so that a figure on a few dozen customers is read for what it is:

- ``ci_low``, ``ci_high`` of a mean over users: the normal interval mean -+ z * sd / sqrt(n)
  (sd with ddof 1; none below 2 users nor for the group metrics).
- ndcg_ratio_to_baseline@k: the served lists' NDCG@k over the better of the baselines'
  (:data:`SERVED_STRATEGY` over the best of :data:`BASELINE_STRATEGIES`, the target of issue 12),
  with a paired percentile bootstrap interval over customers (:func:`paired_bootstrap_ratio`):
  every resample draws customers with replacement, the same customers for all lists, and
  picks the better baseline again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from segrec.errors import SegrecError
from segrec.experiments import critical_value
from segrec.io import require_columns
from segrec.recommend.baselines import content_features, popularity_scores
from segrec.recommend.data import RecData
from segrec.recommend.hybrid import STRATEGIES, HybridRecommender
from segrec.recommend.interactions import InteractionMatrix

KS: tuple[int, ...] = (5, 10, 20)
RANKING_METRICS: tuple[str, ...] = ("precision", "recall", "map", "ndcg", "hit_rate", "auc")
LIST_METRICS: tuple[str, ...] = ("coverage", "novelty", "diversity")
BIAS_METRICS: tuple[str, ...] = ("exposure_gini", "long_tail_share", "popularity_lift", "category_kl")
FAIRNESS_METRICS: tuple[str, ...] = ("exposure_divergence", "history_divergence")
# Metrics of the whole group's lists (not means over users).
GROUP_METRICS: tuple[str, ...] = ("coverage", "exposure_gini", *FAIRNESS_METRICS)
# Share of the training interactions the head of popular items makes (long-tail share).
HEAD_SHARE = 0.8
# Weight of the history mix in the list mix of category KL (Steck 2018's alpha).
CALIBRATION_SMOOTHING = 0.01
METRICS: tuple[str, ...] = RANKING_METRICS + LIST_METRICS + BIAS_METRICS + FAIRNESS_METRICS
# The overall rows: group_dimension and group_name 'all'.
ALL_GROUPS = "all"
UNKNOWN_GROUP = "unknown"
SEGMENT_DIMENSION = "segment"
# 'returning' customers bought something before the cutoff, 'new' ones did not.
STATUS_DIMENSION = "customer_status"
METRIC_COLUMNS: tuple[str, ...] = (
    "strategy", "group_dimension", "group_name", "k", "metric", "value", "n_users", "ci_low", "ci_high",
)
# The served lists (customer_recommendations' blended list, judged one window earlier) and the
# baselines they must beat: popularity and each customer's own most often bought products.
SERVED_STRATEGY = "ranker_blended"
BASELINE_STRATEGIES: tuple[str, ...] = ("popularity", "buy_again")
# Served NDCG@k over the better baseline's, overall only (see the module docstring).
RATIO_METRIC = "ndcg_ratio_to_baseline"
CONFIDENCE = 0.95
N_RESAMPLES = 2000


# ---------------------------------------------------------------------------- split
@dataclass(frozen=True)
class TemporalSplit:
    """Events cut by time: train < validation_start <= validation < test_start <= test."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    validation_start: pd.Timestamp
    test_start: pd.Timestamp
    end: pd.Timestamp

    def describe(self) -> str:
        """One line for ``recommendation_metrics``: where the windows start and end."""
        return describe_windows(self.validation_start, self.test_start, self.end)


HOLDOUT_SPLITS: dict[str, str] = {
    "window": "temporal hold-out",
    "last_event": "temporal hold-out, next item: a customer's window events before their last hit are input, "
                  "the last hit is the truth",
}


def describe_windows(
    validation_start: pd.Timestamp, test_start: pd.Timestamp, end: pd.Timestamp, split: str = "window"
) -> str:
    """One line naming the windows of a temporal hold-out (an empty validation window is left
    out) and how a window splits (dbt var recommendation_holdout_split)."""
    if split not in HOLDOUT_SPLITS:
        raise SegrecError(f"unknown hold-out split {split!r}; use one of {list(HOLDOUT_SPLITS)}")
    day = "%Y-%m-%d"
    validation_start, test_start, end = (pd.Timestamp(t) for t in (validation_start, test_start, end))
    validation = (
        f"validation {validation_start:{day}}..{test_start:{day}}, " if validation_start < test_start else ""
    )
    test = f"test {test_start:{day}}..{end:{day}}"
    return f"train before {validation_start:{day}}, {validation}{test} ({HOLDOUT_SPLITS[split]})"


def temporal_split(
    events: pd.DataFrame, *, test_days: float, validation_days: float = 0.0, time_column: str = "event_time"
) -> TemporalSplit:
    """Hold out the last ``test_days`` days as test and the ``validation_days`` before as validation.

    Boundaries fall on midnight: the test starts ``test_days`` days before the day of the
    latest event, so it holds those whole days plus the last (partial) day.
    """
    require_columns(events, "events", (time_column,))
    if test_days <= 0 or validation_days < 0:
        raise SegrecError(f"temporal split: test_days must be > 0 and validation_days >= 0, "
                          f"got {test_days} and {validation_days}")
    times = pd.to_datetime(events[time_column], errors="coerce")
    if times.isna().any():
        bad = int(times.isna().sum())
        raise SegrecError(f"events: column {time_column} has {bad} missing or unparseable time(s)")
    if times.empty:
        raise SegrecError("events: no rows to split")
    end = times.max()
    test_start = end.floor("D") - pd.Timedelta(days=test_days)
    validation_start = test_start - pd.Timedelta(days=validation_days)
    return TemporalSplit(
        train=events[(times < validation_start).to_numpy()],
        validation=events[((times >= validation_start) & (times < test_start)).to_numpy()],
        test=events[(times >= test_start).to_numpy()],
        validation_start=validation_start,
        test_start=test_start,
        end=end,
    )


def ground_truth(events: pd.DataFrame, *, event_types: Sequence[str] | None = None) -> pd.DataFrame:
    """Distinct (``customer_key``, ``product_id``) pairs of a test window: what counts as a hit.

    ``event_types`` limits which events count (e.g. only purchases); None counts all.
    """
    require_columns(events, "events", ("customer_key", "product_id"))
    chosen = events if event_types is None else events[events["event_type"].isin(list(event_types))]
    pairs = chosen.loc[chosen["product_id"].notna(), ["customer_key", "product_id"]].drop_duplicates()
    return pairs.sort_values(["customer_key", "product_id"]).reset_index(drop=True)


# ---------------------------------------------------------------------------- catalog
@dataclass(frozen=True)
class Catalog:
    """What the list metrics need to know about the items: ids, popularity, content vectors."""

    product_ids: np.ndarray
    popularity: np.ndarray  # share of training customers per item, see novelty
    features: sp.csr_matrix  # items x tokens, unit rows (zero rows: no side data)
    categories: np.ndarray | None = None  # top-level category per item (None / NaN: unknown)
    history: InteractionMatrix | None = None  # who used what in training, on the catalog's columns

    @property
    def n_items(self) -> int:
        return len(self.product_ids)


def catalog_from_data(data: RecData) -> Catalog:
    """The evaluation catalog of fitted data: every product of its matrix."""
    binary = data.interactions.binary()
    counts = popularity_scores(binary)
    n_active = max(int((data.n_interacted > 0).sum()), 1)
    history = InteractionMatrix(binary, data.interactions.customer_keys, data.interactions.product_ids)
    categories = data.products["category"].to_numpy(dtype=object) if "category" in data.products else None
    return Catalog(
        product_ids=data.interactions.product_ids,
        popularity=np.maximum(counts, 1.0) / n_active,
        features=content_features(data.products),
        categories=categories,
        history=history,
    )


# ---------------------------------------------------------------------------- intervals
def normal_interval(
    mean: np.ndarray, std: np.ndarray, n: np.ndarray, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)`` = mean -+ z * std / sqrt(n) of means over ``n`` users with sample
    standard deviation ``std`` (ddof 1); NaN where ``n`` < 2."""
    mean, std, n = (np.asarray(a, dtype=float) for a in (mean, std, n))
    enough = n >= 2
    half = np.full(np.broadcast(mean, std, n).shape, np.nan)
    np.divide(critical_value(confidence) * std, np.sqrt(n, where=enough, out=np.ones_like(n)), out=half,
              where=enough)
    return mean - half, mean + half


def paired_bootstrap_ratio(
    numerator: np.ndarray,
    denominators: np.ndarray,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    random_state: int = 0,
) -> tuple[float, float, float]:
    """``(ratio, low, high)``: the mean of ``numerator`` over the largest column mean of
    ``denominators`` (users x lists), with a percentile bootstrap interval at ``confidence``.

    Paired: each of ``n_resamples`` resamples draws users with replacement and takes the same
    users in every list (row), so what the lists share (hard and easy customers) cancels out;
    the best denominator is picked again in each resample. A resample whose best denominator is
    0 has no ratio and is left out of the quantiles. NaN without users or a positive best mean.
    """
    numerator = np.asarray(numerator, dtype=float)
    denominators = np.asarray(denominators, dtype=float)
    denominators = denominators[:, None] if denominators.ndim == 1 else denominators
    if n_resamples < 1:
        raise SegrecError(f"n_resamples must be at least 1, got {n_resamples}")
    critical_value(confidence)  # checks 0 < confidence < 1
    values = np.column_stack([numerator, denominators])
    n = len(values)
    if n == 0 or denominators.shape[1] == 0:
        return float("nan"), float("nan"), float("nan")
    ratio = _ratio_of_means(values.mean(axis=0, keepdims=True))[0]
    if np.isnan(ratio):
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(random_state)
    # resamples in blocks of about a million drawn users: memory stays flat for large samples
    block = max(1, 2**20 // n)
    ratios = np.concatenate([
        _ratio_of_means(values[rng.integers(0, n, size=(min(block, n_resamples - start), n))].mean(axis=1))
        for start in range(0, n_resamples, block)
    ])
    tail = (1 - confidence) / 2
    low, high = np.nanquantile(ratios, [tail, 1 - tail]) if np.isfinite(ratios).any() else (np.nan, np.nan)
    return float(ratio), float(low), float(high)


def _ratio_of_means(means: np.ndarray) -> np.ndarray:
    """Per row of (numerator mean, denominator means...): numerator over the largest
    denominator, NaN where that is not positive."""
    best = means[:, 1:].max(axis=1)
    return np.divide(means[:, 0], best, out=np.full(len(means), np.nan), where=best > 0)


# ---------------------------------------------------------------------------- metrics
def top_k_lists(recommendations: pd.DataFrame, users: pd.Index, k: int) -> pd.DataFrame:
    """The first ``k`` distinct products of each user's list (by ``rank``), with 1-based ``position``.

    Only users in ``users`` are kept; columns ``customer_key``, ``product_id``, ``position``.
    """
    require_columns(recommendations, "recommendations", ("customer_key", "rank", "product_id"))
    if k < 1:
        raise SegrecError(f"k must be at least 1, got {k}")
    listed = recommendations[recommendations["customer_key"].isin(users)]
    listed = listed.sort_values(["customer_key", "rank"], kind="stable")
    listed = listed.drop_duplicates(["customer_key", "product_id"])[["customer_key", "product_id"]]
    listed = listed.assign(position=listed.groupby("customer_key", sort=False).cumcount() + 1)
    return listed[listed["position"] <= k].reset_index(drop=True)


def _ranking_metrics(listed: pd.DataFrame, truth: pd.DataFrame, k: int, n_items: int) -> pd.DataFrame:
    truth = truth[["customer_key", "product_id"]].drop_duplicates()
    n_truth = truth.groupby("customer_key").size().astype(float)
    hits = listed.merge(truth.assign(hit=1.0), on=["customer_key", "product_id"], how="left")
    hit = hits["hit"].fillna(0.0).to_numpy()
    position = hits["position"].to_numpy(dtype=float)
    hits_so_far = pd.Series(hit).groupby(hits["customer_key"].to_numpy()).cumsum().to_numpy()
    per_row = pd.DataFrame(
        {
            "customer_key": hits["customer_key"].to_numpy(),
            "hits": hit,
            "listed": 1.0,
            "ap": hit * hits_so_far / position,
            "dcg": hit / np.log2(position + 1),
            "pairs_above_misses": (1 - hit) * hits_so_far,  # hits ranked above each listed miss
        }
    )
    sums = per_row.groupby("customer_key").sum().reindex(n_truth.index, fill_value=0.0)
    n_hits, size = sums["hits"].to_numpy(), n_truth.to_numpy()
    depth = np.minimum(k, size)
    ideal = np.cumsum(1 / np.log2(np.arange(2, k + 2)))[depth.astype(int) - 1]
    negatives = n_items - size
    misses = sums["listed"].to_numpy() - n_hits
    auc_pairs = sums["pairs_above_misses"].to_numpy() + (negatives - misses) * (n_hits + size) / 2
    auc = np.divide(auc_pairs, size * negatives, out=np.full(len(size), np.nan), where=negatives > 0)
    return pd.DataFrame(
        {
            "precision": n_hits / k,
            "recall": n_hits / size,
            "map": sums["ap"].to_numpy() / depth,
            "ndcg": sums["dcg"].to_numpy() / ideal,
            "hit_rate": (n_hits > 0).astype(float),
            "auc": auc,
        },
        index=n_truth.index,
    )


def ranking_metrics(
    recommendations: pd.DataFrame, truth: pd.DataFrame, *, k: int, n_items: int
) -> pd.DataFrame:
    """Per-user precision, recall, AP, NDCG, hit rate and AUC at ``k`` (see the module docstring).

    One row per user of ``truth`` (index ``customer_key``); ``n_items`` is the catalog size
    used by AUC (NaN when a user's test items fill the catalog).
    """
    require_columns(truth, "ground truth", ("customer_key", "product_id"))
    users = pd.Index(truth["customer_key"].unique())
    return _ranking_metrics(top_k_lists(recommendations, users, k), truth, k, n_items)


def _catalog_columns(listed: pd.DataFrame, catalog: Catalog) -> np.ndarray:
    return pd.Index(catalog.product_ids).get_indexer(pd.Index(listed["product_id"].to_numpy(dtype=object)))


def _listed_popularity(columns: np.ndarray, catalog: Catalog) -> np.ndarray:
    """Popularity of each listed item (catalog ``columns``); a product unknown to the catalog
    counts as seen by one customer, like an unseen one."""
    floor = float(catalog.popularity.min()) if catalog.n_items else 1.0
    return np.where(columns >= 0, catalog.popularity[np.maximum(columns, 0)], floor)


def _novelty(listed: pd.DataFrame, catalog: Catalog) -> pd.Series:
    popularity = _listed_popularity(_catalog_columns(listed, catalog), catalog)
    information = pd.Series(-np.log2(popularity), index=listed["customer_key"].to_numpy())
    return information.groupby(level=0).mean()


def novelty(recommendations: pd.DataFrame, users: pd.Index, catalog: Catalog, *, k: int) -> pd.Series:
    """Per user with a list, the mean self-information -log2 popularity of the top-``k`` items."""
    return _novelty(top_k_lists(recommendations, users, k), catalog)


def _diversity(listed: pd.DataFrame, catalog: Catalog) -> pd.Series:
    # With unit content vectors f_i the pairwise sum is ||sum f_i||^2 - sum ||f_i||^2, so no
    # per-user k x k matrix is needed.
    columns = _catalog_columns(listed, catalog)
    known = columns >= 0
    codes, customers = pd.factorize(listed["customer_key"].to_numpy()[known])
    membership = sp.csr_matrix(
        (np.ones(len(codes)), (codes, columns[known])), shape=(len(customers), catalog.n_items)
    )
    summed = membership @ catalog.features
    squared_norms = np.asarray(catalog.features.multiply(catalog.features).sum(axis=1)).ravel()
    pair_sum = np.asarray(summed.multiply(summed).sum(axis=1)).ravel() - membership @ squared_norms
    size = np.asarray(membership.sum(axis=1)).ravel()
    enough = size >= 2
    # cosines of non-negative vectors lie in [0, 1]; clip the rounding of identical items (-4e-16)
    diversity = np.clip(1 - pair_sum[enough] / (size[enough] * (size[enough] - 1)), 0.0, 1.0)
    # the norm identity leaves rounding residue (-4e-16 for a list of identical items): clip to [0, 1]
    diversity = np.clip(diversity, 0.0, 1.0)
    return pd.Series(diversity, index=pd.Index(customers[enough], name="customer_key"))


def intra_list_diversity(
    recommendations: pd.DataFrame, users: pd.Index, catalog: Catalog, *, k: int
) -> pd.Series:
    """Per user with at least 2 listed items, 1 - mean pairwise content similarity of the top ``k``."""
    return _diversity(top_k_lists(recommendations, users, k), catalog)


def catalog_coverage(recommendations: pd.DataFrame, users: pd.Index, *, k: int, n_items: int) -> float:
    """Distinct products in the top-``k`` lists of ``users``, as a share of the catalog."""
    return top_k_lists(recommendations, users, k)["product_id"].nunique() / n_items


def exposure_gini(listed: pd.DataFrame, n_items: int) -> float:
    """Gini coefficient of the listed items' exposure over a catalog of ``n_items`` (items
    never listed count as 0); NaN without a listed item."""
    counts = listed["product_id"].value_counts().to_numpy(dtype=float)
    if counts.sum() == 0 or n_items == 0:
        return float("nan")
    exposure = np.sort(np.concatenate([np.zeros(max(n_items - len(counts), 0)), counts]))
    n = len(exposure)
    return float(((2 * np.arange(1, n + 1) - n - 1) * exposure).sum() / (n * exposure.sum()))


def head_items(popularity: np.ndarray, share: float = HEAD_SHARE) -> np.ndarray:
    """Mask of the head: the most popular items (ties by position) that together make
    ``share`` of the interactions; the item that crosses the line is in the head."""
    order = np.argsort(-popularity, kind="stable")
    cumulative = np.cumsum(popularity[order]) / max(popularity.sum(), 1e-12)
    head = np.zeros(len(popularity), dtype=bool)
    head[order[:int(np.searchsorted(cumulative, share - 1e-12)) + 1]] = True
    return head


def _category_one_hot(catalog: Catalog) -> sp.csr_matrix | None:
    """Items x top-level categories, one 1 per item with a known category; None when the
    catalog has no categories."""
    if catalog.categories is None:
        return None
    codes, names = pd.factorize(pd.Series(catalog.categories, dtype=object))  # NaN -> -1
    known_items = np.flatnonzero(codes >= 0)
    return sp.csr_matrix((np.ones(len(known_items)), (known_items, codes[known_items])),
                         shape=(len(codes), max(len(names), 1)))


def _history_mix(users: pd.Index, catalog: Catalog, one_hot: sp.csr_matrix) -> np.ndarray:
    """Users x categories: how many of each user's training items fall in each category
    (zeros for a user without history)."""
    mix = np.zeros((len(users), one_hot.shape[1]))
    if catalog.history is not None:
        rows = catalog.history.user_rows(users)
        mix[rows >= 0] = (catalog.history.matrix[rows[rows >= 0]] @ one_hot).toarray()
    return mix


def _list_mix(listed: pd.DataFrame, users: pd.Index, catalog: Catalog, one_hot: sp.csr_matrix) -> np.ndarray:
    """Users x categories: how many of each user's listed items fall in each category."""
    columns = _catalog_columns(listed, catalog)
    known = columns >= 0
    row = users.get_indexer(listed["customer_key"].to_numpy()[known])
    membership = sp.csr_matrix((np.ones(int(known.sum())), (row, columns[known])),
                               shape=(len(users), catalog.n_items))
    return (membership @ one_hot).toarray()


def _shares(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of counts as shares (zeros where the row is empty), and the row totals."""
    totals = counts.sum(axis=-1)
    shares = np.divide(counts, np.expand_dims(totals, -1), out=np.zeros_like(counts, dtype=float),
                       where=np.expand_dims(totals, -1) > 0)
    return shares, totals


def _kl(p: np.ndarray, q: np.ndarray, log=np.log) -> np.ndarray:
    """Sum of p log(p / q) over the last axis, 0 log 0 = 0 (q > 0 wherever p > 0)."""
    safe_p, safe_q = np.where(p > 0, p, 1.0), np.where(q > 0, q, 1.0)
    return np.where(p > 0, p * log(safe_p / safe_q), 0.0).sum(axis=-1)


def _category_kl(own_mix: np.ndarray, list_mix: np.ndarray) -> np.ndarray:
    """KL(history mix || smoothed list mix) per user; NaN without a known category in the history."""
    p, totals = _shares(own_mix)
    q_list, _ = _shares(list_mix)
    q = (1 - CALIBRATION_SMOOTHING) * q_list + CALIBRATION_SMOOTHING * p
    return np.where(totals > 0, _kl(p, q), np.nan)


def js_divergence(counts: np.ndarray, reference: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, 0..1) between two category count vectors; NaN when
    either is empty."""
    (p, p_total), (q, q_total) = _shares(np.asarray(counts, float)), _shares(np.asarray(reference, float))
    if p_total == 0 or q_total == 0:
        return float("nan")
    middle = (p + q) / 2
    return float(max(0.5 * _kl(p, middle, np.log2) + 0.5 * _kl(q, middle, np.log2), 0.0))


def _bias(listed: pd.DataFrame, catalog: Catalog, category_kl: pd.Series | None) -> pd.DataFrame:
    """Per user with a list: long_tail_share, popularity_lift and category_kl (NaN where the
    history or categories needed are missing)."""
    columns = _catalog_columns(listed, catalog)
    keys = listed["customer_key"].to_numpy()
    tail = np.where(columns >= 0, ~head_items(catalog.popularity)[np.maximum(columns, 0)], True)
    out = pd.DataFrame({"long_tail_share": pd.Series(tail.astype(float), index=keys).groupby(level=0).mean()})
    out["popularity_lift"] = np.nan
    out["category_kl"] = np.nan if category_kl is None else category_kl.reindex(out.index).to_numpy()
    if catalog.history is None:
        return out
    rows = catalog.history.user_rows(out.index)
    known = rows >= 0
    own = catalog.history.matrix[rows[known]]  # the users' training items, 0/1
    n_own = np.asarray(own.sum(axis=1)).ravel()
    listed_pop = pd.Series(_listed_popularity(columns, catalog), index=keys).groupby(level=0).mean()
    own_pop = np.full(len(out), np.nan)
    own_pop[known] = np.divide(own @ catalog.popularity, n_own, out=np.full(len(n_own), np.nan), where=n_own > 0)
    out["popularity_lift"] = listed_pop.reindex(out.index).to_numpy() / own_pop
    return out


def _group_labels(groups: pd.DataFrame | None, users: pd.Index) -> dict[str, pd.Series]:
    """Per dimension, each user's group: ``all`` for everyone, then each column of ``groups``
    (``unknown`` where a user has no value)."""
    labels = {ALL_GROUPS: pd.Series(ALL_GROUPS, index=users, dtype=object)}
    if groups is not None:
        aligned = groups.reindex(users)
        for dimension in aligned.columns:
            column = aligned[dimension].astype(object)
            labels[str(dimension)] = column.where(column.notna(), UNKNOWN_GROUP).astype(str)
    return labels


class _Grouping(NamedTuple):
    """One dimension's groups of the evaluated users, worked out once for every strategy and k
    (re-indexing and counting them per call was most of the evaluation's time)."""

    label: pd.Series  # each user's group, indexed by customer_key
    values: np.ndarray  # the same, as an array in the users' order
    sizes: pd.Series  # users per group
    members: dict[str, np.ndarray]  # group -> which users (bool per user)


def _grouping(label: pd.Series) -> _Grouping:
    values = label.to_numpy(dtype=object)
    sizes = label.value_counts()
    return _Grouping(label, values, sizes, {group: values == group for group in sizes.index})


def _group_values(grouping: _Grouping, per_user: pd.DataFrame, listed: pd.DataFrame, listed_users: np.ndarray,
                  catalog: Catalog, mixes: tuple[np.ndarray, np.ndarray] | None,
                  confidence: float = CONFIDENCE) -> list[tuple[str, str, float, int, float, float]]:
    """(group, metric, value, n_users, ci_low, ci_high) of one dimension's groups: the per-user
    metrics as means over the group's users with a value (with their normal interval), the group
    metrics over the group's lists (no interval). ``listed_users``: the position of each row of
    ``listed`` among the grouping's users."""
    label, sizes = grouping.label, grouping.sizes
    user_metrics = [m for m in METRICS if m not in GROUP_METRICS]
    keys = grouping.values if per_user.index.equals(label.index) else label.reindex(per_user.index).to_numpy()
    # plain arrays, read by position: a scalar .loc per (group, metric) was most of the evaluation's time
    grouped = per_user[user_metrics].groupby(keys)
    means, counts, stds = grouped.mean(), grouped.count(), grouped.std()
    row_of = {group: i for i, group in enumerate(means.index)}
    means, counts = means.to_numpy(dtype=float), counts.to_numpy(dtype=np.int64)
    lows, highs = normal_interval(means, stds.to_numpy(dtype=float), counts, confidence)
    column_of = {metric: j for j, metric in enumerate(user_metrics)}
    listed_group = np.where(listed_users >= 0, grouping.values[listed_users], None)
    everyone = None if mixes is None else (mixes[0].sum(axis=0), mixes[1].sum(axis=0))
    out = []
    for group in sorted(sizes.index):
        in_group = listed_group == group
        members = grouping.members[group]
        values = {"coverage": listed.loc[in_group, "product_id"].nunique() / catalog.n_items,
                  "exposure_gini": exposure_gini(listed.loc[in_group], catalog.n_items),
                  "exposure_divergence": np.nan, "history_divergence": np.nan}
        if mixes is not None:
            values["history_divergence"] = js_divergence(mixes[0][members].sum(axis=0), everyone[0])
            values["exposure_divergence"] = js_divergence(mixes[1][members].sum(axis=0), everyone[1])
        for metric in METRICS:
            if metric in GROUP_METRICS:
                out.append((group, metric, float(values[metric]), int(sizes[group]), np.nan, np.nan))
            else:
                i, j = row_of[group], column_of[metric]
                count = int(counts[i, j])
                out.append((group, metric, float(means[i, j]) if count else np.nan, count,
                            float(lows[i, j]), float(highs[i, j])))
    return out


def served_ratio(
    ndcg: Mapping[str, pd.Series],
    *,
    served: str = SERVED_STRATEGY,
    baselines: Sequence[str] = BASELINE_STRATEGIES,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    random_state: int = 0,
) -> tuple[float, float, float, int] | None:
    """``(ratio, ci_low, ci_high, n_users)`` of the ``served`` list's NDCG over the better of the
    ``baselines``' (:func:`paired_bootstrap_ratio`), from per-user NDCG by strategy (one
    value per evaluated user, every strategy on the same users); None without the served list
    or any baseline."""
    present = [name for name in baselines if name in ndcg]
    if served not in ndcg or not present:
        return None
    users = ndcg[served].index
    ratio, low, high = paired_bootstrap_ratio(
        ndcg[served].to_numpy(dtype=float),
        np.column_stack([ndcg[name].reindex(users).fillna(0.0).to_numpy(dtype=float) for name in present]),
        n_resamples=n_resamples, confidence=confidence, random_state=random_state,
    )
    return ratio, low, high, len(users)


def evaluate_recommendations(
    lists: Mapping[str, pd.DataFrame],
    truth: pd.DataFrame,
    catalog: Catalog,
    *,
    ks: Sequence[int] = KS,
    groups: pd.DataFrame | None = None,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    random_state: int = 0,
) -> pd.DataFrame:
    """All metrics, per strategy, overall and per customer group, for each k: the long metrics frame.

    Parameters
    ----------
    lists : strategy name -> recommendations (``customer_key``, ``rank``, ``product_id``).
    truth : the test pairs (:func:`ground_truth`); its users are the evaluated population.
    catalog : item ids, popularity and content vectors (:func:`catalog_from_data`).
    groups : one column per group dimension (e.g. ``segment``, ``age_band``), indexed by
        ``customer_key``; users without a value are in group ``unknown``. The overall rows have
        ``group_dimension`` and ``group_name`` 'all'.
    confidence : level of the intervals ``ci_low``, ``ci_high``.
    n_resamples, random_state : the paired bootstrap of :data:`RATIO_METRIC`, one overall row
        per k when ``lists`` has :data:`SERVED_STRATEGY` and one of :data:`BASELINE_STRATEGIES`.

    Returns columns :data:`METRIC_COLUMNS`, metrics in :data:`METRICS` order, then the ratio rows.
    """
    require_columns(truth, "ground truth", ("customer_key", "product_id"))
    users = pd.Index(truth["customer_key"].unique())
    groupings = {dimension: _grouping(label) for dimension, label in _group_labels(groups, users).items()}
    one_hot = _category_one_hot(catalog)
    own_mix = None if one_hot is None else _history_mix(users, catalog, one_hot)
    records = []
    ndcg: dict[int, dict[str, pd.Series]] = {k: {} for k in ks}
    for strategy, recommendations in lists.items():
        for k in ks:
            listed = top_k_lists(recommendations, users, k)
            per_user = _ranking_metrics(listed, truth, k, catalog.n_items)
            ndcg[k][strategy] = per_user["ndcg"]
            per_user["novelty"] = _novelty(listed, catalog)
            per_user["diversity"] = _diversity(listed, catalog)
            mixes = None if one_hot is None else (own_mix, _list_mix(listed, users, catalog, one_hot))
            category_kl = None if mixes is None else pd.Series(_category_kl(*mixes), index=users)
            per_user = per_user.join(_bias(listed, catalog, category_kl))
            listed_users = users.get_indexer(listed["customer_key"].to_numpy())
            for dimension, grouping in groupings.items():
                records += [(strategy, dimension, group, k, *values) for group, *values
                            in _group_values(grouping, per_user, listed, listed_users, catalog, mixes, confidence)]
    for k in ks:
        ratio = served_ratio(ndcg[k], n_resamples=n_resamples, confidence=confidence, random_state=random_state)
        if ratio is not None:
            value, low, high, n_users = ratio
            records.append((SERVED_STRATEGY, ALL_GROUPS, ALL_GROUPS, k, RATIO_METRIC, value, n_users, low, high))
    frame = pd.DataFrame.from_records(records, columns=list(METRIC_COLUMNS))
    return frame.astype({"k": np.int64, "value": np.float64, "n_users": np.int64, "ci_low": np.float64,
                         "ci_high": np.float64})


def customer_groups(data: RecData, groups: pd.DataFrame | None = None) -> pd.DataFrame:
    """The group dimensions of the customers of fitted ``data``, indexed by ``customer_key``:
    ``segment`` (their segment name), ``customer_status`` (``returning`` when they bought
    something before the cutoff, else ``new``), then the columns of ``groups`` (e.g. age band,
    gender, region; indexed by ``customer_key``)."""
    keys = pd.Index(data.interactions.customer_keys, name="customer_key")
    bought = np.asarray(data.purchased.sum(axis=1)).ravel() > 0
    frame = pd.DataFrame({SEGMENT_DIMENSION: data.customers["segment_name"].to_numpy(dtype=object),
                          STATUS_DIMENSION: np.where(bought, "returning", "new").astype(object)}, index=keys)
    if groups is not None:
        frame = frame.join(groups.drop(columns=[c for c in frame.columns if c in groups.columns]))
    return frame


def evaluate_recommender(
    model: HybridRecommender,
    truth: pd.DataFrame,
    *,
    strategies: Sequence[str] = STRATEGIES,
    ks: Sequence[int] = KS,
    by_group: bool = True,
    groups: pd.DataFrame | None = None,
    extra_lists: Mapping[str, pd.DataFrame] | None = None,
    n_resamples: int = N_RESAMPLES,
    random_state: int = 0,
) -> pd.DataFrame:
    """Evaluate a fitted hybrid and each strategy alone on held-out ``truth``.

    Lists are built with the model's business rules and length ``max(ks)``; users of
    ``truth`` that the model's data does not know get no list (they score 0, so leave them
    out of ``truth`` to evaluate only known customers). ``extra_lists`` (strategy name ->
    ``customer_key``, ``rank``, ``product_id``) are judged beside them on the same users and
    catalog: lists made elsewhere, e.g. the learned ranker's and the buy-again baseline.
    ``by_group``: also per group of :func:`customer_groups` (with the extra ``groups``).
    ``n_resamples``, ``random_state``: the bootstrap of :data:`RATIO_METRIC`
    (:func:`evaluate_recommendations`).
    """
    data = model.data_
    users = truth["customer_key"].unique()
    known = users[data.interactions.user_rows(users) >= 0]
    lists = {s: model.recommend(known, strategy=s, n=max(ks), explain=False) for s in strategies}
    lists |= dict(extra_lists or {})
    chosen = customer_groups(data, groups) if by_group else None
    return evaluate_recommendations(lists, truth, catalog_from_data(data), ks=ks, groups=chosen,
                                    n_resamples=n_resamples, random_state=random_state)
