"""The segmentation's learning on Spark (pyspark.ml), for the dbt var ``ml_engine: spark``.

:class:`SparkKMeansSegmenter` clusters with pyspark.ml ``KMeans`` or ``BisectingKMeans`` and
measures the silhouette with ``ClusteringEvaluator``; :class:`SparkDecisionTree` fits the
explaining tree with pyspark.ml ``DecisionTreeClassifier``. Both keep the interface of their
local counterparts (:class:`~segrec.segmentation.cluster.KMeansSegmenter`, scikit-learn's
``DecisionTreeClassifier`` as :func:`~segrec.segmentation.explain.explain_segments` uses it),
and what they learn comes back to the driver (labels and centroids, the tree's splits), so
naming, rules, segment ids across runs and nearest-centroid assignment are the same code on both
engines. :func:`segrec.segmentation.pipeline.kmeans_factory_for` and ``tree_factory_for`` pick
them; docs/spark.md has what differs.

pyspark is optional (the ``spark`` extra): it is imported when a model is fitted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import sparse

from segrec.engine import is_spark_session, spark_unavailable, to_arrow
from segrec.errors import SegrecError
from segrec.segmentation.cluster import _Segmenter
from segrec.segmentation.features import as_matrix

# var spark_ml.clustering: the pyspark.ml estimator behind the segmentation's K-Means
SPARK_CLUSTERING: tuple[str, ...] = ("kmeans", "bisecting_kmeans")


def _pyspark_ml(name: str) -> Any:
    """pyspark.ml's module ``name`` (``clustering``, ``classification``, ...), or a SegrecError why not."""
    try:
        import importlib

        return importlib.import_module(f"pyspark.ml.{name}")
    except ImportError as exc:
        raise SegrecError(f"ml_engine spark: {spark_unavailable() or exc}") from exc


def _check_session(owner: str, session: Any) -> None:
    if not is_spark_session(session):
        raise SegrecError(f"{owner}: session must be a SparkSession, got {type(session).__name__}")


def _whole(owner: str, **values: Any) -> None:
    # Spark takes these as Java ints; a float or bool would fail later with a Py4J error
    wrong = sorted(name for name, value in values.items()
                   if isinstance(value, bool) or not isinstance(value, int | np.integer))
    if wrong:
        raise SegrecError(f"{owner}: {wrong} must be whole numbers, got {values}")


def vector_frame(session: Any, X: np.ndarray, label: np.ndarray | None = None) -> Any:
    """The rows of ``X`` as a Spark DataFrame (``row`` position, ``features`` ml vector and,
    with ``label``, a double ``label``), sent as one Arrow table."""
    from pyspark.ml.functions import array_to_vector

    n_rows, width = X.shape
    offsets = pa.array(np.arange(0, (n_rows + 1) * width, width, dtype=np.int32))
    columns = {"row": pa.array(np.arange(n_rows, dtype=np.int64)),
               "features": pa.ListArray.from_arrays(offsets, pa.array(X.ravel(), pa.float64()))}
    if label is not None:
        columns["label"] = pa.array(np.asarray(label, dtype=np.float64))
    frame = session.createDataFrame(pa.table(columns))
    return frame.withColumn("features", array_to_vector("features"))


