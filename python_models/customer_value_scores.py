"""Customer value scores (segrec.clv: BG/NBD for purchases, Gamma-Gamma for spend), one row
per known customer with a clean purchase up to the as-of date. Purchases are merged per
customer and day; returns net out value (each purchase day is scaled by the customer's net /
gross revenue, floored at 0). Too few repeat buyers, or models that cannot be fitted, give an
empty table and a log line, not a failed build; a spend model without a finite mean (Gamma-Gamma
q <= 1) leaves only predicted_value_90d null. Read it through the mart customer_predictions."""

import pandas as pd

from segrec.clv import score_customers

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
            * greatest(0.0, 1.0 + cast(any_value(totals.returned) / any_value(totals.gross) as double))
            as purchase_value
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


def model(dbt, session):
    dbt.config(materialized="table")
    events = dbt.ref("fct_events")
    as_of = pd.Timestamp(dbt.config.get("as_of_date") or events.max("event_time").fetchall()[0][0] or "1970-01-01")
    known = dbt.ref("dim_customers").filter("not is_anonymous").project("customer_key")
    orders = events.filter(f"event_type in ('purchase', 'return') and event_time <= '{as_of.isoformat()}'")
    days = orders.join(known, "customer_key").query("orders", PURCHASE_DAYS).df()
    scores, message = score_customers(
        days,
        as_of,
        min_repeat_customers=int(dbt.config.get("min_repeat_customers")),
        churn_thresholds=tuple(map(float, dbt.config.get("churn_thresholds"))),
    )
    if message:
        print(f"customer_value_scores: {message} (dbt var customer_value)")
    return scores
