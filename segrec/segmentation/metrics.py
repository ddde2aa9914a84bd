"""Geometry and quality metrics shared by selection, fitting and tracking.

Noise (label ``-1``, from DBSCAN) is left out of every metric: it is not a cluster, so it has
no centroid and would distort silhouette and inertia. Its share is reported instead.
"""

from __future__ import annotations

import numpy as np
import sklearn
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

NOISE = -1
# Element budget for one chunk of the (rows x centroids x features) difference tensor (32 MB).
_CHUNK_ELEMENTS = 1 << 22
# Cap on the memory sklearn may use per chunk of pairwise distances in the silhouette (MB).
_SILHOUETTE_WORKING_MEMORY_MB = 256


def sample_indices(n_rows: int, sample_size: int | None, random_state: int) -> np.ndarray:
    """Sorted row positions of a deterministic uniform sample without replacement.

    All rows when ``sample_size`` is ``None`` or at least ``n_rows``. The same
    ``(n_rows, sample_size, random_state)`` always gives the same rows.
    """
    if sample_size is None or sample_size >= n_rows:
        return np.arange(n_rows)
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n_rows, size=sample_size, replace=False))


def centroid_distances(X: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Euclidean distance of every row to every centroid, shape ``(n_rows, n_centroids)``.

    Computed from explicit differences (not the ``|x|^2 - 2xc + |c|^2`` expansion) so equal
    distances compare equal, in chunks so memory stays bounded for millions of rows.
    """
    n_rows, n_features = X.shape
    out = np.empty((n_rows, len(centroids)), dtype=np.float64)
    step = max(1, _CHUNK_ELEMENTS // max(1, len(centroids) * n_features))
    for start in range(0, n_rows, step):
        diff = X[start : start + step, None, :] - centroids[None, :, :]
        out[start : start + step] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    return out


def nearest_centroid(X: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Position of the nearest centroid for every row; ties go to the lower position."""
    return np.argmin(centroid_distances(X, centroids), axis=1)


def member_means(X: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """Mean of the rows carrying each label ``0..n_clusters-1`` (noise ignored)."""
    return np.vstack([X[labels == k].mean(axis=0) for k in range(n_clusters)])


def cluster_metrics(
    X: np.ndarray,
    labels: np.ndarray,
    centroids: np.ndarray,
    sample_size: int | None = 20000,
    random_state: int = 0,
    silhouette: float | None = None,
) -> dict[str, float]:
    """Quality of one partition: silhouette, Calinski-Harabasz, Davies-Bouldin, inertia.

    Silhouette needs all pairwise distances of the rows it scores, O(s^2 * d) time for s rows,
    so it is computed on the deterministic sample ``sample_indices(n, sample_size, random_state)``:
    with ``s = min(n, sample_size)`` its cost stops growing with n. Calinski-Harabasz,
    Davies-Bouldin and inertia are O(n * k * d) and use every row. Metrics that need at
    least two clusters are NaN when there are fewer. ``silhouette``: the value the fitting engine
    measured itself (Spark's ClusteringEvaluator, segrec.segmentation.spark_cluster), recorded
    instead of scikit-learn's on the sample.
    """
    kept = labels != NOISE
    Xk, yk = X[kept], labels[kept]
    n_clusters = len(np.unique(yk))
    diffs = Xk - centroids[yk] if n_clusters else np.zeros((0, X.shape[1]))
    result = {
        "n_clusters": float(n_clusters),
        "noise_share": float(1.0 - kept.mean()),
        "inertia": float(np.einsum("ij,ij->", diffs, diffs)),
        "silhouette": float("nan"),
        "calinski_harabasz": float("nan"),
        "davies_bouldin": float("nan"),
    }
    if n_clusters < 2 or n_clusters >= len(yk):
        return result
    result["calinski_harabasz"] = float(calinski_harabasz_score(Xk, yk))
    result["davies_bouldin"] = float(davies_bouldin_score(Xk, yk))
    if silhouette is not None:
        result["silhouette"] = float(silhouette)
        return result
    rows = sample_indices(len(X), sample_size, random_state)
    rows = rows[kept[rows]]
    n_sampled = len(np.unique(labels[rows]))
    if 2 <= n_sampled < len(rows):
        with sklearn.config_context(working_memory=_SILHOUETTE_WORKING_MEMORY_MB):
            result["silhouette"] = float(silhouette_score(X[rows], labels[rows]))
    return result
