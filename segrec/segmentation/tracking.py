"""Keeping segments comparable across runs: matching, stability, assignment, refit policy."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score

from segrec.errors import SegrecError
from segrec.segmentation.features import as_matrix
from segrec.segmentation.metrics import NOISE, centroid_distances, nearest_centroid

Centroids = pd.DataFrame | np.ndarray


def _aligned_centroids(reference: Centroids, other: Centroids, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Both centroid sets as arrays with the same columns in the same order (by name when both
    are DataFrames)."""
    if isinstance(reference, pd.DataFrame) and isinstance(other, pd.DataFrame):
        missing = [c for c in reference.columns if c not in other.columns]
        if missing:
            raise SegrecError(f"{name}: column(s) {', '.join(map(str, missing))} missing")
        other = other[reference.columns]
    a, b = as_matrix(reference, f"{name} (first)"), as_matrix(other, f"{name} (second)")
    if a.shape[1] != b.shape[1]:
        raise SegrecError(f"{name}: {a.shape[1]} features against {b.shape[1]}")
    return a, b


def _ids(centroids: Centroids) -> list:
    """Cluster ids of a centroid set: the DataFrame index, else positions."""
    if isinstance(centroids, pd.DataFrame):
        return centroids.index.tolist()
    return list(range(len(centroids)))


def match_clusters(
    prev_centroids: Centroids, new_centroids: Centroids, max_distance: float | None = None
) -> dict:
    """Pair new clusters with previous ones, minimizing the total centroid distance (Hungarian).

    Returns ``{new id: previous id}`` (ids = DataFrame index, else positions). With unequal
    counts the surplus clusters stay unmatched; a pair farther apart than ``max_distance`` is
    dropped too, so a genuinely new group gets a new id.
    """
    prev, new = _aligned_centroids(prev_centroids, new_centroids, "match_clusters centroids")
    cost = centroid_distances(new, prev)
    new_pos, prev_pos = linear_sum_assignment(cost)
    prev_ids, new_ids = _ids(prev_centroids), _ids(new_centroids)
    return {
        new_ids[i]: prev_ids[j]
        for i, j in zip(new_pos, prev_pos, strict=True)
        if max_distance is None or cost[i, j] <= max_distance
    }


def assign_segment_ids(new_cluster_ids: Iterable[int], mapping: Mapping[int, int], next_id: int) -> dict:
    """``{new cluster id: segment id}``: matched clusters keep the previous segment id, the
    others get ``next_id, next_id + 1, ...`` in ascending cluster order; noise stays -1."""
    result, fresh = {}, next_id
    for cluster in sorted(set(new_cluster_ids)):
        if cluster == NOISE:
            result[cluster] = NOISE
        elif cluster in mapping:
            result[cluster] = mapping[cluster]
        else:
            result[cluster], fresh = fresh, fresh + 1
    return result


def assign_to_nearest(X: pd.DataFrame | np.ndarray, centroids: Centroids) -> np.ndarray:
    """Label of the nearest centroid for every row of ``X`` (ties: the earlier centroid).

    Labels are the centroid DataFrame's index (e.g. ``segment_id``), else positions. When both
    are DataFrames the columns are matched by name.
    """
    centers, rows = _aligned_centroids(centroids, X, "assign_to_nearest")
    return np.asarray(_ids(centroids))[nearest_centroid(rows, centers)]


def _common_labels(
    prev: pd.Series | np.ndarray, new: pd.Series | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Labels of the customers present in both runs: Series are joined on their index
    (``customer_key``), arrays must already be aligned."""
    if isinstance(prev, pd.Series) and isinstance(new, pd.Series):
        both = pd.concat([prev.rename("prev"), new.rename("new")], axis=1, join="inner")
        return both["prev"].to_numpy(), both["new"].to_numpy()
    prev, new = np.asarray(prev), np.asarray(new)
    if prev.shape != new.shape:
        raise SegrecError(
            f"stability: label arrays differ in length ({len(prev)} vs {len(new)}); "
            "pass Series indexed by customer_key to compare different customer sets"
        )
    return prev, new


def stability(prev_labels: pd.Series | np.ndarray, new_labels: pd.Series | np.ndarray) -> float:
    """Adjusted Rand index between two runs on the customers present in both.

    1.0 for the same partition under any renaming of labels, about 0 for unrelated ones.
    """
    prev, new = _common_labels(prev_labels, new_labels)
    if len(prev) == 0:
        raise SegrecError("stability: the two runs have no customer in common")
    return float(adjusted_rand_score(prev, new))


def transition_counts(
    prev_labels: pd.Series, new_labels: pd.Series, include_entries_exits: bool = True
) -> pd.DataFrame:
    """Customers moving from each segment to each segment between two runs.

    Both inputs are Series of segment ids indexed by ``customer_key``. Returns columns
    ``from_segment_id``, ``to_segment_id``, ``n_customers`` sorted by the two ids (missing
    first). Customers only in the new run have a missing ``from_segment_id``, customers only
    in the previous one a missing ``to_segment_id`` (both left out when
    ``include_entries_exits`` is False).
    """
    for name, labels in (("prev_labels", prev_labels), ("new_labels", new_labels)):
        if not isinstance(labels, pd.Series):
            raise SegrecError(f"transition_counts: {name} must be a Series indexed by customer_key")
        if labels.index.has_duplicates:
            raise SegrecError(f"transition_counts: {name} has a customer_key more than once")
    both = pd.concat(
        [prev_labels.rename("from_segment_id"), new_labels.rename("to_segment_id")],
        axis=1,
        join="outer" if include_entries_exits else "inner",
    ).astype("Int64")
    counts = both.groupby(["from_segment_id", "to_segment_id"], dropna=False).size()
    return (
        counts.rename("n_customers")
        .reset_index()
        .sort_values(["from_segment_id", "to_segment_id"], na_position="first", ignore_index=True)
    )


@dataclass(frozen=True)
class RefitDecision:
    refit: bool
    reason: str


def should_refit(
    silhouette: float | None,
    stability: float | None,
    *,
    min_silhouette: float = 0.25,
    min_stability: float = 0.8,
    force: bool = False,
    has_model: bool = True,
) -> RefitDecision:
    """Refit, or keep the current centroids and assign customers to the nearest one?

    Between refits the caller scores the current data against the kept centroids:
    ``silhouette`` of that assignment, ``stability`` = ARI between the previous run's labels
    and this assignment. ``None`` means not measured and is not held against the model; NaN
    (undefined, e.g. one cluster left) counts as below the threshold. Refit when forced, when
    there is no model yet, or when either measure is below its threshold.
    """
    if force:
        return RefitDecision(True, "refit forced")
    if not has_model:
        return RefitDecision(True, "no previous model")
    for name, value, minimum in (
        ("silhouette", silhouette, min_silhouette),
        ("stability", stability, min_stability),
    ):
        if value is not None and (math.isnan(value) or value < minimum):
            return RefitDecision(True, f"{name} {value:.3f} below {minimum}")
    return RefitDecision(False, "quality and stability within thresholds")
