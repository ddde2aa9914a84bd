"""Choosing the feature set and k on the hold-out (segrec.segmentation.candidates) and the taste
groups (categories, else product names) on small synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from segrec.errors import SegrecError
from segrec.segmentation.candidates import (
    CANDIDATE_SCHEMA,
    CHOSEN,
    FEATURE_SETS,
    RFM_GROUPS,
    SPEND_QUINTILES,
    ValidationConfig,
    candidate_table,
    chosen_configuration,
    evaluate_candidates,
    feature_groups,
    feature_set_matrix,
    wide_features,
)
from segrec.segmentation.pipeline import SEGMENT_STRUCT, SegmentationConfig, _drivers
from segrec.segmentation.product_groups import GROUP_PREFIX, TASTE_COLUMNS, taste_groups

PROJECT = Path(__file__).resolve().parents[2] / "dbt_project.yml"


def test_validation_defaults_equal_the_dbt_var() -> None:
    var = yaml.safe_load(PROJECT.read_text())["vars"]["segmentation"]["validation"]
    assert var == ValidationConfig().__dict__
    assert SegmentationConfig().validation == ValidationConfig()
    assert "validation" not in SegmentationConfig().fit_params()  # the run records the choice, not the rule


def test_wide_features_pivots_and_fills_missing_group_shares() -> None:
    long = pd.DataFrame({
        "customer_key": ["b", "a", "a", "b", "a"],
        "feature": ["monetary", "monetary", GROUP_PREFIX + "toys", "ipt_cv", "ipt_cv"],
        "feature_value": [2.0, 1.0, 0.5, np.nan, 3.0],
    })
    wide = wide_features(long)
    assert list(wide.index) == ["a", "b"]
    assert list(wide.columns) == [GROUP_PREFIX + "toys", "ipt_cv", "monetary"]
    assert wide.loc["b", GROUP_PREFIX + "toys"] == 0.0  # never bought there
    assert np.isnan(wide.loc["b", "ipt_cv"])  # undefined stays missing (imputed later)
    with pytest.raises(SegrecError):
        wide_features(long.drop(columns="feature"))


def test_feature_groups_by_set() -> None:
    columns = ["recency_days", "frequency", "share_morning", "premium_share", GROUP_PREFIX + "toys", "unknown"]
    assert feature_groups(columns, "behaviour") == {
        "context": ["share_morning"], "price": ["premium_share"], "taste": [GROUP_PREFIX + "toys"],
    }
    taste = [GROUP_PREFIX + "toys"]
    assert feature_groups(columns, "value") == {"value": ["recency_days", "frequency"], "taste": taste}
    assert set(feature_groups(columns, "all")) == {"value", "taste", "context", "price"}
    with pytest.raises(SegrecError, match="feature set"):
        feature_groups(columns, "vibes")


def _shop(n: int = 300, random_state: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Three value tiers (spend 10 / 100 / 1000) that go on spending alike, and a daypart habit
    drawn independently of value: next-period value follows the tiers."""
    rng = np.random.default_rng(random_state)
    tier = np.repeat([0, 1, 2], n // 3)
    morning = rng.uniform(0, 1, n)
    features = pd.DataFrame({
        "recency_days": rng.uniform(1, 10, n) * (3 - tier),
        "frequency": 1.0 + 3 * tier + rng.integers(0, 2, n),
        "monetary": 10.0 ** (1 + tier) * rng.uniform(0.8, 1.2, n),
        "tenure_days": rng.uniform(100, 200, n),
        "avg_order_value": 10.0 ** (1 + tier) / (1 + 3 * tier),
        "share_morning": morning, "share_afternoon": 1 - morning,
        "conversion_rate": rng.uniform(0.2, 0.4, n), "premium_share": rng.uniform(0, 1, n),
    }, index=pd.Index([f"c{i:03d}" for i in range(n)], name="customer_key"))
    y = pd.Series(np.log1p(10.0 ** (1 + tier) * rng.uniform(0.5, 1.5, n)), index=features.index)
    return features, y


def test_evaluate_candidates_chooses_value_when_value_predicts() -> None:
    features, y = _shop()
    result = evaluate_candidates(features, y, k_min=2, k_max=5)
    table = result.table
    candidates = table.loc[table["segmentation"] == "candidate"]
    assert len(candidates) == len(FEATURE_SETS) * 4
    chosen = chosen_configuration(table)
    # the daypart habit explains nothing; value does, and the fewest k within 95% of the best R^2 wins
    assert chosen["feature_set"] == "value" and chosen["k"] == 2
    assert chosen["r2"] >= 0.9 * candidates["r2"].max()  # 95% of the best among the eligible
    assert candidates.loc[candidates["feature_set"] == "behaviour", "r2"].max() < 0.05
    assert set(table["segmentation"]) == {"candidate", SPEND_QUINTILES, RFM_GROUPS}
    # every customer has a named hold-out segment in each segmentation
    for name in (CHOSEN, SPEND_QUINTILES, RFM_GROUPS):
        assert result.labels[name].index.equals(features.index) and result.labels[name].notna().all()
    assert result.labels[CHOSEN].nunique() == 2
    # the same input gives the same table, in any row order
    again = evaluate_candidates(features.sample(frac=1.0, random_state=1), y, k_min=2, k_max=5)
    pd.testing.assert_frame_equal(again.table, table)
    # a shop larger than max_customers is judged on a deterministic sample, with the same choice
    sampled = evaluate_candidates(features, y, k_min=2, k_max=5, config=ValidationConfig(max_customers=150))
    assert len(sampled.labels[CHOSEN]) == 150 and sampled.labels[CHOSEN].index.isin(features.index).all()
    assert chosen_configuration(sampled.table)["feature_set"] == "value"
    resampled = evaluate_candidates(features.sample(frac=1.0, random_state=2), y, k_min=2, k_max=5,
                                    config=ValidationConfig(max_customers=150))
    pd.testing.assert_frame_equal(resampled.table, sampled.table)


def test_evaluate_candidates_rejects_bad_input() -> None:
    features, y = _shop(30)
    with pytest.raises(SegrecError, match="outcomes missing"):
        evaluate_candidates(features, y.iloc[:-1])
    with pytest.raises(SegrecError, match="customers"):
        evaluate_candidates(features.iloc[:3], y.iloc[:3], k_min=4)


def test_candidate_table_schema_lists_and_empty() -> None:
    features, y = _shop(90)
    result = evaluate_candidates(features, y, k_min=2, k_max=3, feature_sets=["value"])
    table = candidate_table(result, pd.Timestamp("2024-01-01"), 30)
    assert table.schema == CANDIDATE_SCHEMA
    rows = table.to_pandas()
    listed = rows.loc[rows["customer_keys"].map(len) > 0]
    assert sorted(listed["segmentation"]) == ["candidate", RFM_GROUPS, SPEND_QUINTILES]
    assert listed["is_chosen"].sum() == 1 and (listed["customer_keys"].map(len) == 90).all()
    assert candidate_table(None, None, None).num_rows == 0
    assert chosen_configuration(candidate_table(None, None, None).to_pandas()) is None


def test_feature_set_matrix_weights_the_value_group() -> None:
    features, _ = _shop(90)
    value = feature_set_matrix(features, "value", value_weight=3.0)
    groups = pd.Series(value.groups)
    variance = value.X.var(ddof=0).groupby(groups).sum()
    assert variance["value"] == pytest.approx(3.0)
    assert (variance.drop("value") == pytest.approx(1.0)).all()


def test_drivers_name_the_groups_that_set_segments_apart() -> None:
    X = pd.DataFrame({"monetary": [-1.0, -1.0, 1.0, 1.0], "share_morning": [0.1, -0.1, 0.1, -0.1]})
    drivers = _drivers(X, {"monetary": "value", "share_morning": "context"}, np.array([0, 0, 1, 1]))
    assert drivers[0].startswith("value 1.00") and drivers[1].startswith("value 1.00")
    assert _drivers(X, None, np.array([0, 0, 1, 1])) == {}
    assert "drivers" in SEGMENT_STRUCT.names


def test_taste_groups_use_categories_when_the_catalog_has_them() -> None:
    products = pd.DataFrame({
        "product_id": ["p1", "p2", "p3", "p4"],
        "category": ["Home & Garden", "Toys", "Toys", None],
        "product_name": ["a", "b", "c", "d"],
    })
    groups = taste_groups(products)
    assert list(groups.columns) == list(TASTE_COLUMNS)
    assert groups.set_index("product_id")["group_feature"].to_dict() == {
        "p1": GROUP_PREFIX + "home_garden", "p2": GROUP_PREFIX + "toys", "p3": GROUP_PREFIX + "toys",
    }
    assert set(groups["source"]) == {"category"}


def test_taste_groups_fall_back_to_names_then_to_nothing() -> None:
    words = ["lantern", "candle", "mug", "bag", "card", "clock"]
    names = [f"{w} {v}" for w in words for v in ("alpha", "beta", "gamma", "delta", "omega")]
    products = pd.DataFrame({
        "product_id": [f"p{i}" for i in range(len(names))],
        "category": "Uncategorized",
        "product_name": names,
    })
    groups = taste_groups(products, n_groups=3)
    assert set(groups["source"]) == {"name"} and groups["product_group"].nunique() <= 3
    assert groups["group_feature"].str.startswith(GROUP_PREFIX).all()
    unnamed = products.assign(product_name=None).iloc[:5]
    assert taste_groups(unnamed).empty
    with pytest.raises(SegrecError):
        taste_groups(products.drop(columns="category"))


def _validation_rows() -> pd.DataFrame:
    rows = [
        ("chosen", "value", 2, "Active high-value frequent buyers", 40, 0.4, 0.8, 0.5, 300.0, 0.8, 0.30, 0.25),
        ("chosen", "value", 2, "Lapsed low-value one-time buyers", 60, 0.6, 0.1, None, 50.0, 0.2, 0.30, 0.25),
        ("spend_quintiles", None, 5, "Spend quintile 1", 20, 0.2, 0.1, None, 10.0, 0.05, 0.20, None),
    ]
    frame = pd.DataFrame(rows, columns=[
        "segmentation", "feature_set", "k", "segment_name", "n_customers", "customer_share", "purchase_rate",
        "retention_rate", "mean_next_revenue", "next_revenue_share", "r2", "silhouette"])
    return frame.assign(cutoff_time=pd.Timestamp("2011-09-10"), horizon_days=90, baseline_r2=0.20,
                        passes_baseline=frame["r2"] >= 0.20)


def test_report_and_results_show_the_validation() -> None:
    from segrec.report.sections import validation_section
    from segrec.results.markdown import segment_validation_section

    section = validation_section(_validation_rows(), None)
    assert section.present and "spend quintiles 0.2" in section.body and "feature set value, k = 2" in section.body
    assert not validation_section(None, None).present
    assert "too short" in validation_section(_validation_rows().iloc[:0], None).body
    lines = segment_validation_section(_validation_rows())
    assert lines[0] == "### Segment validation" and "2011-09-10" in lines[1]
    assert "| chosen | value | 2 | 0.300 | 0.250 |" in lines[3]
    assert "| Active high-value frequent buyers |" in lines[5]
    assert segment_validation_section(None) == []


@pytest.mark.parametrize("algorithm", ["kmeans", "ward", "dbscan"])
def test_a_run_on_the_chosen_feature_set_names_by_value_with_every_algorithm(algorithm: str) -> None:
    from segrec.segmentation.pipeline import run_segmentation

    features, _ = _shop(240)
    screened = feature_set_matrix(features, "value")
    rules = pd.Series([[] for _ in features.index], index=features.index)
    config = SegmentationConfig(algorithm=algorithm, n_clusters=3, feature_set="value", k_max=5, min_samples=5)
    run = run_segmentation(screened.X, features, rules, None, config, scored_at=pd.Timestamp("2024-01-01"),
                           value_features=features, feature_groups=screened.groups)
    assert run is not None and run.n_customers == 240
    if algorithm != "dbscan":  # DBSCAN finds its own number of clusters
        assert run.n_clusters == 3
    names = [s["segment_name"] for s in run.segments]
    assert all(name.endswith(("buyers", "browsers")) or name[-1].isdigit() for name in names)
    assert all(s["drivers"] and s["drivers"][0].isalpha() for s in run.segments)
    assert '"feature_set": "value"' in run.parameters


def test_a_feature_set_without_variation_is_left_out() -> None:
    # order-level data at midnight, no devices or products (CDNOW): behaviour is constant
    features, y = _shop(90)
    features = features.assign(share_morning=0.0, share_afternoon=0.0, conversion_rate=1.0, premium_share=np.nan)
    table = evaluate_candidates(features, y, k_min=2, k_max=3).table
    assert set(table["feature_set"].dropna()) == {"value", "all"}
    with pytest.raises(SegrecError, match="no feature set varies"):
        evaluate_candidates(features, y, k_min=2, k_max=3, feature_sets=["behaviour"])


def test_matched_segments_keep_their_names_and_the_others_stay_unique() -> None:
    from segrec.segmentation.pipeline import _with_fixed_names

    names = pd.Series({0: "Active buyers", 1: "Lapsed buyers", 2: "Active buyers 2"})
    kept = _with_fixed_names(names, {1: "Active buyers"})
    assert kept.to_dict() == {0: "Active buyers 2", 1: "Active buyers", 2: "Active buyers 2 2"}
    assert kept.is_unique
    assert _with_fixed_names(names, {}).equals(names)
