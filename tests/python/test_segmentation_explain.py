"""Decision rules, per-customer confidence and the 2-D projection."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from segrec.segmentation import assignment_confidence, explain_segments, fit_projection, project_2d
from segrec.segmentation.explain import format_threshold

# Three bands of revenue: <= 40, 200..500, >= 2000; premium share only separates bands 1 and 2.
BANDS = pd.DataFrame(
    {
        "monetary": [10, 20, 30, 40, 200, 300, 400, 500, 2000, 3000, 4000, 5000],
        "premium_share": [0.1, 0.9, 0.15, 0.85, 0.1, 0.2, 0.8, 0.9, 0.5, 0.5, 0.5, 0.5],
        "customer_key": [f"c{i}" for i in range(12)],  # text: ignored
    }
)
BAND_LABELS = np.repeat([0, 1, 2], 4)


def test_rules_merge_bounds_per_feature_and_are_exact():
    rules = explain_segments(BANDS[["monetary"]], BAND_LABELS, max_depth=2, random_state=0)
    assert rules.by_segment.to_dict() == {
        0: "monetary <= 120",
        1: "120 < monetary <= 1250",
        2: "monetary > 1250",
    }
    assert rules.fidelity == 1.0
    assert rules.leaves["precision"].tolist() == [1.0, 1.0, 1.0]
    assert rules.leaves["n_customers"].sum() == 12


def test_rules_on_two_features():
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2, 1, 1, 1, 1])  # band 2 split by premium share
    features = BANDS.assign(monetary=[10, 20, 30, 40, 200, 300, 400, 500, 600, 700, 800, 900])
    features.loc[8:, "premium_share"] = 0.1
    rules = explain_segments(features, labels, max_depth=2, random_state=0)
    assert rules.by_segment.to_dict() == {
        0: "monetary <= 120",
        1: "monetary > 120 and premium_share <= 0.50",
        2: "monetary > 120 and premium_share > 0.50",
    }
    assert rules.feature_names == ["monetary", "premium_share"]


def test_cluster_left_out_by_a_too_shallow_tree_gets_a_one_vs_rest_rule():
    # one split cannot give three bands a leaf each: the third band gets its own rule, while
    # fidelity still measures the shared tree
    rules = explain_segments(BANDS[["monetary"]], BAND_LABELS, max_depth=1, random_state=0)
    assert rules.fidelity == pytest.approx(8 / 12)
    assert rules.by_segment.tolist() == ["monetary <= 120", "monetary > 120", "monetary > 1250"]


def test_rules_learnt_on_a_sample_are_counted_on_every_customer():
    # 1,200 customers in the three bands; a 60-customer sample finds the same two thresholds
    features = pd.DataFrame({"monetary": np.tile(BANDS["monetary"].to_numpy(), 100)})
    labels = np.tile(BAND_LABELS, 100)
    full = explain_segments(features, labels, max_depth=2, random_state=0)
    sampled = explain_segments(features, labels, max_depth=2, random_state=0, sample_size=60)
    assert sampled.tree.tree_.n_node_samples[0] == 60
    assert sampled.leaves["n_customers"].tolist() == full.leaves["n_customers"].tolist() == [400, 400, 400]
    assert sampled.leaves["precision"].tolist() == [1.0, 1.0, 1.0]
    assert sampled.fidelity == 1.0
    with pytest.raises(Exception, match="sample_size must be at least 1"):
        explain_segments(features, labels, sample_size=0)


def test_format_threshold():
    assert [format_threshold(v) for v in (812.4, 45.55, 0.4125, -3.0)] == ["812", "45.5", "0.41", "-3.00"]


def test_assignment_confidence_on_a_hand_case():
    centroids = np.array([[0.0, 0.0], [10.0, 0.0]])
    X = np.array([[0.0, 0.0], [5.0, 0.0], [2.0, 0.0], [8.0, 0.0]])
    np.testing.assert_allclose(assignment_confidence(X, centroids), [1.0, 0.0, 0.75, 0.75])
    # own centroid given: closer to another one -> 0; noise -> 0
    np.testing.assert_allclose(
        assignment_confidence(X, centroids, labels=[1, 1, 0, -1]), [0.0, 0.0, 0.75, 0.0]
    )
    assert assignment_confidence(X, centroids[:1]).tolist() == [1.0, 1.0, 1.0, 1.0]


def test_projection_is_deterministic_with_a_fixed_sign():
    X, _ = make_blobs(n_samples=300, n_features=4, centers=3, random_state=2)
    coords = project_2d(X, random_state=0)
    assert coords.shape == (300, 2)
    np.testing.assert_array_equal(coords, project_2d(X, random_state=0))
    components = fit_projection(X).components_
    assert (components[np.arange(2), np.abs(components).argmax(axis=1)] > 0).all()
    # mirrored data: same components, mirrored picture
    np.testing.assert_allclose(project_2d(-X), -coords, atol=1e-9)
    assert coords[:, 0].var() >= coords[:, 1].var()


def test_splits_that_change_no_prediction_are_left_out_of_rules():
    # x < 50 is cluster 0 except three scattered customers: the tree splits the left side
    # further (it lowers impurity), but with 10 customers per leaf every leaf there still
    # predicts 0, so cluster 0 keeps one rule
    x = np.arange(100, dtype=float)
    labels = (x >= 50).astype(int)
    labels[[5, 20, 35]] = 1
    features = pd.DataFrame({"x": x})
    rules = explain_segments(features, labels, max_depth=3, min_samples_leaf=10)
    assert rules.tree.get_depth() >= 2
    assert rules.by_segment[0] == "x <= 49.5"
    assert (rules.leaves["cluster_id"] == 0).sum() == 1
