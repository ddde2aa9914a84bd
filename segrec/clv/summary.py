"""From an order log to the per-customer summary the models need (frequency, recency, T,
monetary value), optionally with a calibration / hold-out split."""

from __future__ import annotations

import pandas as pd

from segrec.errors import SegrecError
from segrec.io import require_columns

# Days per unit of time; every duration in a summary is expressed in this unit.
TIME_UNITS: dict[str, float] = {"D": 1.0, "W": 7.0}


def day_number(timestamps: pd.Series | pd.Timestamp) -> pd.Series | pd.Timestamp:
    """Calendar day (naive, UTC) of a timestamp or a column of them."""
    return timestamps.floor("D") if isinstance(timestamps, pd.Timestamp) else timestamps.dt.floor("D")


def to_naive_utc(values: pd.Series | object, name: str) -> pd.Series | pd.Timestamp:
    try:
        # ISO-8601 as in the raw contract; offsets are honoured, naive means UTC.
        parsed = pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise SegrecError(f"{name}: cannot be read as a date/time ({exc})") from exc
    if isinstance(parsed, pd.Timestamp):
        return parsed.tz_localize(None)
    return parsed.dt.tz_localize(None)


def summarize_transactions(
    transactions: pd.DataFrame,
    customer_key: str = "customer_key",
    order_time: str = "event_time",
    value: str | None = "revenue",
    *,
    observation_end: object,
    calibration_end: object | None = None,
    freq: str = "D",
) -> pd.DataFrame:
    """Per-customer summary for :class:`BetaGeoModel` and :class:`GammaGammaModel`.

    Pass purchase orders (not returns). Orders are merged per calendar day (UTC) and their
    values summed; orders after ``observation_end`` are ignored. Both ends are inclusive
    dates. Durations are in days (``freq="D"``) or weeks of 7 days (``freq="W"``), counted
    from the first purchase day.

    Without ``calibration_end``: one row per customer with ``customer_key``, ``frequency``
    (purchase days after the first one), ``recency`` (first to last purchase day), ``T``
    (first purchase day to ``observation_end``) and, with ``value``, ``monetary_value``
    (mean value of the repeat purchase days, 0 without repeat purchases).

    With ``calibration_end``: the summary describes the calibration period up to
    ``calibration_end`` and gains ``frequency_holdout``, ``monetary_value_holdout`` (NaN
    without hold-out purchases) and ``duration_holdout`` for the days after it. Customers
    whose first purchase falls in the hold-out period are not in the result.
    """
    if freq not in TIME_UNITS:
        raise SegrecError(f"freq: expected one of {sorted(TIME_UNITS)}, got {freq!r}")
    needed = [customer_key, order_time] + ([value] if value is not None else [])
    require_columns(transactions, "transactions", needed)
    if transactions[customer_key].isna().any():
        n_null = int(transactions[customer_key].isna().sum())
        raise SegrecError(f"transactions.{customer_key}: {n_null} null key(s)")

    end = day_number(to_naive_utc(observation_end, "observation_end"))
    cal_end = end if calibration_end is None else day_number(to_naive_utc(calibration_end, "calibration_end"))
    if cal_end > end:
        raise SegrecError("calibration_end: must not be after observation_end")

    orders = pd.DataFrame({
        "customer_key": transactions[customer_key].to_numpy(),
        "day": day_number(to_naive_utc(transactions[order_time], f"transactions.{order_time}")).to_numpy(),
        "value": (pd.to_numeric(transactions[value], errors="coerce") if value is not None else 0.0),
    })
    if orders["day"].isna().any():
        raise SegrecError(f"transactions.{order_time}: {int(orders['day'].isna().sum())} missing time(s)")
    if value is not None and orders["value"].isna().any():
        n_bad = int(orders["value"].isna().sum())
        raise SegrecError(f"transactions.{value}: {n_bad} missing or non-numeric value(s)")

    days = (
        orders[orders["day"] <= end]
        .groupby(["customer_key", "day"], sort=True, as_index=False)["value"].sum()
    )
    first_day = days.groupby("customer_key")["day"].transform("min")
    days = days[first_day <= cal_end].assign(first_day=first_day)
    unit = pd.Timedelta(days=TIME_UNITS[freq])
    calibration = days[days["day"] <= cal_end]
    repeat = calibration["day"] > calibration["first_day"]

    per_customer = calibration.groupby("customer_key", sort=True)
    summary = pd.DataFrame({
        "frequency": per_customer.size() - 1,
        "recency": (per_customer["day"].max() - per_customer["first_day"].min()) / unit,
        "T": (cal_end - per_customer["first_day"].min()) / unit,
    })
    summary["frequency"] = summary["frequency"].astype(float)
    if value is not None:
        mean_repeat = calibration[repeat].groupby("customer_key")["value"].mean()
        summary["monetary_value"] = mean_repeat.reindex(summary.index).fillna(0.0)
    if calibration_end is not None:
        holdout = days[days["day"] > cal_end].groupby("customer_key")
        summary["frequency_holdout"] = holdout.size().reindex(summary.index).fillna(0).astype(float)
        if value is not None:
            summary["monetary_value_holdout"] = holdout["value"].mean().reindex(summary.index)
        summary["duration_holdout"] = (end - cal_end) / unit
    summary.index.name = "customer_key"
    return summary.reset_index()
