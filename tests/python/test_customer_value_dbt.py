"""int_customers__purchase_days, int_customers__value_scores and the customer_predictions mart.

A dbt build on hand-written raw events checks the purchase days exactly (merged per day,
valued net of returns, gaps, known customers, up to the as-of date) and the Python model's
scores on them; the Python model's edge cases run on a stubbed int_customers__purchase_days
(a stub ``dbt``); the dbt build on a small generated dataset checks the mart's columns, ranges
and churn bands (test_run.py builds it empty, on a dataset with too few repeat buyers)."""

from __future__ import annotations

import importlib.util
import json
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
from segrec.rawio import write_raw_table

from .dbt_harness import PROJECT_ROOT, DbtProject

MODEL_PATH = PROJECT_ROOT / "models/intermediate/customers/int_customers__value_scores.py"
AS_OF = "2024-03-31"
CONFIG = {"min_repeat_customers": 2, "churn_thresholds": [0.3, 0.7]}
CONTRACT_COLUMNS = [
    "customer_key", "as_of_date", "first_purchase_date", "last_purchase_date", "purchase_days",
    "days_since_last_purchase", "avg_repeat_value", "expected_purchases_90d", "probability_active",
    "predicted_value_90d", "expected_next_order_date", "churn_risk_band", "churn_risk_basis", "model_version",
]


def load_model():
    spec = importlib.util.spec_from_file_location("int_customers__value_scores", MODEL_PATH)
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


# Four hand-checked customers (a..d), an anonymous buyer, a purchase after the as-of date, a page
# view, and filler customers: (customer_id, event_time, event_type, revenue).
HAND_EVENTS = [
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
    # anonymous buyer (no customer_id): not scored; a purchase after the as-of date: ignored
    (None, "2024-02-01 10:00:00", "purchase", 500.0),
    ("c", "2024-04-02 10:00:00", "purchase", 999.0),
    *filler_customers(),
]


def raw_events(rows: list[tuple]) -> pd.DataFrame:
    """The raw events contract for (customer_id, event_time, event_type, revenue) rows: order-level
    purchases and returns of one unit in USD; the anonymous buyer is a device only."""
    return pd.DataFrame([
        dict(event_id=f"e{i}", event_time=time.replace(" ", "T"), loaded_at="2024-05-01T00:00:00",
             event_type=kind, customer_id=customer, anonymous_id=None if customer else "device-1",
             order_id=f"o{i}" if kind != "page_view" else None, quantity="1" if kind != "page_view" else None,
             unit_price=str(abs(revenue)) if kind != "page_view" else None,
             currency="USD" if kind != "page_view" else None)
        for i, (customer, time, kind, revenue) in enumerate(rows)
    ])


@pytest.fixture(scope="module")
def hand_build(tmp_path_factory) -> DbtProject:
    raw = tmp_path_factory.mktemp("customer_value_hand_raw")
    write_raw_table(raw_events(HAND_EVENTS), "events", raw)
    project = DbtProject(raw_dir=raw, work_dir=tmp_path_factory.mktemp("customer_value_hand"))
    project.run("build", "--select", "+int_customers__purchase_days", "fct_events", "dim_customers",
                vars={"as_of_date": AS_OF})
    return project


@pytest.fixture
def hand_db(hand_build) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(hand_build.db_path), read_only=True)
    yield con
    con.close()


def customer_ids(con: duckdb.DuckDBPyConnection) -> pd.Series:
    """customer_key -> source customer_id (the keys are hashed)."""
    return con.sql("select customer_key, customer_id from dim_customers").df().set_index("customer_key")["customer_id"]


@pytest.mark.dbt
def test_purchase_days_by_hand(hand_db):
    days = hand_db.table("int_customers__purchase_days").df()
    days["customer_key"] = days["customer_key"].map(customer_ids(hand_db))
    assert days["customer_key"].notna().all()  # the anonymous buyer is left out
    assert (days["as_of_time"] == pd.Timestamp(AS_OF)).all()
    hand = days[days["customer_key"].isin(["a", "b", "c", "d"])].sort_values(["customer_key", "purchase_day"])
    by_hand = pd.DataFrame({
        "customer_key": ["a", "a", "b", "b", "b", "c", "d"],
        "purchase_day": pd.to_datetime(["2024-01-01", "2024-01-11", "2024-01-05", "2024-02-04", "2024-03-05",
                                        "2024-03-01", "2024-01-02"]).as_unit("us"),
        # a: days of 100 and 50 + 30, kept share 0.8; d: everything returned
        "purchase_value": [80.0, 64.0, 20.0, 40.0, 60.0, 10.0, 0.0],
        "days_to_second_purchase": pd.array([10, 10, 30, 30, 30, None, None], dtype="Int64"),
    })
    pd.testing.assert_frame_equal(hand[by_hand.columns].reset_index(drop=True), by_hand, check_dtype=False)


