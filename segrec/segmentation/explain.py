"""Explaining segments: decision rules, per-customer confidence, a 2-D projection."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.tree import DecisionTreeClassifier

from segrec.errors import SegrecError
from segrec.segmentation.features import as_matrix, impute_median, numeric_columns
from segrec.segmentation.metrics import NOISE, centroid_distances, sample_indices

_LEAF = -1  # sklearn's marker for "no child"

# What explains segments: called with ``max_depth``, ``min_samples_leaf`` and ``random_state``,
# it gives an unfitted classifier with scikit-learn's fitted-tree face (``fit(X, y)``,
# ``classes_``, ``tree_``, ``decision_path``, ``predict``). scikit-learn's DecisionTreeClassifier
# is the local one; segrec.segmentation.spark_cluster.SparkDecisionTree bound to a session fits
# on Spark (segrec.segmentation.pipeline.tree_factory_for picks by var ml_engine).
TreeFactory = Callable[..., Any]


@dataclass(frozen=True)
class SegmentRules:
    """Outcome of :func:`explain_segments`.

    ``leaves``: one row per tree leaf with ``cluster_id`` (the leaf's majority cluster),
    ``rule``, ``n_customers`` and ``precision`` (share of the leaf's customers in that cluster).
    ``by_segment``: per ``cluster_id`` the rules of its leaves joined by "or", biggest first.
    ``fidelity``: share of customers whose cluster the tree predicts.
    """

    leaves: pd.DataFrame
    by_segment: pd.Series
    fidelity: float
    tree: Any  # the fitted shared tree (a TreeFactory's classifier)
    feature_names: list[str]


def format_threshold(value: float) -> str:
    """Thresholds at a precision a reader can use: 812, 45.5, 0.41."""
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _condition(feature: str, low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{format_threshold(low)} < {feature} <= {format_threshold(high)}"
    if low is not None:
        return f"{feature} > {format_threshold(low)}"
    return f"{feature} <= {format_threshold(high)}"


def _single_prediction_nodes(tree: Any) -> set[int]:
    """Internal nodes whose leaves all predict the same class: their split changes no
    prediction, so a rule stops there ("a and b" instead of "(a and b and c) or (a and b and not c)")."""
    t = tree.tree_
    prediction: dict[int, int | None] = {}

    def visit(node: int) -> int | None:
        if t.children_left[node] == _LEAF:
            prediction[node] = int(np.argmax(t.value[node][0]))
        else:
            left, right = visit(t.children_left[node]), visit(t.children_right[node])
            prediction[node] = left if left is not None and left == right else None
        return prediction[node]

    visit(0)
    return {n for n, p in prediction.items() if p is not None and t.children_left[n] != _LEAF}


def tree_rules(tree: Any, feature_names: Sequence[str]) -> list[tuple[int, str]]:
    """``(leaf node, rule)`` for every leaf of a fitted tree, leaves in depth-first order.
    Subtrees whose leaves all predict one class count as one leaf.

    A rule joins the path's conditions with "and"; several splits on one feature merge into
    one bound (``120 < monetary <= 812``); features appear in the order the path meets them.
    """
    t = tree.tree_
    single = _single_prediction_nodes(tree)
    out: list[tuple[int, str]] = []
    stack: list[tuple[int, dict[str, list[float | None]]]] = [(0, {})]
    while stack:
        node, bounds = stack.pop()
        if t.children_left[node] == _LEAF or node in single:
            rule = " and ".join(_condition(f, lo, hi) for f, (lo, hi) in bounds.items())
            out.append((node, rule or "all customers"))
            continue
        feature, threshold = feature_names[t.feature[node]], float(t.threshold[node])
        lo, hi = bounds.get(feature, [None, None])
        left = bounds | {feature: [lo, threshold if hi is None else min(hi, threshold)]}
        right = bounds | {feature: [threshold if lo is None else max(lo, threshold), hi]}
        stack.append((t.children_right[node], right))
        stack.append((t.children_left[node], left))  # popped first: left-to-right order
    return out


def explain_segments(
    features: pd.DataFrame,
    labels: Sequence[int] | np.ndarray,
    max_depth: int = 3,
    random_state: int = 0,
    min_samples_leaf: int | float = 0.01,
    columns: Sequence[str] | None = None,
    sample_size: int | None = None,
    tree_factory: TreeFactory = DecisionTreeClassifier,
) -> SegmentRules:
    """Fit a shallow decision tree from the readable ``features`` to the cluster ``labels``.

    Missing feature values are filled with the column median first. ``min_samples_leaf``
    (a count, or a share of customers) keeps rules from describing a handful of customers.
    A cluster that no leaf predicts gets the rule "(no rule at max_depth=...)". With
    ``sample_size``, the trees learn from a seeded random sample of at most that many
    customers (a depth-3 rule needs no million rows); leaf sizes, precision and fidelity are
    still counted on every customer. ``tree_factory`` fits the trees (scikit-learn's here, or
    Spark's under var ml_engine spark: the same rules, sizes and fidelity are read from it).
    """
    labels = np.asarray(labels)
    if len(labels) != len(features):
        raise SegrecError(f"explain_segments: {len(labels)} labels for {len(features)} feature rows")
    names = numeric_columns(features, columns, "customer features")
    values = impute_median(features[names]).to_numpy()
    if sample_size is not None and sample_size < 1:
        raise SegrecError(f"explain_segments: sample_size must be at least 1, got {sample_size}")
    fit_rows = sample_indices(len(labels), sample_size, random_state)
    tree = tree_factory(max_depth=max_depth, min_samples_leaf=min_samples_leaf, random_state=random_state)
    tree.fit(values[fit_rows], labels[fit_rows])

    sizes, counts = _node_counts(tree, values, labels)
    predicted = np.argmax(tree.tree_.value[:, 0, :], axis=1)  # class position each node predicts
    leaves = pd.DataFrame(
        [
            {
                "cluster_id": tree.classes_[predicted[node]],
                "rule": rule,
                "n_customers": int(sizes[node]),
                "precision": _share(counts[node, predicted[node]], sizes[node]),
            }
            for node, rule in tree_rules(tree, names)
        ]
    )
    missing_rule = f"(no rule at max_depth={max_depth})"

    def join(rules: pd.Series) -> str:
        return rules.iloc[0] if len(rules) == 1 else " or ".join(f"({r})" for r in rules)

    # a cluster no leaf of the shared tree predicts gets the leaves of its own one-vs-rest tree
    unexplained = sorted(set(np.unique(labels)) - set(leaves["cluster_id"]))
    one_vs_rest = tree_factory(max_depth=max_depth, min_samples_leaf=min_samples_leaf, random_state=random_state)
    leaves = pd.concat([leaves, *(_one_vs_rest_leaves(one_vs_rest, values, labels, c, names, fit_rows)
                                  for c in unexplained)], ignore_index=True)
    ordered = leaves.sort_values(["cluster_id", "n_customers"], ascending=[True, False], kind="stable")
    by_segment = (
        ordered.groupby("cluster_id")["rule"].agg(join).reindex(np.unique(labels), fill_value=missing_rule)
    )
    by_segment.index.name = "cluster_id"
    fidelity = float(np.mean(tree.predict(values) == labels))
    return SegmentRules(leaves, by_segment.rename("rule"), fidelity, tree, names)


def _node_counts(tree: Any, values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Customers per node of a fitted tree and, per node, per class of ``tree.classes_``
    (internal nodes too: a rule may stop above the leaves), counted on all ``values``."""
    paths = tree.decision_path(values).tocsc()
    classes = np.searchsorted(tree.classes_, labels)
    onehot = np.zeros((len(labels), len(tree.classes_)))
    onehot[np.arange(len(labels)), classes] = 1.0
    return np.asarray(paths.sum(axis=0)).ravel(), np.asarray(paths.T @ onehot)


def _share(part: float, whole: float) -> float:
    return float(part / whole) if whole else 0.0


def _one_vs_rest_leaves(
    tree: Any, values: np.ndarray, labels: np.ndarray, cluster: int, names: list[str], fit_rows: np.ndarray,
) -> pd.DataFrame:
    """Leaves of ``tree`` (unfitted; refitted here) taught to tell ``cluster`` from everyone else,
    where it predicts the cluster."""
    target = labels == cluster
    tree.fit(values[fit_rows], target[fit_rows])
    t = tree.tree_
    positive = list(tree.classes_).index(True) if True in tree.classes_ else None
    sizes, counts = _node_counts(tree, values, target) if positive is not None else (None, None)
    rows = [
        {
            "cluster_id": cluster,
            "rule": rule,
            "n_customers": int(sizes[node]),
            "precision": _share(counts[node, positive], sizes[node]),
        }
        for node, rule in tree_rules(tree, names)
        if positive is not None and int(np.argmax(t.value[node][0])) == positive
    ]
    return pd.DataFrame(rows, columns=["cluster_id", "rule", "n_customers", "precision"])


def assignment_confidence(
    X: pd.DataFrame | np.ndarray, centroids: pd.DataFrame | np.ndarray, labels: Sequence[int] | None = None
) -> np.ndarray:
    """Per-customer confidence in [0, 1] from centroid distances: ``1 - d_own / d_other``.

    ``d_own`` is the distance to the customer's own centroid (``labels``, positions into
    ``centroids``; the nearest centroid when ``labels`` is None), ``d_other`` the distance to
    the nearest other centroid. 1 = on its centroid, 0 = halfway to another one (or closer to
    it, possible for Ward/DBSCAN). Noise (-1) gets 0; with a single centroid everyone gets 1.
    """
    distances = centroid_distances(as_matrix(X), as_matrix(centroids, "centroids"))
    n_rows, n_centroids = distances.shape
    if n_centroids == 1:
        return np.ones(n_rows)
    own = np.argmin(distances, axis=1) if labels is None else np.asarray(labels)
    noise = own == NOISE
    own = np.where(noise, 0, own)
    d_own = distances[np.arange(n_rows), own]
    others = distances.copy()
    others[np.arange(n_rows), own] = np.inf
    d_other = others.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        confidence = np.where(d_other > 0, 1.0 - d_own / d_other, 0.0)
    return np.where(noise, 0.0, np.clip(confidence, 0.0, 1.0))


def fit_projection(X: pd.DataFrame | np.ndarray, random_state: int = 0) -> PCA:
    """A 2-component PCA of the scaled matrix with a fixed sign per component.

    The SVD fixes a component only up to sign; here each component is flipped so its
    largest-magnitude loading is positive, so reruns and refits draw the same picture.
    ``random_state`` feeds the randomized solver sklearn picks for wide data (the tall, narrow
    customer matrix uses an exact eigen-solver). Project with ``.transform(X)``.
    """
    X = as_matrix(X)
    if X.shape[0] < 2 or X.shape[1] < 2:
        raise SegrecError(f"fit_projection: need at least 2 rows and 2 features, got shape {X.shape}")
    pca = PCA(n_components=2, random_state=random_state).fit(X)
    strongest = np.argmax(np.abs(pca.components_), axis=1)
    signs = np.sign(pca.components_[np.arange(2), strongest])
    pca.components_ *= np.where(signs == 0, 1.0, signs)[:, None]
    return pca


def project_2d(X: pd.DataFrame | np.ndarray, random_state: int = 0) -> np.ndarray:
    """Per-customer 2-D PCA coordinates, shape ``(n_rows, 2)``; see :func:`fit_projection`."""
    return fit_projection(X, random_state).transform(as_matrix(X))
