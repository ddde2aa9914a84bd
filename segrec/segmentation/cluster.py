"""Clustering estimators with one interface: ``fit(X)`` sets ``labels_`` and ``centers_``.

Every estimator numbers its clusters ``0..k-1`` from the largest to the smallest (ties by the
algorithm's own order), so the same input and random_state give the same numbers; DBSCAN noise is
``-1``. ``centers_`` are the member means in the scaled space, one row per cluster, and
``predict`` assigns rows to the nearest centre.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np
from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans
from sklearn.neighbors import NearestNeighbors

from segrec.errors import SegrecError
from segrec.segmentation.features import as_matrix
from segrec.segmentation.metrics import NOISE, cluster_metrics, member_means, nearest_centroid, sample_indices


def knee_point(values: np.ndarray) -> int:
    """Position of the knee of an ascending convex curve (e.g. sorted k-NN distances).

    Both axes are scaled to [0, 1]; the knee is the point farthest below the chord from the
    first to the last point (first such point on ties). A flat curve has no knee: the last
    position is returned.
    """
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1 or len(y) == 0:
        raise SegrecError("knee_point: expected a non-empty 1-D sequence")
    span = y[-1] - y[0]
    if len(y) < 3 or span <= 0:
        return len(y) - 1
    x = np.linspace(0.0, 1.0, len(y))
    return int(np.argmax(x - (y - y[0]) / span))


def k_distances(X: np.ndarray, min_samples: int) -> np.ndarray:
    """Ascending distance of each row to its ``min_samples``-th nearest row, counting itself.

    With DBSCAN's definition (a core point has ``min_samples`` rows within ``eps``, itself
    included) this is the smallest ``eps`` that makes each row a core point.
    """
    if not 1 <= min_samples <= len(X):
        raise SegrecError(f"DBSCAN: min_samples={min_samples} must be between 1 and the {len(X)} rows")
    distances, _ = NearestNeighbors(n_neighbors=min_samples).fit(X).kneighbors(X)
    return np.sort(distances[:, -1])


def kdistance_eps(X: np.ndarray, min_samples: int) -> float:
    """DBSCAN ``eps`` at the knee of the sorted k-distance curve."""
    distances = k_distances(X, min_samples)
    return float(distances[knee_point(distances)])


def order_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber labels so cluster 0 is the largest (ties: lower original label first); -1 stays."""
    clusters, counts = np.unique(labels[labels != NOISE], return_counts=True)
    order = clusters[np.lexsort((clusters, -counts))]
    mapping = np.full(labels.max() + 2 if len(labels) else 1, NOISE)
    mapping[order] = np.arange(len(order))
    return np.where(labels == NOISE, NOISE, mapping[labels])


