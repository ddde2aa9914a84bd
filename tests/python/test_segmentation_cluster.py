"""k selection, the clustering estimators and fit_segmentation."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from segrec.errors import SegrecError
from segrec.segmentation import (
    ALGORITHMS,
    DBSCANSegmenter,
    KMeansSegmenter,
    WardSegmenter,
    choose_k,
    cluster_metrics,
    fit_segmentation,
    kdistance_eps,
    knee_point,
    model_version,
    sample_indices,
    select_k,
)
from segrec.segmentation.cluster import order_by_size


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    return make_blobs(n_samples=600, n_features=5, centers=4, cluster_std=0.6, random_state=7)


def test_select_k_recovers_the_number_of_blobs(blobs):
    X, _ = blobs
    selection = select_k(X, range(2, 8), sample_size=200, random_state=0)
    assert selection.k == 4
    assert selection.table["k"].tolist() == [2, 3, 4, 5, 6, 7]
    assert list(selection.table.columns) == [
        "k",
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "inertia",
    ]
    best = selection.table.set_index("k")
    assert best["calinski_harabasz"].idxmax() == 4 and best["davies_bouldin"].idxmin() == 4
    assert best["inertia"].is_monotonic_decreasing


def test_silhouette_sample_makes_selection_deterministic(blobs):
    X, _ = blobs
    first = select_k(X, range(2, 6), sample_size=150, random_state=3)
    pd.testing.assert_frame_equal(first.table, select_k(X, range(2, 6), sample_size=150, random_state=3).table)
    other = select_k(X, range(2, 6), sample_size=150, random_state=4)
    # another seed draws another silhouette sample (and K-Means init) but the same answer
    assert not np.array_equal(first.table["silhouette"], other.table["silhouette"])
    assert other.k == first.k == 4


def test_choose_k_prefers_smaller_k_on_ties():
    table = pd.DataFrame({"k": [5, 2, 4, 3], "silhouette": [0.6, 0.5, 0.7, 0.7]})
    assert choose_k(table) == 3
    with pytest.raises(SegrecError, match="silhouette"):
        choose_k(pd.DataFrame({"k": [2], "silhouette": [np.nan]}))


@pytest.mark.parametrize("k_range", [range(1, 4), range(2, 60), []])
def test_select_k_rejects_impossible_ranges(k_range):
    X = np.arange(100, dtype=float).reshape(50, 2)
    with pytest.raises(SegrecError, match="k_range"):
        select_k(X, k_range, sample_size=40)


def test_sample_indices_are_sorted_unique_and_repeatable():
    assert sample_indices(5, None, 0).tolist() == [0, 1, 2, 3, 4]
    assert sample_indices(5, 9, 0).tolist() == [0, 1, 2, 3, 4]
    rows = sample_indices(1000, 50, 1)
    assert len(set(rows)) == 50 and (np.diff(rows) > 0).all()
    assert np.array_equal(rows, sample_indices(1000, 50, 1))


def test_cluster_metrics_on_a_hand_case_and_noise_is_left_out():
    X = np.array([[0, 0], [0, 2], [10, 0], [10, 2], [50, 50]], dtype=float)
    labels = np.array([0, 0, 1, 1, -1])
    metrics = cluster_metrics(X, labels, np.array([[0.0, 1.0], [10.0, 1.0]]), sample_size=None)
    # every point is 1 from its centroid; its own neighbour is 2 away, the other pair 10 and sqrt(104)
    assert metrics["inertia"] == pytest.approx(4.0)
    assert metrics["silhouette"] == pytest.approx(1 - 2 / ((10 + math.sqrt(104)) / 2))
    assert metrics["noise_share"] == pytest.approx(0.2)
    assert metrics["n_clusters"] == 2


def test_knee_point_on_hand_curves():
    assert knee_point(np.array([1, 1, 1, 1, 2, 10])) == 4
    assert knee_point(np.array([3.0, 3.0, 3.0])) == 2  # flat: no knee, take the end
    # points on a line at 0, 1, 2, 10: 2-distances (self included) sort to 1, 1, 1, 8
    assert kdistance_eps(np.array([[0.0], [1.0], [2.0], [10.0]]), min_samples=2) == 1.0


def test_order_by_size_numbers_largest_first_and_keeps_noise():
    assert order_by_size(np.array([2, 2, 0, 1, 1, 1, -1])).tolist() == [1, 1, 2, 0, 0, 0, -1]


def test_dbscan_keeps_outliers_as_noise():
    grid = np.array([[i * 0.1, j * 0.1] for i in range(4) for j in range(5)])
    X = np.vstack([grid, grid + 10, [[5.0, -5.0], [-5.0, 5.0]]])
    model = DBSCANSegmenter(min_samples=5).fit(X)
    assert model.labels_.tolist() == [0] * 20 + [1] * 20 + [-1, -1]
    np.testing.assert_allclose(model.centers_, [grid.mean(axis=0), grid.mean(axis=0) + 10])


def test_dbscan_on_a_sample_assigns_the_rest_by_core_points():
    X, truth = make_blobs(n_samples=2000, centers=[[0, 0], [8, 8]], cluster_std=0.5, random_state=3)
    X = np.vstack([X, [[4.0, -4.0], [-4.0, 4.0], [20.0, 20.0]]])
    labels = DBSCANSegmenter(min_samples=10, sample_size=500, random_state=0).fit(X).labels_
    assert labels[-3:].tolist() == [-1, -1, -1]
    clustered = labels[:-3] != -1
    assert clustered.mean() > 0.95
    assert adjusted_rand_score(truth[clustered], labels[:-3][clustered]) == 1.0


def test_ward_on_a_sample_matches_the_full_fit(blobs):
    X, truth = blobs
    sampled = WardSegmenter(n_clusters=4, sample_size=120, random_state=0).fit(X)
    full = WardSegmenter(n_clusters=4, sample_size=None).fit(X)
    assert adjusted_rand_score(truth, sampled.labels_) == 1.0
    # equal-sized blobs: the numbering may differ, the partition may not
    assert adjusted_rand_score(full.labels_, sampled.labels_) == 1.0


def test_kmeans_recovers_blobs_with_member_mean_centres(blobs):
    X, truth = blobs
    model = KMeansSegmenter(n_clusters=4, random_state=0).fit(X)
    assert adjusted_rand_score(truth, model.labels_) == 1.0
    np.testing.assert_allclose(model.centers_[2], X[model.labels_ == 2].mean(axis=0))
    assert np.array_equal(model.predict(X), model.labels_)
    assert (np.diff(np.bincount(model.labels_)) <= 0).all()  # cluster 0 is the largest


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_fit_segmentation_is_deterministic(blobs, algorithm):
    X, truth = blobs
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    kwargs = {"k_range": range(3, 6), "sample_size": 200, "random_state": 1, "ward_sample_size": 150}
    first = fit_segmentation(frame, algorithm, **kwargs)
    again = fit_segmentation(frame, algorithm, **kwargs)
    assert np.array_equal(first.labels, again.labels)
    pd.testing.assert_frame_equal(first.centroids, again.centroids)
    assert first.metrics == again.metrics and first.params == again.params
    assert first.model_version == again.model_version
    assert list(first.centroids.columns) == list(frame.columns)
    assert first.params["n_clusters"] == 4
    assert adjusted_rand_score(truth, first.labels) > 0.95


def test_model_version_follows_data_and_parameters(blobs):
    X, _ = blobs
    frame = pd.DataFrame(X[:50], index=pd.Index([f"c{i}" for i in range(50)], name="customer_key"))
    params = {"algorithm": "kmeans", "n_clusters": 4, "random_state": 0}
    base = model_version(frame, params)
    assert base == model_version(frame.copy(), dict(reversed(params.items())))
    changed = frame.copy()
    changed.iat[3, 2] += 1e-9
    assert model_version(changed, params) != base
    assert model_version(frame.rename(index={"c0": "c999"}), params) != base
    assert model_version(frame, params | {"random_state": 1}) != base
    # the last bits that parallel aggregation changes between identical builds are not new data
    # (values are rounded to VERSION_DECIMALS = 10; a value at a rounding boundary is the rare miss)
    noisy = frame * (1 + 1e-15)
    assert not noisy.equals(frame) and model_version(noisy, params) == base
    assert model_version(-frame * 0.0, params) == model_version(frame * 0.0, params)  # -0.0 is 0.0
    run = fit_segmentation(frame, "kmeans", 4, random_state=0)
    assert run.model_version != fit_segmentation(frame, "kmeans", 4, random_state=0, n_init=2).model_version
    assert run.model_version != fit_segmentation(frame.iloc[1:], "kmeans", 4, random_state=0).model_version


def test_dbscan_that_finds_only_noise_is_a_clear_error(blobs):
    with pytest.raises(SegrecError, match="DBSCAN found no cluster"):
        fit_segmentation(blobs[0], "dbscan", eps=1e-6, min_samples=5)


def test_fit_segmentation_rejects_unknown_algorithm(blobs):
    with pytest.raises(SegrecError, match="algorithm 'hdbscan'"):
        fit_segmentation(blobs[0], "hdbscan")
