"""Choosing the feature set and k of the segmentation on a temporal hold-out (issue 12, parts 2
and 3), as the dbt Python model ``int_segmentation__candidates`` does it.

Features come from SQL at two moments with one macro (``customer_features_as_of``): at the
validation cutoff (``int_segmentation__holdout_features``) and now
(``int_customers__value_features``), in long form. Every candidate (feature set x k) is
clustered at the cutoff and judged by the silhouette and by how much of the variance of the
next ``horizon_days``' log revenue its segments explain (:func:`validation.between_group_r2`);
:func:`validation.choose_configuration` picks one. The baselines (spend quintiles, R x F score
groups) are scored on the same customers, so the mart ``segment_validation`` shows whether the
segments beat them. The run (``int_segmentation__model_runs``) then clusters the features of now
with the chosen feature set and k.

Feature sets: ``behaviour`` (when and how customers shop, and what: dayparts, devices,
conversion, price bands, product groups; what segrec clustered before), ``value`` (lifecycle and
value first: the value group weighted ``value_weight``, with basket, rhythm, breadth and taste)
and ``all`` (every group, equal weight). On generated personas ``all`` or ``behaviour`` wins;
on wholesale shops without categories ``value`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from segrec.errors import SegrecError
from segrec.segmentation.cluster import KMeansFactory, KMeansSegmenter, fitted_metrics
from segrec.segmentation.metrics import sample_indices
from segrec.segmentation.product_groups import GROUP_PREFIX
from segrec.segmentation.validation import (
    VALUE_GROUPS,
    GroupMatrix,
    between_group_r2,
    choose_configuration,
    group_matrix,
    name_value_segments,
    rfm_score_groups,
    spend_quintiles,
)

# Groups beyond validation.VALUE_GROUPS; "taste" is every group_share__<group> column.
BEHAVIOUR_GROUPS: dict[str, tuple[str, ...]] = {
    "context": ("share_morning", "share_afternoon", "share_evening", "share_night",
                "share_mobile", "share_desktop", "share_tablet"),
    "price": ("conversion_rate", "premium_share", "budget_share", "new_arrival_share"),
}
TASTE = "taste"
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "behaviour": ("context", "price", TASTE),
    "value": ("value", "basket", "rhythm", "breadth", TASTE),
    "all": ("value", "basket", "rhythm", "breadth", TASTE, "context", "price"),
}
CHOSEN, SPEND_QUINTILES, RFM_GROUPS = "chosen", "spend_quintiles", "rfm_groups"
VALIDATED = (CHOSEN, SPEND_QUINTILES, RFM_GROUPS)  # the segmentations of mart segment_validation, in order
# Feature sets whose segments are named by lifecycle and value (name_value_segments).
VALUE_NAMED = ("value", "all")


@dataclass(frozen=True)
class ValidationConfig:
    """The dbt var ``segmentation.validation`` (same names and defaults; a test compares them).

    ``horizon_days``: the hold-out window after the cutoff (and the retention window before it);
    data spanning less than twice that uses half the span, and below ``min_horizon_days`` there is
    no validation (the run then clusters ``clustering_features`` with k by silhouette, as before).
    ``product_groups``: name groups for catalogs without categories. ``value_weight``: weight of
    the value group in the ``value`` feature set. ``silhouette_tolerance``, ``min_segment_share``,
    ``r2_tolerance``: :func:`validation.choose_configuration` (its ``min_silhouette`` is the
    segmentation's). ``sample_size``: customers the candidates' silhouettes are computed on.
    ``max_customers``: customers the candidates are clustered and judged on (a deterministic
    sample above it), so choosing costs the same on any shop size.
    """

    enabled: bool = True
    horizon_days: int = 90
    min_horizon_days: int = 28
    product_groups: int = 12
    value_weight: float = 3.0
    silhouette_tolerance: float = 0.10
    min_segment_share: float = 0.02
    r2_tolerance: float = 0.05
    sample_size: int = 5000
    max_customers: int = 20000


# Segments are projected (PCA scatter) and explained over at least two varying features.
MIN_FEATURES = 2


def wide_features(long: pd.DataFrame) -> pd.DataFrame:
    """The long features (customer_key, feature, feature_value) as one row per customer_key and
    one column per feature (sorted); a missing product-group share is 0 (nothing bought there)."""
    if missing := {"customer_key", "feature", "feature_value"} - set(long.columns):
        raise SegrecError(f"wide_features: features lack {sorted(missing)}")
    wide = long.pivot_table(index="customer_key", columns="feature", values="feature_value",
                            aggfunc="first", dropna=False).sort_index()
    wide = wide.reindex(columns=sorted(wide.columns))
    wide.columns.name = None
    taste = [c for c in wide.columns if c.startswith(GROUP_PREFIX)]
    wide[taste] = wide[taste].fillna(0.0)
    return wide.astype(np.float64)


def feature_groups(columns: Sequence[str], feature_set: str) -> dict[str, list[str]]:
    """The groups of ``feature_set`` and their columns among ``columns`` (empty groups left out)."""
    if feature_set not in FEATURE_SETS:
        raise SegrecError(f"feature set {feature_set!r} is not one of {', '.join(FEATURE_SETS)}")
    known = {**VALUE_GROUPS, **BEHAVIOUR_GROUPS}
    groups = {}
    for group in FEATURE_SETS[feature_set]:
        cols = [c for c in columns if c.startswith(GROUP_PREFIX)] if group == TASTE else [
            c for c in known[group] if c in columns
        ]
        if cols:
            groups[group] = cols
    return groups


def feature_set_matrix(features: pd.DataFrame, feature_set: str, value_weight: float = 3.0) -> GroupMatrix:
    """The clustering matrix of ``feature_set`` (:func:`validation.group_matrix`; the value group
    weighted ``value_weight`` in the ``value`` set, every group 1 otherwise)."""
    weights = {"value": value_weight} if feature_set == "value" else {}
    return group_matrix(features, feature_groups(list(features.columns), feature_set), group_weights=weights)


def _cluster(X: pd.DataFrame, k: int, sample_size: int, random_state: int, n_init: int,
             kmeans_factory: KMeansFactory) -> tuple[np.ndarray, float]:
    model = kmeans_factory(n_clusters=k, n_init=n_init, random_state=random_state).fit(X.to_numpy())
    return model.labels_, fitted_metrics(X.to_numpy(), model, sample_size, random_state)["silhouette"]


def baseline_labels(features: pd.DataFrame) -> dict[str, pd.Series]:
    """The baselines on the same customers: spend quintiles and the R x F score groups, as names."""
    quintile = spend_quintiles(features["monetary"])
    return {
        SPEND_QUINTILES: "Spend quintile " + quintile.astype(str),
        RFM_GROUPS: rfm_score_groups(features["recency_days"], features["frequency"]),
    }


@dataclass(frozen=True)
class CandidateResult:
    """Outcome of :func:`evaluate_candidates`: one row per candidate and baseline (``table``) and
    each one's hold-out segment per customer (``labels``: segmentation -> names by customer_key)
    for the chosen candidate and the baselines."""

    table: pd.DataFrame
    labels: dict[str, pd.Series]


def evaluate_candidates(
    features: pd.DataFrame,
    log_next_revenue: pd.Series,
    *,
    k_min: int = 2,
    k_max: int = 10,
    feature_sets: Sequence[str] = tuple(FEATURE_SETS),
    config: ValidationConfig = ValidationConfig(),
    min_silhouette: float = 0.15,
    random_state: int = 0,
    n_init: int = 4,
    kmeans_factory: KMeansFactory = KMeansSegmenter,
) -> CandidateResult:
    """Cluster the cutoff ``features`` (wide, buyers before the cutoff, indexed by customer_key)
    with every feature set and k in [k_min, k_max], score each by silhouette and the between-group
    R^2 of ``log_next_revenue`` (same index), choose one (:func:`validation.choose_configuration`)
    and score the baselines. The chosen candidate's segments are named (:func:`name_value_segments`).
    A feature set with fewer than MIN_FEATURES varying columns (or with no more distinct rows than
    ``k_max``) is left out; SegrecError when none is left. Above ``config.max_customers``
    customers, a deterministic sample of them is clustered and judged. ``kmeans_factory`` clusters
    (KMeansSegmenter, or Spark's under var ml_engine spark, whose silhouette is Spark's)."""
    features = features.sort_index()  # row order feeds K-Means' initialization: fix it
    features = features.iloc[sample_indices(len(features), config.max_customers, random_state)]
    y = log_next_revenue.reindex(features.index)
    if y.isna().any():
        raise SegrecError("evaluate_candidates: outcomes missing for some customers")
    k_max = min(k_max, len(features) - 1)
    if k_max < k_min:
        raise SegrecError(f"evaluate_candidates: {len(features)} customers for k >= {k_min}")
    rows, labels_of = [], {}
    for feature_set in feature_sets:
        if not feature_groups(list(features.columns), feature_set):
            continue
        X = feature_set_matrix(features, feature_set, config.value_weight).X
        if X.shape[1] < MIN_FEATURES or len(X.drop_duplicates()) <= k_max:
            continue  # (nearly) every column constant (e.g. no devices, dayparts or products): nothing to cluster
        for k in range(k_min, k_max + 1):
            labels, silhouette = _cluster(X, k, config.sample_size, random_state, n_init, kmeans_factory)
            shares = np.bincount(labels) / len(labels)
            rows.append({
                "segmentation": "candidate", "feature_set": feature_set, "k": k,
                "silhouette": silhouette, "r2": between_group_r2(y, labels), "min_share": float(shares.min()),
            })
            labels_of[(feature_set, k)] = labels
    if not rows:
        raise SegrecError("evaluate_candidates: no feature set varies across the customers")
    table = pd.DataFrame(rows)
    table["silhouette"] = table["silhouette"].fillna(-1.0)  # a degenerate clustering is never eligible
    chosen = choose_configuration(
        table, silhouette_tolerance=config.silhouette_tolerance, min_silhouette=min_silhouette,
        min_segment_share=config.min_segment_share, r2_tolerance=config.r2_tolerance,
    )
    table["is_chosen"] = (table["feature_set"] == chosen["feature_set"]) & (table["k"] == chosen["k"])
    raw = pd.Series(labels_of[(chosen["feature_set"], int(chosen["k"]))], index=features.index)
    names = name_value_segments(features, raw)["segment_name"]
    labels = {CHOSEN: raw.map(names)}
    for name, groups in baseline_labels(features).items():
        labels[name] = groups
        table.loc[len(table)] = {
            "segmentation": name, "feature_set": None, "k": groups.nunique(), "silhouette": np.nan,
            "r2": between_group_r2(y, groups), "min_share": float(groups.value_counts(normalize=True).min()),
            "is_chosen": False,
        }
    return CandidateResult(table=table, labels=labels)


CANDIDATE_SCHEMA = pa.schema([
    ("segmentation", pa.string()), ("feature_set", pa.string()), ("k", pa.int64()),
    ("silhouette", pa.float64()), ("r2", pa.float64()), ("min_share", pa.float64()), ("is_chosen", pa.bool_()),
    ("cutoff_time", pa.timestamp("us")), ("horizon_days", pa.int64()), ("n_customers", pa.int64()),
    ("customer_keys", pa.list_(pa.string())), ("segment_names", pa.list_(pa.string())),
])


def candidate_table(result: CandidateResult | None, cutoff_time: Any, horizon_days: int | None) -> pa.Table:
    """``result`` as rows of ``int_segmentation__candidates``: the chosen candidate and the baselines
    carry their hold-out segment per customer as aligned lists (the others empty). None: no rows."""
    if result is None:
        return CANDIDATE_SCHEMA.empty_table()
    records = []
    for row in result.table.to_dict("records"):
        key = CHOSEN if row["is_chosen"] else row["segmentation"]
        segments = result.labels.get(key) if key != "candidate" else None
        records.append({
            **row,
            "feature_set": None if pd.isna(row["feature_set"]) else row["feature_set"],
            "silhouette": None if pd.isna(row["silhouette"]) else float(row["silhouette"]),
            "k": int(row["k"]), "is_chosen": bool(row["is_chosen"]),
            "cutoff_time": cutoff_time, "horizon_days": horizon_days,
            "n_customers": int(len(next(iter(result.labels.values())))),
            "customer_keys": [] if segments is None else [str(c) for c in segments.index],
            "segment_names": [] if segments is None else [str(s) for s in segments],
        })
    return pa.Table.from_pylist(records, schema=CANDIDATE_SCHEMA)


def chosen_configuration(candidates: pd.DataFrame) -> Mapping[str, Any] | None:
    """The chosen (feature_set, k) row of a candidates table, or None when there is none."""
    chosen = candidates.loc[candidates["is_chosen"].fillna(False).astype(bool)] if len(candidates) else candidates
    return None if chosen.empty else chosen.iloc[0].to_dict()
