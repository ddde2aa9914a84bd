"""Segment validation on a temporal hold-out and product groups from names (issue 12, parts 2-3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segrec.errors import SegrecError
from segrec.segmentation.product_groups import GROUP_PREFIX, group_spend_shares, product_groups
from segrec.segmentation.validation import (
    between_group_r2,
    choose_configuration,
    customer_features,
    group_drivers,
    group_matrix,
    name_value_segments,
    next_period_outcomes,
    rfm_score_groups,
    segment_outcomes,
    spend_quintiles,
)


def _lines(rows: list[tuple[str, str, str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "product_id", "event_time", "revenue"])
    frame["event_time"] = pd.to_datetime(frame["event_time"])
    return frame


def test_between_group_r2_exact_on_six_customers() -> None:
    # y = 1, 3 | 5, 7 | 2, 2: SS_total = 92 - 6 * (10/3)^2 = 76/3, SS_within = 2 + 2 + 0 = 4.
    y = np.array([1.0, 3.0, 5.0, 7.0, 2.0, 2.0])
    labels = np.array(["a", "a", "b", "b", "c", "c"])
    assert between_group_r2(y, labels) == pytest.approx(1 - 4 / (76 / 3))  # 16/19
    assert between_group_r2(y, np.zeros(6)) == pytest.approx(0.0)
    assert between_group_r2(y, np.arange(6)) == pytest.approx(1.0)
    assert between_group_r2(np.full(6, 3.0), labels) == 0.0
    with pytest.raises(SegrecError):
        between_group_r2(y, labels[:5])


def test_next_period_outcomes_and_r2_on_a_toy_shop() -> None:
    cutoff = pd.Timestamp("2024-04-01")
    lines = _lines([
        ("c1", "o1", "p1", "2024-03-20", 10.0),  # active before, buys 100 after: retained
        ("c1", "o2", "p1", "2024-04-10", 100.0),
        ("c2", "o3", "p2", "2024-03-25", 20.0),  # active before, buys nothing after
        ("c3", "o4", "p2", "2023-10-01", 30.0),  # not active before, buys after
        ("c3", "o5", "p2", "2024-05-01", 50.0),
        ("c3", "o5r", "p2", "2024-05-02", -10.0),  # a return in the window nets out
        ("c4", "o6", "p1", "2024-03-01", 5.0),
        ("c4", "o7", "p1", "2024-08-01", 999.0),  # after the 90-day window: not counted
    ])
    customers = pd.Index(["c1", "c2", "c3", "c4"], name="customer_id")
    out = next_period_outcomes(lines, customers, cutoff, horizon_days=90)
    assert out["next_revenue"].tolist() == [100.0, 0.0, 40.0, 0.0]
    assert out["log_next_revenue"].tolist() == pytest.approx(np.log1p([100.0, 0.0, 40.0, 0.0]).tolist())
    assert out["purchased"].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert out["active_before"].tolist() == [1.0, 1.0, 0.0, 1.0]
    assert out["retained"].iloc[[0, 1, 3]].tolist() == [1.0, 0.0, 0.0] and np.isnan(out["retained"].iloc[2])

    labels = pd.Series(["buyers", "other", "buyers", "other"], index=customers)
    table = segment_outcomes(labels, out)
    assert table.loc["buyers", "purchase_rate"] == 1.0 and table.loc["other", "purchase_rate"] == 0.0
    assert table.loc["buyers", "mean_next_revenue"] == 70.0
    assert table.loc["buyers", "next_revenue_share"] == pytest.approx(1.0)
    assert table["customer_share"].sum() == pytest.approx(1.0)
    y = out["log_next_revenue"].to_numpy()
    within = ((y[[0, 2]] - y[[0, 2]].mean()) ** 2).sum()  # the 'other' group is all zeros
    assert between_group_r2(y, labels) == pytest.approx(1 - within / ((y - y.mean()) ** 2).sum())


def test_customer_features_from_lines() -> None:
    lines = _lines([
        ("c1", "o1", "p1", "2024-01-01 09:00", 10.0),
        ("c1", "o1", "p2", "2024-01-01 09:00", 30.0),
        ("c1", "o2", "p1", "2024-01-11 14:00", 20.0),
        ("c1", "o3", "p3", "2024-01-31 20:00", 30.0),
        ("c1", "r1", "p1", "2024-02-01 10:00", -6.0),
        ("c2", "o4", "p1", "2024-02-05 10:00", 8.0),
        ("c2", "o5", "p1", "2024-03-05 10:00", 8.0),  # after as_of: ignored
    ])
    f = customer_features(lines, pd.Timestamp("2024-02-10"))
    c1 = f.loc["c1"]
    assert c1["frequency"] == 3 and c1["monetary"] == pytest.approx(84.0)
    assert c1["recency_days"] == pytest.approx(9 + 4 / 24)  # 2024-01-31 20:00 to 2024-02-10
    assert c1["avg_order_value"] == pytest.approx(30.0) and c1["avg_order_lines"] == pytest.approx(4 / 3)
    assert c1["ipt_mean_days"] == pytest.approx((10 + 5 / 24 + 20 + 6 / 24) / 2)
    assert c1["distinct_products"] == 3 and c1["return_share"] == pytest.approx(6 / 90)
    assert c1[["share_morning", "share_afternoon", "share_evening", "share_night"]].tolist() == pytest.approx(
        [1 / 3, 1 / 3, 1 / 3, 0.0])
    assert f.loc["c2", "frequency"] == 1 and np.isnan(f.loc["c2", "ipt_mean_days"])


def test_spend_quintiles_and_rfm_groups() -> None:
    monetary = pd.Series([5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 10.0, 4.0, 8.0, 6.0])
    q = spend_quintiles(monetary)
    assert q.value_counts().tolist() == [2] * 5
    assert q[monetary.idxmax()] == 5 and q[monetary.idxmin()] == 1
    recency = pd.Series(np.arange(10, dtype=float))  # customer 0 bought most recently
    frequency = pd.Series(np.arange(10, 0, -1, dtype=float))  # and most often
    groups = rfm_score_groups(recency, frequency)
    assert groups.iloc[0] == "Champions" and groups.iloc[-1] == "Hibernating"


def test_group_matrix_screens_and_equalises_groups() -> None:
    rng = np.random.default_rng(0)
    n = 400
    base = rng.normal(size=n)
    features = pd.DataFrame({
        "monetary": np.exp(base + rng.normal(scale=0.5, size=n)),  # skewed: logged
        "frequency": rng.poisson(3, size=n).astype(float),
        "constant": np.ones(n),
        "copy_of_frequency": None,
        **{f"share_{i}": rng.dirichlet(np.ones(6), size=n)[:, i] for i in range(6)},
    })
    features["copy_of_frequency"] = features["frequency"] * 2 + 1
    groups = {"value": ("monetary", "frequency", "constant", "copy_of_frequency"),
              "context": tuple(f"share_{i}" for i in range(6))}
    gm = group_matrix(features, groups, clip_quantile=0.0)
    assert gm.dropped["constant"] == "near-constant"
    assert gm.dropped["copy_of_frequency"].endswith("with frequency")
    variance = gm.X.var(ddof=0)
    assert variance[["monetary", "frequency"]].sum() == pytest.approx(1.0)
    assert variance[[f"share_{i}" for i in range(6)]].sum() == pytest.approx(1.0)
    weighted = group_matrix(features, groups, group_weights={"value": 3.0})
    assert weighted.X.var(ddof=0)[["monetary", "frequency"]].sum() == pytest.approx(3.0)
    labels = (features["frequency"] > 3).astype(int).to_numpy()
    drivers = group_drivers(gm.X, gm.groups, labels)
    assert (drivers["value"] > drivers["context"]).all()


def test_choose_configuration_rule() -> None:
    table = pd.DataFrame([
        # geometry alone would pick this (best silhouette) though it explains nothing
        {"feature_set": "context", "k": 3, "silhouette": 0.80, "r2": 0.01, "min_share": 0.2},
        {"feature_set": "value", "k": 2, "silhouette": 0.30, "r2": 0.15, "min_share": 0.3},
        {"feature_set": "value", "k": 4, "silhouette": 0.28, "r2": 0.20, "min_share": 0.1},
        {"feature_set": "value", "k": 6, "silhouette": 0.25, "r2": 0.205, "min_share": 0.05},
        {"feature_set": "value", "k": 8, "silhouette": 0.26, "r2": 0.25, "min_share": 0.01},  # a 1% segment
        {"feature_set": "value", "k": 7, "silhouette": 0.10, "r2": 0.24, "min_share": 0.05},  # too loose
    ])
    chosen = choose_configuration(table)
    # eligible max r2 is 0.205; within 5% of it: k 4 (0.20) and 6; the fewest segments win
    assert (chosen["feature_set"], chosen["k"]) == ("value", 4)
    with pytest.raises(SegrecError):
        choose_configuration(table.drop(columns="r2"))


def test_name_value_segments_reads_as_actions() -> None:
    features = pd.DataFrame({
        "recency_days": [5.0, 8.0, 200.0, 250.0, 90.0, 100.0],
        "frequency": [12.0, 9.0, 1.0, 1.0, 2.0, 3.0],
        "monetary": [5000.0, 4000.0, 50.0, 40.0, 300.0, 350.0],
        "avg_order_value": [400.0, 450.0, 50.0, 40.0, 150.0, 120.0],
        "return_share": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        GROUP_PREFIX + "christmas": [0.0, 0.1, 0.0, 0.0, 0.9, 0.8],
    }, index=[f"c{i}" for i in range(6)])
    labels = pd.Series([0, 0, 1, 1, 2, 2], index=features.index)
    names = name_value_segments(features, labels, taste_labels={GROUP_PREFIX + "christmas": "Christmas"}, taste_z=0.9,
                                typical_gap_days=60.0)
    assert names.loc[0, "segment_name"] == "Active high-value frequent big-basket buyers"
    assert names.loc[1, "segment_name"] == "Lapsed low-value one-time buyers"
    assert names.loc[2, "segment_name"] == "Cooling mid-value repeat Christmas buyers"  # 95 days: 1.6 gaps
    assert "Action: protect" in names.loc[0, "description"]


def _planted_catalog() -> pd.Series:
    christmas = ["christmas", "tree", "bauble", "santa", "snowflake", "reindeer"]
    garden = ["garden", "trowel", "seed", "watering", "flowerpot", "hose"]
    names = {}
    for i in range(30):
        for theme, words in (("x", christmas), ("g", garden)):
            picks = [words[(i + j) % len(words)] for j in (0, 2, 3)]
            colour = ["RED", "BLUE", "PINK"][i % 3]  # variant words shared by both themes
            names[f"{theme}{i:02d}"] = f"{colour} {' '.join(picks).upper()} SET OF {i % 4 + 2}"
    return pd.Series(names, name="name")


@pytest.mark.parametrize("method", ["nmf", "kmeans"])
def test_product_groups_recover_two_planted_vocabularies(method: str) -> None:
    names = _planted_catalog()
    found = product_groups(names, 2, method=method, min_df=2, random_state=0)
    theme = names.index.str[0]
    assert found.assignment.groupby(theme).nunique().tolist() == [1, 1]
    assert found.assignment[theme == "x"].iloc[0] != found.assignment[theme == "g"].iloc[0]
    labels = " ".join(found.groups["label"])
    assert "red" not in labels and "set" not in labels  # variant words are stop words
    assert found.groups["n_products"].sum() == len(names)
    again = product_groups(names, 2, method=method, min_df=2, random_state=0)
    pd.testing.assert_series_equal(found.assignment, again.assignment)


def test_group_spend_shares() -> None:
    assignment = pd.Series({"p1": 0, "p2": 1, "p3": -1})
    lines = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "c"],
        "product_id": ["p1", "p2", "p3", "p1", "p2", "p1"],
        "revenue": [30.0, 10.0, 10.0, -5.0, 4.0, -1.0],
    })
    shares = group_spend_shares(lines, assignment, group_names=["xmas", "garden"])
    assert list(shares.columns) == [GROUP_PREFIX + "xmas", GROUP_PREFIX + "garden", GROUP_PREFIX + "other"]
    assert shares.loc["a"].tolist() == pytest.approx([0.6, 0.2, 0.2])
    assert shares.loc["b"].tolist() == pytest.approx([0.0, 1.0, 0.0])
    assert shares.loc["c"].tolist() == [0.0, 0.0, 0.0]  # only a return: no spend