class _Segmenter:
    """Shared tail of every estimator: canonical numbering, centres and prediction."""

    def _finish(self, X: np.ndarray, labels: np.ndarray) -> None:
        self.labels_ = order_by_size(np.asarray(labels))
        self.n_clusters_ = int(self.labels_.max() + 1) if len(self.labels_) else 0
        self.centers_ = (
            member_means(X, self.labels_, self.n_clusters_) if self.n_clusters_ else np.empty((0, X.shape[1]))
        )

    def fit_predict(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).labels_

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Nearest centre for new rows (never noise, also for DBSCAN)."""
        if not getattr(self, "n_clusters_", 0):
            raise SegrecError(f"{type(self).__name__}: fit found no clusters to assign to")
        return nearest_centroid(as_matrix(X), self.centers_)

    def fit(self, X: np.ndarray) -> _Segmenter:  # pragma: no cover - overridden
        raise NotImplementedError


class KMeansSegmenter(_Segmenter):
    """K-Means (k-means++ init, Lloyd iterations) on all rows.

    Parameters: ``n_clusters``; ``n_init`` restarts (best inertia kept); ``max_iter``; ``random_state``.
    The class is also the local :data:`KMeansFactory`; it records nothing beside the parameters.
    """

    engine_params: ClassVar[dict[str, str]] = {}

    def __init__(self, n_clusters: int = 8, n_init: int = 4, max_iter: int = 300, random_state: int = 0) -> None:
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X: np.ndarray) -> KMeansSegmenter:
        X = as_matrix(X)
        if not 1 <= self.n_clusters <= len(X):
            raise SegrecError(f"KMeans: n_clusters={self.n_clusters} must be between 1 and the {len(X)} rows")
        model = KMeans(
            n_clusters=self.n_clusters, n_init=self.n_init, max_iter=self.max_iter, random_state=self.random_state
        ).fit(X)
        self.inertia_ = float(model.inertia_)
        self._finish(X, model.labels_)
        return self


class DBSCANSegmenter(_Segmenter):
    """DBSCAN with ``eps`` from the knee of the k-distance curve; noise kept as label -1.

    For more than ``sample_size`` rows the k-distance curve and DBSCAN run on a deterministic
    sample (both scale badly with n); every other row joins the cluster of its nearest core
    sample if that core is within ``eps`` (DBSCAN's own rule for border points), else noise.

    Parameters: ``min_samples`` (rows within ``eps``, itself included, that make a core point);
    ``eps`` (``None``: from the knee); ``sample_size``; ``random_state`` (the sample).
    Attributes: ``eps_`` (the value used), ``labels_``, ``centers_``, ``n_clusters_``.
    """

    def __init__(
        self, min_samples: int = 10, eps: float | None = None, sample_size: int | None = 20000, random_state: int = 0
    ) -> None:
        self.min_samples = min_samples
        self.eps = eps
        self.sample_size = sample_size
        self.random_state = random_state

    def fit(self, X: np.ndarray) -> DBSCANSegmenter:
        X = as_matrix(X)
        rows = sample_indices(len(X), self.sample_size, self.random_state)
        sample = X[rows]
        self.eps_ = float(self.eps) if self.eps is not None else kdistance_eps(sample, self.min_samples)
        if self.eps_ <= 0:
            raise SegrecError(
                f"DBSCAN: eps={self.eps_} (from the k-distance knee) is not positive; the data has too many "
                "identical rows for min_samples; raise min_samples or set eps"
            )
        model = DBSCAN(eps=self.eps_, min_samples=self.min_samples).fit(sample)
        labels = np.full(len(X), NOISE)
        labels[rows] = model.labels_
        rest = np.setdiff1d(np.arange(len(X)), rows, assume_unique=True)
        core = model.core_sample_indices_
        if len(rest) and len(core):
            distance, nearest = NearestNeighbors(n_neighbors=1).fit(sample[core]).kneighbors(X[rest])
            core_labels = model.labels_[core][nearest[:, 0]]
            labels[rest] = np.where(distance[:, 0] <= self.eps_, core_labels, NOISE)
        self._finish(X, labels)
        return self


class WardSegmenter(_Segmenter):
    """Ward hierarchical clustering; beyond ``sample_size`` rows it fits a deterministic sample
    (Ward needs O(s^2) memory) and gives every other row the nearest sample-cluster centroid.

    Parameters: ``n_clusters``; ``sample_size``; ``random_state`` (the sample).
    """

    def __init__(self, n_clusters: int = 8, sample_size: int | None = 5000, random_state: int = 0) -> None:
        self.n_clusters = n_clusters
        self.sample_size = sample_size
        self.random_state = random_state

    def fit(self, X: np.ndarray) -> WardSegmenter:
        X = as_matrix(X)
        rows = sample_indices(len(X), self.sample_size, self.random_state)
        if not 1 <= self.n_clusters <= len(rows):
            raise SegrecError(
                f"Ward: n_clusters={self.n_clusters} must be between 1 and the {len(rows)} fitted rows"
            )
        sample_labels = AgglomerativeClustering(n_clusters=self.n_clusters, linkage="ward").fit_predict(
            X[rows]
        )
        labels = nearest_centroid(X, member_means(X[rows], sample_labels, self.n_clusters))
        labels[rows] = sample_labels  # the sample keeps the tree's own assignment
        self._finish(X, labels)
        return self


# What the segmentation clusters with where it uses K-Means (the k selection, the kmeans run, the
# hold-out candidates): called with ``n_clusters``, ``n_init`` and ``random_state``, it gives an
# unfitted segmenter whose ``fit(X)`` sets ``labels_`` and ``centers_`` (and ``silhouette_`` when
# the engine measures it itself); its ``engine_params`` go into the fit's recorded parameters.
# KMeansSegmenter is the local one; segrec.segmentation.spark_cluster.SparkKMeansFactory the
# Spark one (segrec.segmentation.pipeline.kmeans_factory_for picks by var ml_engine).
KMeansFactory = Callable[..., _Segmenter]


def fitted_metrics(X: np.ndarray, model: _Segmenter, sample_size: int | None,
                   random_state: int) -> dict[str, float]:
    """:func:`segrec.segmentation.metrics.cluster_metrics` of a fitted segmenter's partition, with
    the silhouette its engine measured itself where it did (Spark's ``silhouette_``), else
    scikit-learn's on the sample."""
    return cluster_metrics(X, model.labels_, model.centers_, sample_size, random_state,
                           silhouette=getattr(model, "silhouette_", None))
