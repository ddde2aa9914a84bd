"""Choosing the number of K-Means clusters by silhouette."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segrec.errors import SegrecError
from segrec.segmentation.cluster import KMeansFactory, KMeansSegmenter, fitted_metrics
from segrec.segmentation.features import as_matrix

SELECTION_COLUMNS = ("k", "silhouette", "calinski_harabasz", "davies_bouldin", "inertia")


@dataclass(frozen=True)
class KSelection:
    """Outcome of :func:`select_k`: one row per candidate k and the chosen k."""

    table: pd.DataFrame
    k: int


def select_k(
    X: pd.DataFrame | np.ndarray,
    k_range: Iterable[int] = range(2, 11),
    sample_size: int | None = 20000,
    random_state: int = 0,
    n_init: int = 4,
    kmeans_factory: KMeansFactory = KMeansSegmenter,
) -> KSelection:
    """Fit K-Means for every k in ``k_range`` and choose the k with the best silhouette.

    K-Means and Calinski-Harabasz, Davies-Bouldin and inertia use all n rows (O(n * k * d)
    per k). The silhouette is O(s^2 * d) and uses one deterministic sample of
    ``s = min(n, sample_size)`` rows, the same rows for every k so the values compare; this
    bounds the only super-linear step, and on 2 cores s = 20,000 costs a few seconds per k.
    The chosen k has the highest silhouette; ties go to the smaller k. ``kmeans_factory`` fits
    (KMeansSegmenter, or Spark's: then the silhouette is Spark's, on every row).
    """
    X = as_matrix(X)
    ks = sorted(set(int(k) for k in k_range))
    n_scored = len(X) if sample_size is None else min(len(X), sample_size)
    if not ks or ks[0] < 2 or ks[-1] >= n_scored:
        raise SegrecError(
            f"select_k: k_range {ks} must be non-empty with every k between 2 and {n_scored - 1} "
            f"(one less than the {n_scored} rows the silhouette scores)"
        )
    rows = []
    for k in ks:
        model = kmeans_factory(n_clusters=k, n_init=n_init, random_state=random_state).fit(X)
        metrics = fitted_metrics(X, model, sample_size, random_state)
        rows.append({name: metrics[name] for name in SELECTION_COLUMNS[1:]} | {"k": k})
    table = pd.DataFrame(rows, columns=list(SELECTION_COLUMNS))
    return KSelection(table=table, k=choose_k(table))


def choose_k(table: pd.DataFrame) -> int:
    """The k with the highest silhouette in a selection table; ties go to the smaller k."""
    ordered = table.sort_values("k", kind="stable")
    silhouettes = ordered["silhouette"].to_numpy(dtype=np.float64)
    if np.isnan(silhouettes).all():
        raise SegrecError("select_k: no k gave a defined silhouette (too few distinct rows?)")
    # nanargmax returns the first maximum of the k-sorted values: ties -> smaller k.
    return int(ordered["k"].iloc[int(np.nanargmax(silhouettes))])
