"""The SQL side of segment validation on a hand-checked fixture: the features of the macro
customer_features_as_of at the validation cutoff and now, the hold-out window and the outcomes
after the cutoff; and a shop too small to validate gets empty validation marts, not an error."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from segrec.rawio import write_raw_table

from .dbt_harness import PROJECT_ROOT, DbtProject

pytestmark = pytest.mark.dbt

AS_OF = "2024-03-31"
SEGMENTATION = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())["vars"]["segmentation"]
# 30-day hold-out: the data spans Jan 1 .. Mar 31 (90 days, enough), cutoff Mar 1 00:00.
VARS = {"as_of_date": AS_OF,
        "segmentation": SEGMENTATION | {"validation": SEGMENTATION["validation"] | {"horizon_days": 30}}}

# (customer_id, order_id, event_time, event_type, product_id, revenue)
EVENTS = [
    # a: order o1 (two lines, 100) Jan 1, order o2 (50) Jan 11, returns 15 of p2 Jan 20;
    # after the cutoff: order o3 (70) Mar 10 and a return of 10 Mar 20 -> next revenue 60
    ("a", "o1", "2024-01-01 09:00:00", "purchase", "p1", 60.0),
    ("a", "o1", "2024-01-01 09:00:00", "purchase", "p2", 40.0),
    ("a", "o2", "2024-01-11 09:00:00", "purchase", "p1", 50.0),
    ("a", "r1", "2024-01-20 12:00:00", "return", "p2", -15.0),
    ("a", "o3", "2024-03-10 09:00:00", "purchase", "p1", 70.0),
    ("a", "r2", "2024-03-20 12:00:00", "return", "p1", -10.0),
    # b: one order Feb 10 (active in the 30 days before the cutoff), nothing after: not retained
    ("b", "o4", "2024-02-10 08:00:00", "purchase", "p3", 20.0),
    # c: a product view before the cutoff (a browser then), a purchase after it
    ("c", None, "2024-02-20 12:00:00", "product_view", "p1", 0.0),
    ("c", "o5", "2024-03-05 12:00:00", "purchase", "p3", 30.0),
    # after the as-of date: ignored everywhere
    ("a", "o6", "2024-04-02 10:00:00", "purchase", "p1", 999.0),
]


def raw_events(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([
        dict(event_id=f"e{i}", event_time=time.replace(" ", "T"), loaded_at="2024-05-01T00:00:00",
             event_type=kind, customer_id=customer, product_id=product, order_id=order,
             quantity="1" if kind in ("purchase", "return") else None,
             unit_price=str(abs(revenue)) if kind in ("purchase", "return") else None,
             currency="USD" if kind in ("purchase", "return") else None)
        for i, (customer, order, time, kind, product, revenue) in enumerate(rows)
    ])


@pytest.fixture(scope="module")
def hand_db(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    raw = tmp_path_factory.mktemp("holdout_raw")
    write_raw_table(raw_events(EVENTS), "events", raw)
    project = DbtProject(raw_dir=raw, work_dir=Path(tmp_path_factory.mktemp("holdout_hand")))
    project.run("build", "--select", "+int_customers__value_features", "+segment_validation",
                "+segmentation_candidates", "+dim_customers", vars=VARS)
    con = duckdb.connect(str(project.db_path), read_only=True)
    yield con
    con.close()


def by_customer(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    """``table`` with customer_key replaced by the source customer_id."""
    ids = con.sql("select customer_key, customer_id from dim_customers").df()
    return con.table(table).df().merge(ids, on="customer_key").drop(columns="customer_key")


def test_holdout_window(hand_db):
    window = hand_db.table("int_segmentation__holdout_window").df().iloc[0]
    assert window["is_enabled"] and window["reason"] == "ok"
    assert window["horizon_days"] == 30
    assert window["cutoff_time"] == pd.Timestamp("2024-03-01")


def test_features_at_the_cutoff_by_hand(hand_db):
    long = by_customer(hand_db, "int_segmentation__holdout_features")
    assert (long["as_of_time"] == pd.Timestamp("2024-03-01")).all()
    features = long.pivot(index="customer_id", columns="feature", values="feature_value")
    a = features.loc["a"]
    expected_a = {
        "frequency": 2, "monetary": 135.0, "recency_days": 49.625, "tenure_days": 59.625,
        "avg_order_value": 75.0, "avg_order_lines": 1.5, "avg_line_value": 50.0,
        "orders_per_month": 2 * 30 / 59.625, "ipt_mean_days": 10.0, "distinct_products": 2,
        "return_share": 0.1,
    }
    assert a[list(expected_a)].to_dict() == pytest.approx(expected_a)
    assert math.isnan(a["ipt_cv"])  # two orders: one gap, no spread
    b = features.loc["b"]
    assert (b["frequency"], b["monetary"], b["recency_days"], b["return_share"]) == (1, 20.0, 19 + 16 / 24, 0.0)
    c = features.loc["c"]  # a browser at the cutoff: no orders, recency and tenure from the first event
    assert (c["frequency"], c["monetary"], c["recency_days"], c["tenure_days"]) == (0, 0.0, 9.5, 9.5)
    assert not any(name.startswith("group_share__") for name in features.columns)  # no names, no groups


def test_features_now_use_the_same_macro(hand_db):
    features = by_customer(hand_db, "int_customers__value_features").pivot(
        index="customer_id", columns="feature", values="feature_value")
    a = features.loc["a"]  # Mar 31: o3 and the second return count, the April order does not
    assert (a["frequency"], a["monetary"], a["recency_days"]) == (3, 195.0, 20 + 15 / 24)
    assert features.loc["c", "frequency"] == 1


def test_outcomes_by_hand(hand_db):
    outcomes = by_customer(hand_db, "int_segmentation__holdout_outcomes").set_index("customer_id").sort_index()
    assert outcomes["next_revenue"].to_dict() == {"a": 60.0, "b": 0.0, "c": 30.0}
    assert outcomes["log_next_revenue"].to_numpy() == pytest.approx([math.log(61), 0.0, math.log(31)])
    assert outcomes["purchased"].tolist() == [True, False, True]
    assert outcomes["active_before"].tolist() == [False, True, False]
    assert not outcomes.loc["b", "retained"]
    assert outcomes.loc[["a", "c"], "retained"].isna().all()


def test_too_few_customers_leave_the_validation_empty(hand_db):
    assert hand_db.sql("select count(*) from segmentation_candidates").fetchall()[0][0] == 0
    assert hand_db.sql("select count(*) from segment_validation").fetchall()[0][0] == 0


def test_data_too_short_for_a_hold_out_skips_it_with_a_reason(tmp_path_factory):
    raw = tmp_path_factory.mktemp("short_raw")
    write_raw_table(raw_events(EVENTS), "events", raw)
    project = DbtProject(raw_dir=raw, work_dir=Path(tmp_path_factory.mktemp("short_hand")))
    # 90 days of data: half is 45, below a 60-day minimum
    validation = SEGMENTATION["validation"] | {"min_horizon_days": 60}
    short = {**VARS, "segmentation": SEGMENTATION | {"validation": validation}}
    project.run("build", "--select", "+segment_validation", "+segmentation_candidates", vars=short)
    window = project.query("select * from int_segmentation__holdout_window").iloc[0]
    assert not window["is_enabled"] and pd.isna(window["cutoff_time"])
    assert window["reason"] == "the data spans 90 days: a hold-out of at least 60 days after a cutoff needs twice that"
    for table in ("int_segmentation__holdout_features", "int_segmentation__holdout_outcomes", "segment_validation",
                  "segmentation_candidates"):
        assert len(project.query(f"select * from {table}")) == 0, table
