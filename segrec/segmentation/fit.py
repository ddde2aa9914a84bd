"""One segmentation run: choose k if needed, fit, measure, version."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segrec.errors import SegrecError
from segrec.segmentation.cluster import (
    DBSCANSegmenter,
    KMeansFactory,
    KMeansSegmenter,
    WardSegmenter,
    fitted_metrics,
)
from segrec.segmentation.features import as_matrix, column_names
from segrec.segmentation.select import KSelection, select_k
from segrec.versioning import content_version, stable_floats

ALGORITHMS = ("kmeans", "dbscan", "ward")


@dataclass(frozen=True)
class SegmentationResult:
    """Outcome of :func:`fit_segmentation`.

    ``labels`` follow the input rows (``-1`` = DBSCAN noise); ``centroids`` has one row per
    cluster id in the scaled feature space; ``metrics`` holds ``n_clusters``, ``noise_share``,
    ``silhouette``, ``calinski_harabasz``, ``davies_bouldin`` and ``inertia``; ``params`` the
    parameters used, derived ones included (chosen ``n_clusters``, DBSCAN ``eps``);
    ``selection`` the k table when k was chosen here.
    """

    labels: np.ndarray
    centroids: pd.DataFrame
    metrics: dict[str, float]
    params: dict[str, Any]
    model_version: str
    selection: KSelection | None = None


def _data_parts(X: pd.DataFrame | np.ndarray) -> list[object]:
    """What identifies a feature matrix: column names, shape, values rounded to
    ``VERSION_DECIMALS`` and, for a DataFrame, the row index (e.g. ``customer_key``)."""
    matrix = stable_floats(as_matrix(X))
    parts: list[object] = [column_names(X), np.asarray(matrix.shape, dtype=np.int64), matrix]
    if isinstance(X, pd.DataFrame):
        parts.append(pd.util.hash_pandas_object(X.index, index=False).to_numpy())
    return parts


def data_version(X: pd.DataFrame | np.ndarray) -> str:
    """16 hex characters of a SHA-256 over the data alone (as :func:`model_version` without the
    parameters): the training input of a fit, whatever it was fitted with."""
    return content_version(*_data_parts(X))


def model_version(X: pd.DataFrame | np.ndarray, params: Mapping[str, Any]) -> str:
    """16 hex characters of a SHA-256 over the data (values, column names and, for a
    DataFrame, the row index, e.g. ``customer_key``) and the parameters (as sorted JSON).

    Any change to a value, a customer, a feature or a parameter gives a new version. Values
    are rounded to ``VERSION_DECIMALS`` first: parallel aggregation in the warehouse may change
    the last bits of a feature between identical builds, which must not count as new data.
    """
    return content_version(dict(params), *_data_parts(X))


def fit_segmentation(
    X: pd.DataFrame | np.ndarray,
    algorithm: str = "kmeans",
    n_clusters: int | None = None,
    *,
    k_range: Iterable[int] = range(2, 11),
    sample_size: int | None = 20000,
    random_state: int = 0,
    n_init: int = 4,
    min_samples: int = 10,
    eps: float | None = None,
    ward_sample_size: int | None = 5000,
    kmeans_factory: KMeansFactory = KMeansSegmenter,
) -> SegmentationResult:
    """Cluster the scaled matrix ``X`` (rows = customers) with ``algorithm``.

    ``kmeans`` and ``ward`` use ``n_clusters``, or when it is ``None`` the k that
    :func:`select_k` picks over ``k_range`` (by K-Means silhouette). ``dbscan`` finds its own
    clusters from ``min_samples`` and ``eps`` (``None``: knee of the k-distance curve) and
    fits on at most ``sample_size`` rows. ``sample_size`` also bounds the silhouette sample,
    ``ward_sample_size`` the rows the Ward tree is built on. ``random_state`` fixes every random step.
    ``kmeans_factory`` fits every K-Means (the k selection and ``kmeans``): KMeansSegmenter in this
    process, or Spark's (var ml_engine spark), whose ``engine_params`` the parameters then record.
    """
    if algorithm not in ALGORITHMS:
        raise SegrecError(f"fit_segmentation: algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}")
    matrix = as_matrix(X)
    params: dict[str, Any] = {
        "algorithm": algorithm, "random_state": random_state, "sample_size": sample_size,
    }
    if algorithm == "dbscan":
        params |= {"min_samples": min_samples, "eps": eps}
    else:
        params |= {"n_clusters": n_clusters}
        if n_clusters is None:
            params |= {"k_range": sorted(int(k) for k in k_range), "n_init": n_init}
        if algorithm == "kmeans":
            params["n_init"] = n_init
        if algorithm == "ward":
            params["ward_sample_size"] = ward_sample_size
        if algorithm == "kmeans" or n_clusters is None:  # K-Means fits or chooses k
            params |= kmeans_factory.engine_params
    version = model_version(X, params)  # from the requested parameters, before derived ones

    selection = None
    if algorithm != "dbscan" and n_clusters is None:
        selection = select_k(
            matrix, params["k_range"], sample_size=sample_size, random_state=random_state, n_init=n_init,
            kmeans_factory=kmeans_factory,
        )
        n_clusters = selection.k
    if algorithm == "kmeans":
        model = kmeans_factory(n_clusters=n_clusters, n_init=n_init, random_state=random_state).fit(matrix)
    elif algorithm == "ward":
        model = WardSegmenter(n_clusters=n_clusters, sample_size=ward_sample_size, random_state=random_state)
        model.fit(matrix)
    else:
        model = DBSCANSegmenter(min_samples=min_samples, eps=eps, sample_size=sample_size, random_state=random_state)
        model.fit(matrix)
        params["eps"] = model.eps_
        if model.n_clusters_ == 0:
            raise SegrecError(
                f"DBSCAN found no cluster (eps={model.eps_:.4g}, min_samples={min_samples}): every customer "
                "is noise; lower min_samples or set eps"
            )
    params["n_clusters"] = model.n_clusters_

    centroids = pd.DataFrame(model.centers_, columns=column_names(X))
    centroids.index.name = "cluster_id"
    metrics = fitted_metrics(matrix, model, sample_size, random_state)
    return SegmentationResult(
        labels=model.labels_,
        centroids=centroids,
        metrics=metrics,
        params=params,
        model_version=version,
        selection=selection,
    )
