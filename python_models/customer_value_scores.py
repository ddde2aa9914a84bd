"""Customer value scores (segrec.clv: BG/NBD for purchases, Gamma-Gamma for spend), one row
per known customer with a clean purchase up to the as-of date. Purchases are merged per
customer and day; returns net out value (each purchase day is scaled by the customer's net /
gross revenue, floored at 0). Too few repeat buyers, or models that cannot be fitted, give an
empty table and a log line, not a failed build; a spend model without a finite mean (Gamma-Gamma
q <= 1) leaves only predicted_value_90d null. Read it through the mart customer_predictions."""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd

from segrec.clv import churn_risk_band, fit_customer_value, predict_customer_value, summarize_transactions
from segrec.errors import SegrecError

# One row per customer and purchase day; exact decimal sums keep re-runs identical.
PURCHASE_DAYS = """
with totals as (
    select customer_key,
        sum(cast(revenue as decimal(18, 4))) filter (where event_type = 'purchase') as gross,
        coalesce(sum(cast(revenue as decimal(18, 4))) filter (where event_type = 'return'), 0) as returned
    from orders group by customer_key
),
days as (
    select orders.customer_key, date_trunc('day', orders.event_time) as purchase_day,
        cast(sum(cast(orders.revenue as decimal(18, 4))) as double)
            * greatest(0.0, 1.0 + cast(any_value(totals.returned) / any_value(totals.gross) as double)) as value
    from orders inner join totals on orders.customer_key = totals.customer_key
    where orders.event_type = 'purchase'
    group by orders.customer_key, date_trunc('day', orders.event_time)
)
select *, cast(date_diff('day', min(purchase_day) over customer, nth_value(purchase_day, 2) over customer) as double)
    as days_to_second_purchase
from days
window customer as (partition by customer_key order by purchase_day
    rows between unbounded preceding and unbounded following)
"""
PREDICTED = ["expected_purchases_90d", "probability_active"]
COLUMNS = {
    "customer_key": "object", "as_of_date": "datetime64[s]", "repeat_purchase_days": "float64",
    "days_since_first_purchase": "float64", "days_first_to_last_purchase": "float64",
    "days_to_second_purchase": "float64", "avg_repeat_value": "float64", "expected_purchases_90d": "float64",
    "probability_active": "float64", "predicted_value_90d": "float64", "expected_next_order_date": "datetime64[s]",
    "churn_risk_band": "object", "model_version": "object", "model_parameters": "object",
}


def model(dbt, session):
    dbt.config(materialized="table")
    events = dbt.ref("fct_events")
    as_of = pd.Timestamp(dbt.config.get("as_of_date") or events.max("event_time").fetchall()[0][0] or "1970-01-01")
    known = dbt.ref("dim_customers").filter("not is_anonymous").project("customer_key")
    orders = events.filter(f"event_type in ('purchase', 'return') and event_time <= '{as_of.isoformat()}'")
    days = orders.join(known, "customer_key").query("orders", PURCHASE_DAYS).df()
    summary = summarize_transactions(days, order_time="purchase_day", value="value", observation_end=as_of)
    repeat, needed = int((summary["frequency"] > 0).sum()), int(dbt.config.get("min_repeat_customers"))
    thresholds = tuple(map(float, dbt.config.get("churn_thresholds")))
    churn_risk_band([], thresholds)  # bad configuration fails here, not as a "no usable model" below
    empty = pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in COLUMNS.items()})
    if repeat < needed:
        print(f"customer_value_scores: {repeat} repeat buyers among {len(summary)} customers, fewer than "
              f"var customer_value.min_repeat_customers ({needed}): no scores, customer_predictions is empty")
        return empty
    try:
        purchases, spend = fit_customer_value(summary)
        fit = {**purchases.params_, **spend.params_, "n_customers": len(summary), "n_repeat_customers": repeat}
        if spend.params_["q"] <= 1:  # spend has no finite mean: keep the purchase predictions, value unknown
            print(f"customer_value_scores: Gamma-Gamma q = {spend.params_['q']:.3g} <= 1: predicted_value_90d is null")
            spend = SimpleNamespace(params_=spend.params_, expected_average_value=lambda x, m: np.full(len(x), np.nan))
        scores = predict_customer_value(summary, purchases, spend, as_of=as_of, churn_thresholds=thresholds)
        if not np.isfinite(scores[PREDICTED].to_numpy(dtype=float)).all():  # a fit at the edge of the space
            raise SegrecError(f"non-finite predictions with parameters {fit}")
    except SegrecError as exc:
        print(f"customer_value_scores: no usable model ({exc}): customer_predictions is empty")
        return empty
    second = days.groupby("customer_key")["days_to_second_purchase"].first()
    return scores.assign(
        as_of_date=as_of.floor("D"), repeat_purchase_days=summary["frequency"],
        days_since_first_purchase=summary["T"], days_first_to_last_purchase=summary["recency"],
        days_to_second_purchase=scores["customer_key"].map(second), avg_repeat_value=summary["monetary_value"],
        model_parameters=json.dumps(fit, sort_keys=True),
    )[list(COLUMNS)]
