"""Across runs: cluster matching, segment ids, stability, transitions, refit policy."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segrec.errors import SegrecError
from segrec.segmentation import (
    assign_segment_ids,
    assign_to_nearest,
    match_clusters,
    should_refit,
    stability,
    transition_counts,
)

CENTROIDS = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0], [5.0, 20.0]])


def test_match_clusters_returns_the_exact_permutation():
    perm = [3, 0, 4, 1, 2]
    shifted = CENTROIDS[perm] + 0.3  # the same groups, drifted a little
    assert match_clusters(CENTROIDS, shifted) == {0: 3, 1: 0, 2: 4, 3: 1, 4: 2}


def test_match_clusters_uses_dataframe_ids_and_aligns_columns():
    prev = pd.DataFrame(CENTROIDS, columns=["a", "b"], index=[10, 11, 12, 13, 14])
    new = pd.DataFrame(CENTROIDS[[4, 2, 0, 1, 3]][:, ::-1], columns=["b", "a"])  # columns swapped
    assert match_clusters(prev, new) == {0: 14, 1: 12, 2: 10, 3: 11, 4: 13}


def test_match_clusters_with_unequal_counts_and_a_distance_cap():
    assert match_clusters(CENTROIDS[:3], CENTROIDS[[2, 0]]) == {0: 2, 1: 0}
    assert match_clusters(CENTROIDS[:2], CENTROIDS[[1, 4, 0]]) == {0: 1, 2: 0}
    far = np.array([[0.0, 0.5], [40.0, 40.0]])
    assert match_clusters(CENTROIDS[:2], far, max_distance=5.0) == {0: 0}


def test_assign_segment_ids_keeps_matched_ids_and_numbers_new_ones():
    ids = assign_segment_ids([2, 0, 1, -1, 3, 0], {0: 5, 2: 3}, next_id=7)
    assert ids == {-1: -1, 0: 5, 1: 7, 2: 3, 3: 8}


def test_assign_to_nearest_on_a_hand_case():
    centroids = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X = np.array([[1.0, 1.0], [9.0, -1.0], [2.0, 8.0], [5.0, 0.0], [6.0, 0.0]])
    assert assign_to_nearest(X, centroids).tolist() == [0, 1, 2, 0, 1]  # [5, 0]: tie -> first
    named = pd.DataFrame(centroids, columns=["x", "y"], index=pd.Index([7, 3, 9], name="segment_id"))
    rows = pd.DataFrame(X[:, ::-1], columns=["y", "x"])
    assert assign_to_nearest(rows, named).tolist() == [7, 3, 9, 7, 3]


def test_assign_to_nearest_names_missing_columns():
    with pytest.raises(SegrecError, match="column.*y"):
        assign_to_nearest(pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": [0.0], "y": [0.0]}))


def test_stability_is_one_for_relabelled_identical_partitions():
    prev = np.array([0, 0, 1, 1, 2, 2, 2])
    assert stability(prev, np.array([5, 5, 9, 9, 1, 1, 1])) == 1.0


def test_stability_on_a_tiny_hand_case():
    prev, new = [0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]
    # pairs together in both: 2; in prev: 6; in new: 3; of C(6,2) = 15 pairs
    # ARI = (2 - 6*3/15) / ((6+3)/2 - 6*3/15) = 0.8 / 3.3
    assert stability(np.array(prev), np.array(new)) == pytest.approx(8 / 33)
    assert stability(np.array(prev), np.array(new)) == pytest.approx(adjusted_rand_score(prev, new))


def test_stability_uses_only_customers_present_in_both_runs():
    keys = list("abcdef")
    prev = pd.Series([0, 0, 0, 1, 1, 1, 4], index=keys + ["gone"])
    new = pd.Series([2, 2, 1, 1, 0, 0, 3], index=keys + ["new"]).iloc[::-1]
    assert stability(prev, new) == pytest.approx(8 / 33)
    with pytest.raises(SegrecError, match="no customer in common"):
        stability(pd.Series([1], index=["x"]), pd.Series([1], index=["y"]))
    with pytest.raises(SegrecError, match="differ in length"):
        stability(np.array([0, 1]), np.array([0, 1, 1]))


def test_transition_counts_with_entries_and_exits():
    prev = pd.Series({"a": 0, "b": 0, "c": 1, "d": 1})
    new = pd.Series({"a": 0, "b": 1, "c": 1, "e": 2})
    out = transition_counts(prev, new)
    assert list(out.columns) == ["from_segment_id", "to_segment_id", "n_customers"]
    rows = [tuple(None if pd.isna(v) else int(v) for v in row) for row in out.itertuples(index=False)]
    assert rows == [(None, 2, 1), (0, 0, 1), (0, 1, 1), (1, None, 1), (1, 1, 1)]
    inner = transition_counts(prev, new, include_entries_exits=False)
    assert inner["n_customers"].sum() == 3 and not inner.isna().any().any()


@pytest.mark.parametrize(
    ("args", "kwargs", "refit", "reason"),
    [
        ((0.9, 0.99), {"force": True}, True, "forced"),
        ((None, None), {"has_model": False}, True, "no previous model"),
        ((0.2, 0.95), {}, True, "silhouette 0.200 below 0.25"),
        ((0.5, 0.7), {}, True, "stability 0.700 below 0.8"),
        ((float("nan"), 0.9), {}, True, "silhouette nan"),
        ((0.5, None), {}, False, "within thresholds"),
        ((0.25, 0.8), {}, False, "within thresholds"),
    ],
)
def test_should_refit_policy(args, kwargs, refit, reason):
    decision = should_refit(*args, **kwargs)
    assert decision.refit is refit and reason in decision.reason