@pytest.mark.dbt
def test_scores_by_hand(hand_db):
    scores = load_model().model(StubDbt(hand_db, CONFIG), hand_db)
    scores = scores.set_index(scores["customer_key"].map(customer_ids(hand_db)).rename("customer_id"))
    assert len(scores) == 4 + 40 and scores.index.notna().all()
    assert (scores["as_of_date"] == pd.Timestamp(AS_OF)).all()
    by_hand = pd.DataFrame(
        {
            # repeat days, T (days to 2024-03-31), first to last day, days to 2nd day, mean repeat value
            "repeat_purchase_days": [1.0, 2.0, 0.0, 0.0],
            "days_since_first_purchase": [90.0, 86.0, 30.0, 89.0],
            "days_first_to_last_purchase": [10.0, 60.0, 0.0, 0.0],
            "days_to_second_purchase": [10.0, 30.0, np.nan, np.nan],
            "avg_repeat_value": [80.0 * 0.8, 50.0, 0.0, 0.0],
        },
        index=pd.Index(["a", "b", "c", "d"], name="customer_id"),
    )
    pd.testing.assert_frame_equal(scores.loc[by_hand.index, by_hand.columns], by_hand)
    assert (scores.loc[["c", "d"], "probability_active"] == 1.0).all()  # BG/NBD: no dropout before a repeat
    assert scores["predicted_value_90d"].notna().all()
    assert scores["model_version"].nunique() == 1 and scores["model_parameters"].nunique() == 1


@pytest.mark.dbt
def test_scores_are_segrec_clv_predictions_on_net_day_values(hand_db):
    """Same numbers as segrec.clv on purchase days valued net of returns, computed here in pandas
    from fct_events."""
    scores = load_model().model(StubDbt(hand_db, CONFIG), hand_db)
    events = hand_db.sql(
        f"""
        select events.customer_key, events.event_time, events.event_type, events.revenue
        from fct_events as events
        inner join dim_customers as customers on events.customer_key = customers.customer_key
        where not customers.is_anonymous and events.event_time <= '{AS_OF}'
        """
    ).df()
    totals = events.pivot_table(index="customer_key", columns="event_type", values="revenue", aggfunc="sum")
    net_share = (1 + totals["return"].fillna(0) / totals["purchase"]).clip(lower=0)
    purchases = events[events["event_type"] == "purchase"].assign(day=lambda f: f["event_time"].dt.floor("D"))
    days = purchases.groupby(["customer_key", "day"], as_index=False)["revenue"].sum()
    days["revenue"] *= days["customer_key"].map(net_share)
    summary = summarize_transactions(days, order_time="day", observation_end=AS_OF)
    purchases_model, spend_model = fit_customer_value(summary)
    expected = predict_customer_value(summary, purchases_model, spend_model, as_of=AS_OF)
    merged = expected.merge(scores, on="customer_key", suffixes=("_expected", ""))
    assert len(merged) == len(scores) == len(expected) == 44
    for column in ("expected_purchases_90d", "probability_active", "predicted_value_90d"):
        np.testing.assert_allclose(merged[column], merged[f"{column}_expected"], rtol=1e-6)
    assert (merged["model_version"] == merged["model_version_expected"]).all()
    assert (merged["churn_risk_band"] == merged["churn_risk_band_expected"]).all()


def stub_purchase_days(rows: list[tuple], as_of: str = AS_OF) -> duckdb.DuckDBPyConnection:
    """An in-memory int_customers__purchase_days for purchases on distinct days without returns:
    (customer_key, event_time, 'purchase', value) rows."""
    days = pd.DataFrame(rows, columns=["customer_key", "purchase_day", "event_type", "purchase_value"])
    days["purchase_day"] = pd.to_datetime(days["purchase_day"]).dt.floor("D")
    first = days.groupby("customer_key")["purchase_day"].transform("min")
    second = days[days["purchase_day"] > first].groupby("customer_key")["purchase_day"].min()
    days["days_to_second_purchase"] = (days["customer_key"].map(second) - first).dt.days.astype("Int64")
    days["as_of_time"] = pd.Timestamp(as_of)
    con = duckdb.connect()
    con.register("days_frame", days.drop(columns="event_type"))
    con.execute("create table int_customers__purchase_days as select * from days_frame")
    return con


