"""Live visitors' segments (segrec.segmentation.online): the recorded scaling reproduces the
clustered matrix, features are updated by live events as hand-computed, and the centroid model
assigns as the warehouse does."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from segrec.errors import SegrecError
from segrec.segmentation.online import CentroidModel, LiveEvent, ProductFacts, update_features
from segrec.segmentation.validation import SCALING_COLUMNS, apply_scaling, group_matrix

T = pd.Timestamp


def test_recorded_scaling_puts_the_features_back_into_the_clustered_matrix_exactly():
    rng = np.random.default_rng(0)
    features = pd.DataFrame({
        "monetary": rng.lognormal(4, 1.5, 400),  # skewed: logged
        "frequency": rng.poisson(3, 400).astype(float),
        "share_night": rng.uniform(0, 1, 400),
        "constant": np.ones(400),  # near-constant: dropped
    })
    features.loc[::7, "monetary"] = np.nan  # imputed by the median
    matrix = group_matrix(features, {"value": ["monetary", "frequency", "constant"], "context": ["share_night"]},
                          group_weights={"value": 3.0})
    assert list(matrix.scaling.columns) == list(SCALING_COLUMNS)
    assert list(matrix.scaling.index) == list(matrix.X.columns) == ["monetary", "frequency", "share_night"]
    assert matrix.scaling.loc["monetary", "is_log"] and not matrix.scaling.loc["share_night", "is_log"]
    assert matrix.scaling.loc["monetary", "weight"] == pytest.approx(math.sqrt(3.0 / 2))
    pd.testing.assert_frame_equal(apply_scaling(features, matrix.scaling), matrix.X, check_exact=True)


PRODUCTS = {
    "p_new": ProductFacts(price_band="premium", launched_at=T("2026-06-25"), group_feature="group_share__b"),
    "p_old": ProductFacts(price_band="budget", launched_at=T("2025-01-01"), group_feature="group_share__a"),
}
BUILT = {  # a customer as of 2026-06-30: 4 events in 2 sessions, one order of 2 lines 10 days ago
    "share_morning": 0.5, "share_afternoon": 0.5, "share_evening": 0.0, "share_night": 0.0, "count__events": 4,
    "share_mobile": 1.0, "share_desktop": 0.0, "share_tablet": 0.0, "conversion_rate": 0.5, "count__sessions": 2,
    "premium_share": 0.5, "budget_share": 0.25, "new_arrival_share": 0.0, "count__product_events": 4,
    "count__priced_product_events": 4, "group_share__a": 1.0, "count__group_events": 4,
    "frequency": 1, "monetary": 100.0, "avg_order_value": 100.0, "avg_order_lines": 2.0, "avg_line_value": 50.0,
    "count__bought_lines": 2, "return_share": 0.0, "recency_days": 10.0, "tenure_days": 10.0,
    "orders_per_month": 1.0, "ipt_mean_days": None, "ipt_cv": None, "distinct_products": 2,
}


def live(time: str, event_type: str, product: str | None, device: str, daypart: str, *, order: str | None = None,
         revenue: float | None = None, event_id: str | None = None) -> LiveEvent:
    return LiveEvent(event_time=T(time), event_type=event_type, event_id=event_id or time, product_id=product,
                     order_id=order, device_type=device, daypart=daypart, revenue=revenue)


def test_live_events_update_shares_counts_and_order_features_as_hand_computed():
    events = [
        live("2026-07-01 18:00", "product_view", "p_new", "desktop", "evening"),
        live("2026-07-01 18:10", "purchase", "p_new", "desktop", "evening", order="o1", revenue=60.0),
        live("2026-07-01 20:00", "product_view", "p_old", "mobile", "evening"),  # 110 minutes later: a new session
    ]
    f = update_features(BUILT, events, PRODUCTS, as_of=T("2026-06-30"), now=T("2026-07-02"))
    expected = {
        "share_morning": 2 / 7, "share_afternoon": 2 / 7, "share_evening": 3 / 7, "share_night": 0.0,
        "count__events": 7, "share_mobile": 3 / 4, "share_desktop": 1 / 4, "share_tablet": 0.0,
        "conversion_rate": 2 / 4, "count__sessions": 4,
        "premium_share": 4 / 7, "budget_share": 2 / 7, "new_arrival_share": 2 / 7,  # p_new: launched 6 days before
        "count__product_events": 7, "count__priced_product_events": 7,
        "group_share__a": 5 / 7, "group_share__b": 2 / 7, "count__group_events": 7,
        "frequency": 2, "monetary": 160.0, "avg_order_value": 80.0, "avg_order_lines": 1.5,
        "avg_line_value": 160 / 3, "count__bought_lines": 3, "return_share": 0.0,
        "recency_days": 5 / 24 + 50 / 1440, "tenure_days": 12.0, "orders_per_month": 2.0,
        "ipt_mean_days": 11 + 18 / 24 + 10 / 1440, "ipt_cv": None, "distinct_products": 3,
    }
    assert f.keys() == expected.keys()
    for name, value in expected.items():
        assert f[name] == (None if value is None else pytest.approx(value, rel=1e-12)), name


def test_gap_statistics_are_carried_from_the_published_mean_and_variation():
    # three orders 6 and 14 days apart (mean 10, sample sd sqrt(32)); a fourth 10 days after the last
    built = {"frequency": 3, "ipt_mean_days": 10.0, "ipt_cv": math.sqrt(32) / 10, "recency_days": 0.0,
             "tenure_days": 20.0, "avg_order_value": 10.0, "avg_order_lines": 1.0}
    f = update_features(built, [live("2026-07-10", "purchase", None, "mobile", "night", order="o", revenue=10.0)],
                        PRODUCTS, as_of=T("2026-06-30"), now=T("2026-07-10"))
    assert f["frequency"] == 4 and f["ipt_mean_days"] == pytest.approx(10.0)
    assert f["ipt_cv"] == pytest.approx(4 / 10)  # gaps 6, 14, 10: sample sd 4
    assert f["recency_days"] == 0 and f["tenure_days"] == pytest.approx(30.0)


def test_a_visitor_the_build_has_not_seen_gets_features_from_live_events_alone():
    f = update_features({}, [live("2026-07-01 02:00", "product_view", "p_old", "mobile", "night")], PRODUCTS,
                        as_of=None, now=T("2026-07-01 08:00"))
    assert f["share_night"] == 1 and f["share_morning"] == 0 and f["share_mobile"] == 1
    assert f["conversion_rate"] == 0 and f["budget_share"] == 1 and f["group_share__a"] == 1
    assert f["frequency"] == 0 and f["orders_per_month"] == 0
    assert f["recency_days"] == f["tenure_days"] == pytest.approx(0.25)


def test_without_events_features_stay_and_a_clock_before_the_events_is_refused():
    assert update_features(BUILT, [], PRODUCTS, as_of=T("2026-06-30"), now=T("2026-07-02")) == BUILT
    with pytest.raises(SegrecError, match="before the last live event"):
        update_features(BUILT, [live("2026-07-03", "page_view", None, "mobile", "night")], PRODUCTS,
                        as_of=T("2026-06-30"), now=T("2026-07-02"))


def centroid_rows() -> pd.DataFrame:
    rows = []
    for segment, centre in ((1, (-1.0, 0.0)), (2, (1.0, 0.0))):
        for position, (feature, value) in enumerate(zip(("monetary", "group_share__a"), centre, strict=True), 1):
            rows.append({"run_id": "r", "model_version": "m", "segment_id": segment, "feature_position": position,
                         "feature": feature, "centroid_value": value, "impute_value": 100.0, "is_log": False,
                         "clip_low": -np.inf, "clip_high": np.inf, "center": 100.0, "scale": 50.0, "weight": 1.0})
    return pd.DataFrame(rows)


def test_centroid_model_assigns_to_the_nearest_centroid_in_the_scaled_space():
    model = CentroidModel.from_rows(centroid_rows())
    assert list(model.scaling.index) == ["monetary", "group_share__a"]
    assert model.assign({"monetary": 40.0, "group_share__a": 100.0}) == (1, pytest.approx(1 - 0.2 / 2.2))
    # monetary unknown: its impute value (0 scaled); the group share missing: 0 (-2 scaled); halfway:
    # the lower segment id, confidence 0
    segment, confidence = model.assign({})
    assert (segment, confidence) == (1, 0.0)
    with pytest.raises(SegrecError, match="no centroids"):
        CentroidModel.from_rows(centroid_rows().iloc[0:0])
