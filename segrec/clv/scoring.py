"""The customer_predictions inputs: fit both models on a summary, predict, band churn risk,
version the model, and score customers as the dbt model int_customers__value_scores does."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import ArrayLike, NDArray

from segrec.clv.bgnbd import BetaGeoModel
from segrec.clv.gamma_gamma import GammaGammaModel
from segrec.clv.likelihood import float_array
from segrec.clv.summary import TIME_UNITS, day_number, summarize_transactions, to_naive_utc
from segrec.errors import SegrecError
from segrec.io import require_columns
from segrec.schemas import empty_frame
from segrec.versioning import content_version, stable_floats

CHURN_RISK_BANDS: tuple[str, str, str] = ("low", "medium", "high")
# The mart's horizon: its column names say 90 days.
HORIZON_DAYS = 90.0
# The fit's penalizer in score_customers (recorded in model_parameters).
PENALIZER = 0.0
SUMMARY_COLUMNS: tuple[str, ...] = ("customer_key", "frequency", "recency", "T", "monetary_value")


def fit_customer_value(
    summary: pd.DataFrame, penalizer: float = 0.0
) -> tuple[BetaGeoModel, GammaGammaModel]:
    """Fit BG/NBD on every customer and Gamma-Gamma on those with repeat purchases of positive value."""
    require_columns(summary, "summary", ("frequency", "recency", "T", "monetary_value"))
    transactions = BetaGeoModel(penalizer).fit(summary["frequency"], summary["recency"], summary["T"])
    spenders = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    if spenders.empty:
        raise SegrecError("summary: no customer with repeat purchases of positive value for Gamma-Gamma")
    value = GammaGammaModel(penalizer).fit(spenders["frequency"], spenders["monetary_value"])
    return transactions, value


def summary_data_version(summary: pd.DataFrame) -> str:
    """16 hex characters of a SHA-256 over the training input of :func:`fit_customer_value`:
    the summary's customers, frequency, recency, T and monetary value (values as
    :func:`segrec.versioning.stable_floats`), in customer order."""
    require_columns(summary, "summary", SUMMARY_COLUMNS)
    table = summary[list(SUMMARY_COLUMNS)].sort_values("customer_key", kind="stable")
    numbers = stable_floats(table[list(SUMMARY_COLUMNS[1:])].to_numpy(dtype=float))
    return content_version(list(SUMMARY_COLUMNS), "\x1f".join(table["customer_key"].astype(str)), numbers)


def churn_risk_band(probability_active: ArrayLike, thresholds: tuple[float, float] = (0.3, 0.7)) -> NDArray:
    """``high`` below ``thresholds[0]``, ``low`` at or above ``thresholds[1]``, else ``medium``."""
    low, high = thresholds
    if not 0 <= low <= high <= 1:
        raise SegrecError(f"thresholds: need 0 <= low <= high <= 1, got {thresholds}")
    prob = float_array(probability_active, "probability_active")
    risk_low, risk_medium, risk_high = CHURN_RISK_BANDS
    return np.select([prob < low, prob >= high], [risk_high, risk_low], default=risk_medium)


def model_version_of(transactions: BetaGeoModel, value: GammaGammaModel) -> str:
    """A short, deterministic version string from the fitted parameters."""
    params = {**transactions.params_, **value.params_}
    text = ",".join(f"{k}={v:.6g}" for k, v in params.items())
    return "bgnbd-gg-" + content_version(text, length=10)


def predict_customer_value(
    summary: pd.DataFrame,
    transactions: BetaGeoModel,
    value: GammaGammaModel,
    *,
    as_of: object,
    freq: str = "D",
    churn_thresholds: tuple[float, float] = (0.3, 0.7),
    max_next_order_days: float = 3650.0,
    model_version: str | None = None,
) -> pd.DataFrame:
    """The ``customer_predictions`` mart: one row per customer of ``summary``.

    ``summary`` is a :func:`summarize_transactions` result whose period ends at ``as_of``
    with time unit ``freq``. Columns: ``customer_key``, ``expected_purchases_90d`` (purchases
    in the next 90 days), ``probability_active``, ``predicted_value_90d`` (expected
    purchases x expected purchase value; customers without a usable repeat spend get the
    population mean value), ``expected_next_order_date`` (``as_of`` + the median wait of
    :meth:`BetaGeoModel.median_time_to_next_purchase`, null beyond ``max_next_order_days``),
    ``churn_risk_band`` and ``model_version`` (default: :func:`model_version_of`).
    """
    if freq not in TIME_UNITS:
        raise SegrecError(f"freq: expected one of {sorted(TIME_UNITS)}, got {freq!r}")
    require_columns(summary, "summary", ("customer_key", "frequency", "recency", "T", "monetary_value"))
    unit_days = TIME_UNITS[freq]
    x, t_x, age = summary["frequency"], summary["recency"], summary["T"]
    purchases = transactions.expected_purchases(HORIZON_DAYS / unit_days, x, t_x, age)
    alive = transactions.probability_alive(x, t_x, age)
    # Spend only counts where there is a positive repeat mean; others get the population mean.
    usable = (x > 0) & (summary["monetary_value"] > 0)
    average_value = value.expected_average_value(
        x.where(usable, 0.0), summary["monetary_value"].where(usable, 0.0)
    )
    wait_days = transactions.median_time_to_next_purchase(x, age) * unit_days
    as_of_day = day_number(to_naive_utc(as_of, "as_of"))
    # Whole days, so a wait of 0.2 days lands on the next day, not on as_of itself.
    wait = pd.to_timedelta(np.where(wait_days <= max_next_order_days, np.ceil(wait_days), np.nan), unit="D")
    next_order = pd.Series(as_of_day + wait, index=summary.index)
    return pd.DataFrame({
        "customer_key": summary["customer_key"],
        "expected_purchases_90d": purchases,
        "probability_active": alive,
        "predicted_value_90d": purchases * average_value,
        "expected_next_order_date": next_order.dt.date,
        "churn_risk_band": churn_risk_band(alive, churn_thresholds),
        "model_version": model_version or model_version_of(transactions, value),
    }).reset_index(drop=True)


def holdout_comparison(
    summary: pd.DataFrame, transactions: BetaGeoModel, max_frequency: int = 7
) -> pd.DataFrame:
    """Predicted vs actual hold-out purchases by calibration frequency (0 .. ``max_frequency``+).

    ``summary`` comes from :func:`summarize_transactions` with a ``calibration_end``. One row
    per frequency group plus ``total``: ``customers``, ``actual`` and ``predicted`` purchases
    (sums) and their means per customer.
    """
    require_columns(summary, "summary", ("frequency", "recency", "T", "frequency_holdout", "duration_holdout"))
    if summary["duration_holdout"].nunique() != 1:
        raise SegrecError("summary.duration_holdout: expected one hold-out length for all customers")
    predicted = transactions.expected_purchases(
        summary["duration_holdout"].iloc[0], summary["frequency"], summary["recency"], summary["T"]
    )
    capped = summary["frequency"].clip(upper=max_frequency).astype(int)
    labels = capped.astype(str).where(capped < max_frequency, f"{max_frequency}+")
    frame = pd.DataFrame({"group": labels, "actual": summary["frequency_holdout"], "predicted": predicted})
    order = [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"]
    groups = frame.groupby("group").agg(
        customers=("actual", "size"), actual=("actual", "sum"), predicted=("predicted", "sum")
    ).reindex(order).dropna(how="all")
    groups.loc["total"] = [len(frame), frame["actual"].sum(), frame["predicted"].sum()]
    groups["customers"] = groups["customers"].astype(int)
    groups["actual_mean"] = groups["actual"] / groups["customers"]
    groups["predicted_mean"] = groups["predicted"] / groups["customers"]
    groups.index.name = "frequency"
    return groups.reset_index()


# The int_customers__value_scores table (customer_predictions reads it).
SCORE_SCHEMA = pa.schema([
    ("customer_key", pa.string()), ("as_of_date", pa.timestamp("s")), ("repeat_purchase_days", pa.float64()),
    ("days_since_first_purchase", pa.float64()), ("days_first_to_last_purchase", pa.float64()),
    ("days_to_second_purchase", pa.float64()), ("avg_repeat_value", pa.float64()),
    ("expected_purchases_90d", pa.float64()), ("probability_active", pa.float64()),
    ("predicted_value_90d", pa.float64()), ("expected_next_order_date", pa.timestamp("s")),
    ("churn_risk_band", pa.string()), ("model_version", pa.string()), ("model_parameters", pa.string()),
    ("data_version", pa.string()),
])
SCORE_COLUMNS: tuple[str, ...] = tuple(SCORE_SCHEMA.names)


def score_customers(
    purchase_days: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    min_repeat_customers: int = 20,
    churn_thresholds: tuple[float, float] = (0.3, 0.7),
) -> tuple[pd.DataFrame, str | None]:
    """Customer value scores from one row per (customer_key, purchase_day, purchase_value,
    days_to_second_purchase) up to ``as_of``, as in the model int_customers__purchase_days.

    Returns the frame (:data:`SCORE_SCHEMA`) and a message explaining an empty or partial result:
    no purchases (``as_of`` may then be NaT), fewer than ``min_repeat_customers`` repeat buyers,
    or models that cannot be fitted give an empty frame; a spend model without a finite
    population mean (Gamma-Gamma q <= 1) values customers without a repeat value at the fitted
    customers' mean (:meth:`GammaGammaModel.population_mean_value`). Bad ``churn_thresholds`` raise.
    """
    churn_risk_band([], churn_thresholds)  # bad configuration fails here, not as "no usable model"
    empty = empty_frame(SCORE_SCHEMA)
    if purchase_days.empty:
        return empty, "no purchases up to the as-of date: no scores"
    summary = summarize_transactions(
        purchase_days, order_time="purchase_day", value="purchase_value", observation_end=as_of
    )
    repeat = int((summary["frequency"] > 0).sum())
    if repeat < min_repeat_customers:
        return empty, (f"{repeat} repeat buyers among {len(summary)} customers, fewer than "
                       f"min_repeat_customers ({min_repeat_customers}): no scores")
    message = None
    try:
        purchases, spend = fit_customer_value(summary, PENALIZER)
        fit = {**purchases.params_, **spend.params_, "penalizer": PENALIZER,
               "population_mean_value": spend.population_mean_value(),
               "n_customers": len(summary), "n_repeat_customers": repeat}
        if spend.params_["q"] <= 1:
            message = (f"Gamma-Gamma q = {spend.params_['q']:.3g} <= 1, no finite population mean: customers "
                       f"without a repeat value get the fitted customers' mean {spend.sample_mean_value_:.4g}")
        scores = predict_customer_value(summary, purchases, spend, as_of=as_of, churn_thresholds=churn_thresholds)
        predicted = scores[["expected_purchases_90d", "probability_active", "predicted_value_90d"]]
        if not np.isfinite(predicted.to_numpy(dtype=float)).all():  # a fit at the edge of the parameter space
            raise SegrecError(f"non-finite predictions with parameters {fit}")
    except SegrecError as exc:
        return empty, f"no usable model ({exc}): no scores"
    second = purchase_days.groupby("customer_key")["days_to_second_purchase"].first()
    scores = scores.assign(
        as_of_date=as_of.floor("D"), repeat_purchase_days=summary["frequency"],
        days_since_first_purchase=summary["T"], days_first_to_last_purchase=summary["recency"],
        days_to_second_purchase=scores["customer_key"].map(second).astype("float64"),
        avg_repeat_value=summary["monetary_value"], model_parameters=json.dumps(fit, sort_keys=True),
        data_version=summary_data_version(summary),
    )
    return scores[list(SCORE_COLUMNS)], message