def test_too_few_repeat_buyers_give_an_empty_table_and_a_log_line(capsys):
    config = {**CONFIG, "min_repeat_customers": 1000}
    scores = load_model().model(StubDbt(stub_purchase_days(filler_customers()), config), None)
    assert scores.empty
    assert list(scores.columns) == list(SCORE_COLUMNS)
    assert "fewer than min_repeat_customers (1000): no scores" in capsys.readouterr().out


def test_spend_without_finite_mean_values_one_time_buyers_at_the_fitted_mean(capsys):
    """Spend spread over four orders of magnitude across customers: Gamma-Gamma q <= 1. Repeat
    buyers keep the Gamma-Gamma expected value, the others get the fitted customers' mean."""
    rows = [(key, time, kind, value * 10 ** (int(key[1:]) % 4)) for key, time, kind, value in filler_customers()]
    scores = load_model().model(StubDbt(stub_purchase_days(rows), CONFIG), None)
    assert len(scores) == 40 and np.isfinite(scores["predicted_value_90d"]).all()
    fit = json.loads(scores["model_parameters"].iloc[0])
    p, q, gamma = fit["p"], fit["q"], fit["gamma"]
    assert q <= 1
    repeat = scores[scores["repeat_purchase_days"] > 0]
    assert fit["population_mean_value"] == pytest.approx(repeat["avg_repeat_value"].mean(), rel=1e-12)
    x, m = repeat["repeat_purchase_days"], repeat["avg_repeat_value"]
    np.testing.assert_allclose(
        repeat["predicted_value_90d"], repeat["expected_purchases_90d"] * p * (gamma + x * m) / (p * x + q - 1),
        rtol=1e-12,
    )
    once = scores[scores["repeat_purchase_days"] == 0]
    assert len(once) == 4
    np.testing.assert_allclose(
        once["predicted_value_90d"], once["expected_purchases_90d"] * fit["population_mean_value"], rtol=1e-12
    )
    assert "no finite population mean" in capsys.readouterr().out


def test_bad_thresholds_fail_fast():
    with pytest.raises(SegrecError, match="thresholds: need 0 <= low <= high <= 1"):
        load_model().model(StubDbt(stub_purchase_days(filler_customers()),
                                   {**CONFIG, "churn_thresholds": [0.8, 0.2]}), None)


def test_no_purchases_at_all_give_an_empty_table(capsys):
    con = stub_purchase_days(filler_customers())
    con.execute("delete from int_customers__purchase_days")
    scores = load_model().model(StubDbt(con, CONFIG), None)
    assert scores.empty and list(scores.columns) == list(SCORE_COLUMNS)
    assert "no purchases up to the as-of date: no scores" in capsys.readouterr().out


# ---------------------------------------------------------------------------- dbt


@pytest.fixture(scope="module")
def generated_predictions(generated_build) -> DbtProject:
    return generated_build(customers=300, days=120, random_state=7,
                           select=["+customer_predictions", "fct_events", "dim_customers"])


@pytest.mark.dbt
def test_customer_predictions_on_generated_data(generated_predictions):
    predictions = generated_predictions.query("select * from customer_predictions")
    assert list(predictions.columns) == CONTRACT_COLUMNS
    buyers = generated_predictions.query(
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
    assert (predictions["predicted_value_90d"] >= 0).all()  # never null: see docs/customer-value.md
    assert set(predictions["churn_risk_band"]) <= {"low", "medium", "high"}
    repeat = predictions[predictions["purchase_days"] > 1]
    assert (repeat["churn_risk_band"] == churn_risk_band(repeat["probability_active"], (0.3, 0.7))).all()
    # one-time buyers: days since their purchase against the repeat buyers' days to a second one
    gaps = generated_predictions.query(
        "select days_to_second_purchase from int_customers__value_scores where repeat_purchase_days > 0"
    )["days_to_second_purchase"]
    medium_after, high_after = gaps.quantile(0.5), gaps.quantile(0.9)
    once = predictions[predictions["purchase_days"] == 1]
    waited = once["days_since_last_purchase"]
    expected = np.select([waited > high_after, waited > medium_after], ["high", "medium"], "low")
    assert len(once) and (once["churn_risk_band"].to_numpy() == expected).all()
    assert (once["probability_active"] == 1).all() and (once["churn_risk_basis"] == "days_since_first_purchase").all()