class SparkKMeansSegmenter(_Segmenter):
    """K-Means on Spark, as :class:`~segrec.segmentation.cluster.KMeansSegmenter` locally:
    ``fit(X)`` sets ``labels_`` (0 the largest cluster), ``centers_`` (the member means),
    ``n_clusters_``, ``inertia_`` and ``silhouette_``; ``predict`` assigns to the nearest centre.

    Parameters
    ----------
    session : the SparkSession to fit in (a dbt model's ``session`` on a Spark target, or
        :func:`segrec.engine.spark_session_for`). Required: nothing is looked up globally.
    n_clusters, n_init, random_state : as for KMeansSegmenter. Spark starts each of the
        ``n_init`` fits from its own ``k-means||`` initialization (seed ``random_state + i``)
        and the lowest training cost is kept.
    max_iter : iterations at most; None: 300 for ``kmeans`` (as KMeansSegmenter; Lloyd stops
        when the centres settle) and Spark's 20 for ``bisecting_kmeans``, which runs all of them
        for every split (no convergence test).
    method : ``kmeans`` (pyspark.ml ``KMeans``, Lloyd iterations) or ``bisecting_kmeans``
        (``BisectingKMeans``: splits clusters in two, level by level, the larger first, until
        there are ``n_clusters``; fitted once, ``n_init`` is not used. A wrong early split is
        never undone, so the partition is usually somewhat worse than KMeans').

    ``silhouette_`` is Spark's ``ClusteringEvaluator`` silhouette on every row with its default
    distance, squared Euclidean: the exact silhouette formula (mean distance to the own cluster
    against the nearest other cluster) with squared distances, which Spark computes in
    O(n * k * d) from per-cluster sums; scikit-learn's ``silhouette_score(X, labels,
    metric="sqeuclidean")`` gives the same number. It is higher than the Euclidean silhouette the
    local path reports on well separated clusters (squaring stretches the gaps); NaN for fewer
    than two clusters.
    """

    def __init__(
        self,
        *,
        session: Any,
        n_clusters: int = 8,
        n_init: int = 4,
        max_iter: int | None = None,
        random_state: int = 0,
        method: str = "kmeans",
    ) -> None:
        self.session = session
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.random_state = random_state
        self.method = method

    def _max_iter(self) -> int:
        if self.max_iter is not None:
            return self.max_iter
        return 300 if self.method == "kmeans" else 20

    def _estimator(self, seed: int) -> Any:
        clustering = _pyspark_ml("clustering")
        if self.method == "kmeans":
            return clustering.KMeans(k=self.n_clusters, maxIter=self._max_iter(), seed=seed,
                                     initMode="k-means||", featuresCol="features", predictionCol="prediction")
        return clustering.BisectingKMeans(k=self.n_clusters, maxIter=self._max_iter(), seed=seed,
                                          featuresCol="features", predictionCol="prediction")

    def fit(self, X: np.ndarray) -> SparkKMeansSegmenter:
        X = as_matrix(X)
        _whole("SparkKMeansSegmenter", n_clusters=self.n_clusters, n_init=self.n_init, max_iter=self._max_iter(),
               random_state=self.random_state)
        if self.method not in SPARK_CLUSTERING:
            raise SegrecError(f"SparkKMeansSegmenter: method {self.method!r} is not one of {list(SPARK_CLUSTERING)}")
        if not 1 <= self.n_clusters <= len(X) or self.n_init < 1 or self._max_iter() < 1:
            raise SegrecError(f"SparkKMeansSegmenter: n_clusters={self.n_clusters} must be between 1 and the "
                              f"{len(X)} rows, n_init and max_iter at least 1")
        _check_session("SparkKMeansSegmenter", self.session)
        frame = vector_frame(self.session, X).cache()
        try:
            restarts = 1 if self.method == "bisecting_kmeans" else self.n_init
            fits = [self._estimator(int(self.random_state) + i).fit(frame) for i in range(restarts)]
            model = min(fits, key=lambda fitted: fitted.summary.trainingCost)  # the first on ties
            predictions = model.transform(frame).select("row", "features", "prediction")
            labels = to_arrow(predictions.select("row", "prediction")).sort_by("row")["prediction"].to_numpy()
            self.inertia_ = float(model.summary.trainingCost)
            self.silhouette_ = _silhouette(predictions, len(np.unique(labels)))
        finally:
            frame.unpersist()
        self._finish(X, labels.astype(np.int64))
        return self


def _silhouette(predictions: Any, n_clusters: int) -> float:
    """ClusteringEvaluator's (squared Euclidean) silhouette of ``predictions``; NaN below two clusters."""
    if n_clusters < 2:
        return float("nan")
    evaluator = _pyspark_ml("evaluation").ClusteringEvaluator(
        featuresCol="features", predictionCol="prediction", metricName="silhouette",
        distanceMeasure="squaredEuclidean")
    return float(evaluator.evaluate(predictions))


@dataclass(frozen=True)
class SparkKMeansFactory:
    """What the segmentation clusters with under ``ml_engine: spark``: called like
    KMeansSegmenter (``n_clusters``, ``n_init``, ``random_state``), it gives a
    :class:`SparkKMeansSegmenter` in ``session`` with ``method``. ``engine_params`` is what a
    fit records beside its parameters (KMeansSegmenter records nothing), so a Spark run has
    another model version than a local one of the same matrix."""

    session: Any
    method: str = "kmeans"

    def __post_init__(self) -> None:
        if self.method not in SPARK_CLUSTERING:
            raise SegrecError(f"var spark_ml.clustering: expected one of {list(SPARK_CLUSTERING)}, "
                              f"got {self.method!r}")

    @property
    def engine_params(self) -> dict[str, str]:
        return {"ml_engine": "spark", "spark_clustering": self.method}

    def __call__(self, **params: Any) -> SparkKMeansSegmenter:
        return SparkKMeansSegmenter(session=self.session, method=self.method, **params)


