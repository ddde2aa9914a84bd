"""customer_value_scores and the customer_predictions mart.

The Python model's function runs on a hand-written fct_events in memory (a stub ``dbt``):
exact purchase days, net-of-returns values and gaps; the dbt build on a small generated
dataset checks the mart's columns, ranges and churn bands (test_run.py builds it empty, on a
dataset with too few repeat buyers)."""

from __future__ import annotations

import importlib.util
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from segrec.clv import (
    SCORE_COLUMNS,
    churn_risk_band,
    fit_customer_value,
    predict_customer_value,
    summarize_transactions,
)
from segrec.errors import SegrecError
from segrec.generate.dataset import generate, write

from .conftest import PROJECT_ROOT, DbtProject

MODEL_PATH = PROJECT_ROOT / "python_models" / "customer_value_scores.py"
CONFIG = {"as_of_date": "2024-03-31", "min_repeat_customers": 2, "churn_thresholds": [0.3, 0.7]}
CONTRACT_COLUMNS = [
    "customer_key", "as_of_date", "first_purchase_date", "last_purchase_date", "purchase_days",
    "days_since_last_purchase", "avg_repeat_value", "expected_purchases_90d", "probability_active",
    "predicted_value_90d", "expected_next_order_date", "churn_risk_band", "churn_risk_basis", "model_version",
]


