"""Customer value scores (segrec.clv: BG/NBD for purchases, Gamma-Gamma for spend), one row
per known customer with a clean purchase up to the as-of date, from the purchase days of
int_customers__purchase_days (merged per day, valued net of returns). Too few repeat buyers, or
models that cannot be fitted, give an empty table and a log line, not a failed build; a spend
model without a finite population mean (Gamma-Gamma q <= 1) is logged too. Read it through the
mart customer_predictions."""

from segrec.clv import score_customers
from segrec.engine import to_output, to_pandas


def model(dbt, session):
    dbt.config(materialized="table")
    days = to_pandas(dbt.ref("int_customers__purchase_days"))
    scores, message = score_customers(
        days,
        days["as_of_time"].max(),  # one value on every row; NaT without purchases
        min_repeat_customers=int(dbt.config.get("min_repeat_customers")),
        churn_thresholds=tuple(map(float, dbt.config.get("churn_thresholds"))),
    )
    if message:
        print(f"int_customers__value_scores: {message} (dbt var customer_value)")
    return to_output(scores, session)