class SparkDecisionTree:
    """pyspark.ml ``DecisionTreeClassifier`` with the face of scikit-learn's that
    :func:`~segrec.segmentation.explain.explain_segments` reads: ``fit(X, y)``, ``classes_``,
    ``tree_`` (``children_left``, ``children_right``, ``feature``, ``threshold``, ``value``
    arrays, nodes in depth-first order, -1 for no child), ``decision_path`` and ``predict``.
    Spark fits the tree; its splits come back to the driver (a depth-4 tree has at most 31
    nodes), where rules, leaf sizes and fidelity are read as from scikit-learn's tree.

    ``max_depth``, ``random_state``; ``min_samples_leaf`` a count or a share of the fitted rows
    (rounded up, as scikit-learn does) goes to Spark's ``minInstancesPerNode``. Spark looks for
    a split among ``max_bins`` quantile thresholds per feature (scikit-learn tries every one), and
    does not split a node no split improves: the same depth can give other and fewer rules.
    A split sends ``feature <= threshold`` left in both.
    """

    def __init__(
        self,
        *,
        session: Any,
        max_depth: int = 3,
        min_samples_leaf: int | float = 1,
        random_state: int = 0,
        max_bins: int = 64,
    ) -> None:
        self.session = session
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state
        self.max_bins = max_bins

    def _min_instances(self, n_rows: int) -> int:
        leaf = self.min_samples_leaf
        if isinstance(leaf, float):
            if not 0 < leaf < 1:
                raise SegrecError(f"SparkDecisionTree: a min_samples_leaf share must be in (0, 1), got {leaf}")
            return max(1, math.ceil(leaf * n_rows))
        return max(1, int(leaf))

    def fit(self, X: np.ndarray, y: np.ndarray) -> SparkDecisionTree:
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
        _whole("SparkDecisionTree", max_depth=self.max_depth, random_state=self.random_state, max_bins=self.max_bins)
        self.classes_ = np.unique(y)
        self.n_features_in_ = X.shape[1]
        if len(self.classes_) < 2:  # nothing to split: one leaf, as scikit-learn gives (Spark is not asked)
            self.tree_ = _tree_arrays([(-1, 0.0, [float(len(y))])], {})
            return self
        _check_session("SparkDecisionTree", self.session)
        classifier = _pyspark_ml("classification").DecisionTreeClassifier(
            maxDepth=self.max_depth, minInstancesPerNode=self._min_instances(len(y)), maxBins=self.max_bins,
            seed=int(self.random_state), impurity="gini", featuresCol="features", labelCol="label")
        model = classifier.fit(vector_frame(self.session, X, np.searchsorted(self.classes_, y)))
        nodes, children = _read_tree(model._java_obj.rootNode(), len(self.classes_))
        self.tree_ = _tree_arrays(nodes, children)
        return self

    def decision_path(self, X: np.ndarray) -> sparse.csr_matrix:
        """Rows x nodes indicator of the nodes each row passes through (root to leaf)."""
        X = np.asarray(X, dtype=np.float64)
        t = self.tree_
        reached = np.zeros((len(X), len(t.feature)), dtype=bool)
        reached[:, 0] = True
        for node in range(len(t.feature)):  # depth-first order: a parent comes before its children
            if t.children_left[node] >= 0:
                left = X[:, t.feature[node]] <= t.threshold[node]
                reached[:, t.children_left[node]] = reached[:, node] & left
                reached[:, t.children_right[node]] = reached[:, node] & ~left
        return sparse.csr_matrix(reached.astype(np.int64))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The class of the leaf each row reaches."""
        t = self.tree_
        leaves = np.flatnonzero(t.children_left < 0)
        reached = self.decision_path(X)[:, leaves].toarray().argmax(axis=1)
        return self.classes_[np.argmax(t.value[leaves[reached], 0, :], axis=1)]


def _read_tree(root: Any, n_classes: int) -> tuple[list[tuple[int, float, list[float]]], dict[int, tuple[int, int]]]:
    """Spark's fitted tree (the JVM nodes, through Py4J) in depth-first order: per node the split
    feature (-1 for a leaf), threshold and training class counts, and each internal node's
    (left, right) positions."""
    nodes: list[tuple[int, float, list[float]]] = []
    children: dict[int, tuple[int, int]] = {}

    def visit(node: Any) -> int:
        position = len(nodes)
        counts = list(node.impurityStats().stats())
        counts += [0.0] * (n_classes - len(counts))
        if node.getClass().getSimpleName() != "InternalNode":
            nodes.append((-1, 0.0, counts))
            return position
        split = node.split()
        nodes.append((int(split.featureIndex()), float(split.threshold()), counts))
        left = visit(node.leftChild())
        children[position] = (left, visit(node.rightChild()))
        return position

    visit(root)
    return nodes, children


def _tree_arrays(nodes: list[tuple[int, float, list[float]]], children: dict[int, tuple[int, int]]) -> SimpleNamespace:
    """scikit-learn's ``tree_`` arrays of the nodes (-1: no child; ``value`` nodes x 1 x classes)."""
    n = len(nodes)
    left = np.full(n, -1, dtype=np.int64)
    right = np.full(n, -1, dtype=np.int64)
    for node, (lo, hi) in children.items():
        left[node], right[node] = lo, hi
    return SimpleNamespace(
        children_left=left, children_right=right,
        feature=np.array([feature for feature, _, _ in nodes], dtype=np.int64),
        threshold=np.array([threshold for _, threshold, _ in nodes], dtype=np.float64),
        value=np.array([[counts] for _, _, counts in nodes], dtype=np.float64),
    )