def load_model():
    spec = importlib.util.spec_from_file_location("customer_value_scores", MODEL_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class StubConfig(dict):
    """``dbt.config(...)`` (ignored) and ``dbt.config.get(key)`` as in a dbt Python model."""

    def __call__(self, **kwargs) -> None:
        pass


class StubDbt:
    """The part of dbt's Python model API the model uses: ``ref`` and ``config``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, config: dict) -> None:
        self.con, self.config = con, StubConfig(config)

    def ref(self, name: str) -> duckdb.DuckDBPyRelation:
        return self.con.table(name)


def filler_customers(n: int = 40) -> list[tuple]:
    """Deterministic buyers so both models have data to fit: half buy every few days until the
    end, half stop after a few purchases (so dropout is identified), a few buy once."""
    rows = []
    for i in range(n):
        first, gap = date(2024, 1, 1) + timedelta(days=i), 4 + i % 5
        count = 1 if i % 10 == 9 else (90 - i) // gap if i % 2 == 0 else 2 + i % 4
        rows += [(f"f{i:02d}", f"{first + timedelta(days=k * gap)} 10:00:00", "purchase", 10.0 + i + 3 * k)
                 for k in range(count)]
    return rows


@pytest.fixture
def events_db() -> duckdb.DuckDBPyConnection:
    """fct_events / dim_customers with four hand-checked customers (a..d), an anonymous buyer,
    a purchase after the as-of date, a page view, and filler customers."""
    rows = [
        # a: 100 on Jan 1, two orders (50 + 30) on Jan 11, returns 36 -> net share 144/180 = 0.8
        ("a", "2024-01-01 09:00:00", "purchase", 100.0),
        ("a", "2024-01-11 09:00:00", "purchase", 50.0),
        ("a", "2024-01-11 17:30:00", "purchase", 30.0),
        ("a", "2024-01-20 12:00:00", "return", -36.0),
        # b: three purchase days, no returns; a page view does not count
        ("b", "2024-01-05 08:00:00", "purchase", 20.0),
        ("b", "2024-02-04 08:00:00", "purchase", 40.0),
        ("b", "2024-03-05 08:00:00", "purchase", 60.0),
        ("b", "2024-03-06 08:00:00", "page_view", 0.0),
        # c: one purchase; d: one purchase, all returned (net value 0)
        ("c", "2024-03-01 23:59:00", "purchase", 10.0),
        ("d", "2024-01-02 10:00:00", "purchase", 25.0),
        ("d", "2024-01-09 10:00:00", "return", -25.0),
        # anonymous buyer: not scored; a purchase after the as-of date: ignored
        ("anon", "2024-02-01 10:00:00", "purchase", 500.0),
        ("c", "2024-04-02 10:00:00", "purchase", 999.0),
        *filler_customers(),
    ]
    events = pd.DataFrame(rows, columns=["customer_key", "event_time", "event_type", "revenue"])
    events["event_time"] = pd.to_datetime(events["event_time"])
    customers = pd.DataFrame({"customer_key": events["customer_key"].unique()})
    customers["is_anonymous"] = customers["customer_key"] == "anon"
    con = duckdb.connect()
    con.register("events_frame", events)
    con.register("customers_frame", customers)
    con.execute("create table fct_events as select * from events_frame")
    con.execute("create table dim_customers as select * from customers_frame")
    yield con
    con.close()


def test_scores_by_hand(events_db):
    scores = load_model().model(StubDbt(events_db, CONFIG), events_db).set_index("customer_key")
    assert "anon" not in scores.index and len(scores) == 4 + 40
    assert (scores["as_of_date"] == pd.Timestamp("2024-03-31")).all()
    by_hand = pd.DataFrame(
        {
            # repeat days, T (days to 2024-03-31), first to last day, days to 2nd day, mean repeat value
            "repeat_purchase_days": [1.0, 2.0, 0.0, 0.0],
            "days_since_first_purchase": [90.0, 86.0, 30.0, 89.0],
            "days_first_to_last_purchase": [10.0, 60.0, 0.0, 0.0],
            "days_to_second_purchase": [10.0, 30.0, np.nan, np.nan],
            "avg_repeat_value": [80.0 * 0.8, 50.0, 0.0, 0.0],
        },
        index=pd.Index(["a", "b", "c", "d"], name="customer_key"),
    )
    pd.testing.assert_frame_equal(scores.loc[by_hand.index, by_hand.columns], by_hand)
    assert (scores.loc[["c", "d"], "probability_active"] == 1.0).all()  # BG/NBD: no dropout before a repeat
    assert scores["model_version"].nunique() == 1 and scores["model_parameters"].nunique() == 1


def test_scores_are_segrec_clv_predictions_on_net_day_values(events_db):
    """Same numbers as segrec.clv on purchase days valued net of returns, computed here in pandas."""
    scores = load_model().model(StubDbt(events_db, CONFIG), events_db)
    events = events_db.sql("select * from fct_events where customer_key <> 'anon' and event_time <= '2024-03-31'").df()
    totals = events.pivot_table(index="customer_key", columns="event_type", values="revenue", aggfunc="sum")
    net_share = (1 + totals["return"].fillna(0) / totals["purchase"]).clip(lower=0)
    purchases = events[events["event_type"] == "purchase"].assign(day=lambda f: f["event_time"].dt.floor("D"))
    days = purchases.groupby(["customer_key", "day"], as_index=False)["revenue"].sum()
    days["revenue"] *= days["customer_key"].map(net_share)
    summary = summarize_transactions(days, order_time="day", observation_end="2024-03-31")
    purchases_model, spend_model = fit_customer_value(summary)
    expected = predict_customer_value(summary, purchases_model, spend_model, as_of="2024-03-31")
    merged = expected.merge(scores, on="customer_key", suffixes=("_expected", ""))
    assert len(merged) == len(scores) == len(expected)
    for column in ("expected_purchases_90d", "probability_active", "predicted_value_90d"):
        np.testing.assert_allclose(merged[column], merged[f"{column}_expected"], rtol=1e-6)
    assert (merged["model_version"] == merged["model_version_expected"]).all()
    assert (merged["churn_risk_band"] == merged["churn_risk_band_expected"]).all()


def test_too_few_repeat_buyers_give_an_empty_table_and_a_log_line(events_db, capsys):
    config = {**CONFIG, "min_repeat_customers": 1000}
    scores = load_model().model(StubDbt(events_db, config), events_db)
    assert scores.empty
    assert list(scores.columns) == list(SCORE_COLUMNS)
    assert "fewer than min_repeat_customers (1000): no scores" in capsys.readouterr().out


def test_spend_without_finite_mean_leaves_only_the_value_null(capsys):
    """Spend spread over four orders of magnitude across customers: Gamma-Gamma q <= 1."""
    rows = [(key, time, kind, value * 10 ** (int(key[1:]) % 4)) for key, time, kind, value in filler_customers()]
    events = pd.DataFrame(rows, columns=["customer_key", "event_time", "event_type", "revenue"])
    con = duckdb.connect()
    con.register("events_frame", events.assign(event_time=pd.to_datetime(events["event_time"])))
    con.execute("create table fct_events as select * from events_frame")
    con.execute("create table dim_customers as select distinct customer_key, false as is_anonymous from events_frame")
    scores = load_model().model(StubDbt(con, CONFIG), con)
    assert len(scores) == 40 and scores["predicted_value_90d"].isna().all()
    assert np.isfinite(scores["expected_purchases_90d"]).all() and scores["churn_risk_band"].notna().all()
    assert "predicted_value_90d is null" in capsys.readouterr().out


def test_bad_thresholds_fail_fast(events_db):
    with pytest.raises(SegrecError, match="thresholds: need 0 <= low <= high <= 1"):
        load_model().model(StubDbt(events_db, {**CONFIG, "churn_thresholds": [0.8, 0.2]}), events_db)


def test_no_purchases_at_all_give_an_empty_table(capsys):
    con = duckdb.connect()
    con.execute("create table fct_events as select 'x' as customer_key, timestamp '2024-01-01' as event_time, "
                "'page_view' as event_type, 0.0 as revenue")
    con.execute("create table dim_customers as select 'x' as customer_key, false as is_anonymous")
    scores = load_model().model(StubDbt(con, {**CONFIG, "as_of_date": ""}), con)
    assert scores.empty
    assert "0 repeat buyers among 0 customers" in capsys.readouterr().out


# ---------------------------------------------------------------------------- dbt


@pytest.fixture(scope="module")
def generated_build(tmp_path_factory) -> DbtProject:
    raw = tmp_path_factory.mktemp("customer_value_raw")
    write(generate(n_customers=300, days=120, seed=7), raw)
    project = DbtProject(raw_dir=raw, work_dir=tmp_path_factory.mktemp("customer_value"))
    project.run("build", "--select", "+customer_predictions")
    return project


@pytest.mark.dbt
def test_customer_predictions_on_generated_data(generated_build):
    predictions = generated_build.query("select * from customer_predictions")
    assert list(predictions.columns) == CONTRACT_COLUMNS
    buyers = generated_build.query(
        """
        select count(distinct events.customer_key) as n
        from fct_events as events
        inner join dim_customers as customers on events.customer_key = customers.customer_key
        where events.event_type = 'purchase' and not customers.is_anonymous
        """
    )["n"].iloc[0]
    assert len(predictions) == buyers > 100
    assert predictions["probability_active"].between(0, 1).all()
    assert (predictions["expected_purchases_90d"] >= 0).all()
    value = predictions["predicted_value_90d"]  # null only all together (spend without a finite mean)
    assert (value >= 0).all() or value.isna().all()
    assert set(predictions["churn_risk_band"]) <= {"low", "medium", "high"}
    repeat = predictions[predictions["purchase_days"] > 1]
    assert (repeat["churn_risk_band"] == churn_risk_band(repeat["probability_active"], (0.3, 0.7))).all()
    # one-time buyers: days since their purchase against the repeat buyers' days to a second one
    gaps = generated_build.query(
        "select days_to_second_purchase from customer_value_scores where repeat_purchase_days > 0"
    )["days_to_second_purchase"]
    medium_after, high_after = gaps.quantile(0.5), gaps.quantile(0.9)
    once = predictions[predictions["purchase_days"] == 1]
    waited = once["days_since_last_purchase"]
    expected = np.select([waited > high_after, waited > medium_after], ["high", "medium"], "low")
    assert len(once) and (once["churn_risk_band"].to_numpy() == expected).all()
    assert (once["probability_active"] == 1).all() and (once["churn_risk_basis"] == "days_since_first_purchase").all()
