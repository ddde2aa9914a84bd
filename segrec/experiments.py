"""Experiment statistics for the ``experiment_results`` mart.

Small functions on summary statistics (so they work on aggregates from SQL as well as on
raw rows) and :func:`analyze_experiment`, which turns assignments, attributed orders and
sessions and recommendation impressions into the long ``experiment_results`` frame.

Conventions: every test is two-sided; ``confidence`` is the confidence level of intervals;
``se`` is the standard error of a group's mean (or rate). Relative lift is
``treatment / control - 1`` with a Fieller interval (see :func:`relative_lift_ci`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import ArrayLike
from scipy import stats

from segrec.errors import SegrecError
from segrec.io import require_columns
from segrec.schemas import typed_frame

METRICS: tuple[str, ...] = (
    "conversion_rate", "session_conversion_rate", "revenue_per_customer", "average_order_value",
    "click_through_rate",
)
# Ratio metrics: metric -> (input frame, its 0/1 column). Units are customers (delta method).
RATIO_METRICS: dict[str, tuple[str, str]] = {
    "session_conversion_rate": ("sessions", "converted"),
    "click_through_rate": ("impressions", "clicked"),
}
# The experiment_results table (int_experiment__statistics): fixed types, so an empty result
# (no experiments) still matches the mart's contract.
RESULT_SCHEMA = pa.schema([
    ("experiment_id", pa.string()), ("metric", pa.string()), ("variant", pa.string()), ("n", pa.int64()),
    ("value", pa.float64()), ("lift", pa.float64()), ("ci_low", pa.float64()), ("ci_high", pa.float64()),
    ("p_value", pa.float64()), ("test", pa.string()), ("srm_p_value", pa.float64()), ("srm_ok", pa.bool_()),
    ("underpowered", pa.bool_()), ("difference", pa.float64()), ("difference_ci_low", pa.float64()),
    ("difference_ci_high", pa.float64()), ("minimum_detectable_lift", pa.float64()),
])
RESULT_COLUMNS: tuple[str, ...] = tuple(RESULT_SCHEMA.names)


@dataclass(frozen=True)
class HypothesisTest:
    """Outcome of a test: statistic, two-sided p-value, test name, degrees of freedom
    (infinite for a normal reference distribution)."""

    statistic: float
    p_value: float
    test: str
    df: float = float("inf")


def critical_value(confidence: float, df: float = float("inf")) -> float:
    """The two-sided critical value of an interval at ``confidence``: normal, or Student t with ``df``."""
    if not 0 < confidence < 1:
        raise SegrecError(f"confidence: must be between 0 and 1, got {confidence}")
    tail = 1 - (1 - confidence) / 2
    return float(stats.norm.ppf(tail) if np.isinf(df) else stats.t.ppf(tail, df))


def _two_sided_normal(z: float) -> float:
    return float(2 * stats.norm.sf(abs(z))) if np.isfinite(z) else float("nan")


# ---------------------------------------------------------------------------------------
# tests


def two_proportion_ztest(successes_a: int, n_a: int, successes_b: int, n_b: int) -> HypothesisTest:
    """Pooled two-proportion z-test of ``b`` against ``a``; ``z^2`` equals the 2x2 chi-square."""
    if min(n_a, n_b) <= 0 or not (0 <= successes_a <= n_a and 0 <= successes_b <= n_b):
        raise SegrecError(f"two_proportion_ztest: need 0 <= successes <= n and n > 0, got "
                          f"{successes_a}/{n_a}, {successes_b}/{n_b}")
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = float((successes_b / n_b - successes_a / n_a) / se)
    return HypothesisTest(z, _two_sided_normal(z), "two_proportion_z")


def chi_square_test(successes: Sequence[int], n: Sequence[int]) -> HypothesisTest:
    """Pearson chi-square (no continuity correction) of equal rates across ``k`` groups."""
    converted = np.asarray(successes, dtype=float)
    totals = np.asarray(n, dtype=float)
    if converted.shape != totals.shape or converted.size < 2 or np.any(converted > totals):
        raise SegrecError("chi_square_test: need two or more groups with successes <= n")
    observed = np.column_stack([converted, totals - converted])
    expected = np.outer(totals, observed.sum(axis=0)) / totals.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = float(((observed - expected) ** 2 / expected).sum())
    df = converted.size - 1
    return HypothesisTest(statistic, float(stats.chi2.sf(statistic, df)), "chi_square", df)


def welch_ttest(
    mean_a: float, var_a: float, n_a: int, mean_b: float, var_b: float, n_b: int
) -> HypothesisTest:
    """Welch's t-test of ``b`` against ``a`` from means, sample variances (ddof=1) and sizes."""
    if min(n_a, n_b) < 2:
        raise SegrecError(f"welch_ttest: need at least 2 observations per group, got {n_a} and {n_b}")
    se2_a, se2_b = var_a / n_a, var_b / n_b
    with np.errstate(divide="ignore", invalid="ignore"):
        t = float((mean_b - mean_a) / np.sqrt(se2_a + se2_b))
        df = float((se2_a + se2_b) ** 2 / (se2_a**2 / (n_a - 1) + se2_b**2 / (n_b - 1)))
    p_value = float(2 * stats.t.sf(abs(t), df)) if np.isfinite(t) else float("nan")
    return HypothesisTest(t, p_value, "welch_t", df)


def srm_test(observed: Mapping[str, int], planned_shares: Mapping[str, float]) -> HypothesisTest:
    """Sample-ratio-mismatch check: chi-square goodness of fit of the variant counts.

    ``planned_shares`` are the intended split (normalised to sum to 1).
    """
    missing = sorted(set(observed) - set(planned_shares))
    if missing:
        raise SegrecError(f"planned_shares: no planned share for variant(s) {', '.join(map(str, missing))}")
    counts = np.array([observed[v] for v in observed], dtype=float)
    shares = np.array([planned_shares[v] for v in observed], dtype=float)
    if np.any(shares <= 0):
        raise SegrecError("planned_shares: every share must be positive")
    expected = counts.sum() * shares / shares.sum()
    statistic = float(((counts - expected) ** 2 / expected).sum())
    df = counts.size - 1
    return HypothesisTest(statistic, float(stats.chi2.sf(statistic, df)), "srm_chi_square", df)


# ---------------------------------------------------------------------------------------
# intervals


def difference_ci(
    mean_a: float, se_a: float, mean_b: float, se_b: float,
    confidence: float = 0.95, df: float = float("inf"),
) -> tuple[float, float, float]:
    """``(b - a, low, high)`` with unpooled standard errors; a t quantile when ``df`` is finite."""
    diff = mean_b - mean_a
    half = critical_value(confidence, df) * float(np.hypot(se_a, se_b))
    return diff, diff - half, diff + half


def relative_lift_ci(
    mean_a: float, se_a: float, mean_b: float, se_b: float, confidence: float = 0.95
) -> tuple[float, float, float]:
    """``(b/a - 1, low, high)`` with Fieller's interval for the ratio of independent means.

    The bounds are the roots ``rho`` of ``(b - rho a)^2 = z^2 (se_b^2 + rho^2 se_a^2)``:
    ``(rho_hat -+ z/|a| sqrt(se_b^2 + rho_hat^2 se_a^2 - g se_b^2)) / (1 - g)`` with
    ``g = (z se_a / a)^2``. Unlike the delta method it is not symmetric, which matters when
    the control rate is small. When ``g >= 1`` (the control mean is not distinguishable
    from 0) the interval is unbounded and both bounds are NaN.
    """
    z = critical_value(confidence)
    if mean_a == 0:
        return float("nan"), float("nan"), float("nan")
    ratio = mean_b / mean_a
    g = (z * se_a / mean_a) ** 2
    if g >= 1:
        return ratio - 1, float("nan"), float("nan")
    half = z / abs(mean_a) * np.sqrt(se_b**2 + ratio**2 * se_a**2 - g * se_b**2)
    return ratio - 1, float((ratio - half) / (1 - g) - 1), float((ratio + half) / (1 - g) - 1)


# ---------------------------------------------------------------------------------------
# power


def _z_sum(alpha: float, power: float) -> float:
    if not (0 < alpha < 1 and 0 < power < 1):
        raise SegrecError(f"alpha and power: must be between 0 and 1, got {alpha}, {power}")
    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))


def minimum_detectable_effect(
    n_a: int, n_b: int, sd: float, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest absolute difference a two-sided test detects with ``power``.

    ``(z_{1-alpha/2} + z_power) * sd * sqrt(1/n_a + 1/n_b)``, assuming both groups share the
    standard deviation ``sd`` (the control's; ``sqrt(p (1-p))`` for a rate).
    """
    if min(n_a, n_b) <= 0:
        return float("inf")
    return _z_sum(alpha, power) * sd * float(np.sqrt(1 / n_a + 1 / n_b))


def required_sample_size(effect: float, sd: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Customers per variant (equal split) for :func:`minimum_detectable_effect` to reach ``effect``."""
    if effect == 0:
        raise SegrecError("effect: must be non-zero")
    return int(np.ceil(2 * (_z_sum(alpha, power) * sd / effect) ** 2))


# ---------------------------------------------------------------------------------------
# ratio metrics (click-through rate)


def ratio_metric(numerator: ArrayLike, denominator: ArrayLike) -> tuple[float, float]:
    """``sum(numerator) / sum(denominator)`` over units and its delta-method standard error.

    Units are customers: a customer's impressions are not independent, so the variance comes
    from per-customer totals, ``se^2 = (var(y) - 2 R cov(y, d) + R^2 var(d)) / (n mean(d)^2)``
    (population moments). With one impression per customer this is the binomial
    ``sqrt(p (1-p) / n)``.
    """
    y = np.asarray(numerator, dtype=float)
    d = np.asarray(denominator, dtype=float)
    if y.shape != d.shape or y.size == 0 or d.sum() <= 0:
        raise SegrecError("ratio_metric: need equal-length, non-empty inputs with a positive denominator")
    ratio = float(y.sum() / d.sum())
    cov = np.cov(y, d, ddof=0) if y.size > 1 else np.zeros((2, 2))
    variance = (cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / (y.size * d.mean() ** 2)
    return ratio, float(np.sqrt(max(variance, 0.0)))


def click_through_rates(impressions: pd.DataFrame, by: Sequence[str] = ("strategy",)) -> pd.DataFrame:
    """CTR per group of recommendation impressions: ``impressions``, ``clicks``, ``ctr``, ``se``.

    ``impressions`` has ``customer_key``, a boolean ``clicked`` and the ``by`` columns; the
    standard error is :func:`ratio_metric` over customers.
    """
    by = list(by)
    require_columns(impressions, "impressions", ["customer_key", "clicked", *by])
    rows = []
    for key, group in impressions.groupby(by, sort=True):
        per_customer = group.groupby("customer_key")["clicked"].agg(["sum", "size"])
        ctr, se = ratio_metric(per_customer["sum"], per_customer["size"])
        rows.append((*key, len(group), int(group["clicked"].sum()), ctr, se))
    return pd.DataFrame(rows, columns=[*by, "impressions", "clicks", "ctr", "se"])


# ---------------------------------------------------------------------------------------
# the experiment_results mart


@dataclass(frozen=True)
class _Group:
    """One variant's sample for one metric.

    ``n`` is what the mart reports (customers, orders or impressions), ``units`` the number
    of independent units behind ``se`` (customers for a ratio metric), ``total`` the sum of
    the values (conversions for a rate) and ``var`` the sample variance of one unit.
    """

    n: int
    units: int
    mean: float
    se: float
    var: float
    total: float


def _mean_group(values: ArrayLike) -> _Group:
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return _Group(0, 0, float("nan"), float("nan"), float("nan"), 0.0)
    var = float(v.var(ddof=1)) if v.size > 1 else float("nan")
    return _Group(v.size, v.size, float(v.mean()), float(np.sqrt(var / v.size)), var, float(v.sum()))


def _rate_group(successes: int, n: int) -> _Group:
    rate = successes / n
    var = rate * (1 - rate)
    return _Group(n, n, rate, float(np.sqrt(var / n)), var, float(successes))


def _ratio_group(per_customer: pd.DataFrame) -> _Group:
    """From per-customer ``successes`` and ``trials`` (clicks and impressions, ...)."""
    rate, se = ratio_metric(per_customer["successes"], per_customer["trials"])
    units = len(per_customer)
    return _Group(int(per_customer["trials"].sum()), units, rate, se, se**2 * units,
                  float(per_customer["successes"].sum()))


def _metric_groups(
    customers: pd.DataFrame, order_revenue: ArrayLike, ratios: Mapping[str, pd.DataFrame]
) -> dict[str, _Group]:
    """One variant's group per metric; ratio metrics only where the variant has data."""
    groups = {
        "conversion_rate": _rate_group(int((customers["orders"] > 0).sum()), len(customers)),
        "revenue_per_customer": _mean_group(customers["revenue"]),
        "average_order_value": _mean_group(order_revenue),
    }
    groups.update({metric: _ratio_group(frame) for metric, frame in ratios.items() if len(frame)})
    return groups


def _per_customer_successes(
    frame: pd.DataFrame, flag: str, table: str, assigned: pd.DataFrame
) -> pd.DataFrame:
    """Per (experiment, customer, variant): ``successes`` (sum of ``flag``) and ``trials`` (rows)."""
    keys = ["experiment_id", "customer_key"]
    require_columns(frame, table, [*keys, flag])
    if not frame[flag].isin([True, False]).all():  # also rejects nulls and text such as "false"
        raise SegrecError(f"{table}.{flag}: must be boolean (True/False or 1/0) without nulls")
    rows = frame[keys].assign(success=frame[flag].astype(bool)).merge(assigned, on=keys, how="left")
    if rows["variant"].isna().any():
        raise SegrecError(f"{table}: {int(rows['variant'].isna().sum())} row(s) of customers not assigned "
                          "to that experiment")
    return rows.groupby([*keys, "variant"], as_index=False).agg(
        successes=("success", "sum"), trials=("success", "size")
    )


def _metric_test(metric: str, control: _Group, treatment: _Group) -> HypothesisTest:
    if metric == "conversion_rate":
        return two_proportion_ztest(int(control.total), control.n, int(treatment.total), treatment.n)
    if metric in RATIO_METRICS:
        with np.errstate(divide="ignore", invalid="ignore"):
            z = float((treatment.mean - control.mean) / np.hypot(control.se, treatment.se))
        return HypothesisTest(z, _two_sided_normal(z), "delta_method_z")
    if min(control.n, treatment.n) < 2:
        return HypothesisTest(float("nan"), float("nan"), "welch_t")
    return welch_ttest(control.mean, control.var, control.n, treatment.mean, treatment.var, treatment.n)


def _compare(
    control: _Group, treatment: _Group, test: HypothesisTest,
    confidence: float, minimum_effect: float, power: float,
) -> dict[str, object]:
    """The statistics columns of one treatment row."""
    lift, low, high = relative_lift_ci(control.mean, control.se, treatment.mean, treatment.se, confidence)
    diff, diff_low, diff_high = difference_ci(
        control.mean, control.se, treatment.mean, treatment.se, confidence, test.df
    )
    sd = float(np.sqrt(control.var))
    mde = minimum_detectable_effect(control.units, treatment.units, sd, 1 - confidence, power)
    mde_lift = mde / abs(control.mean) if control.mean else float("inf")
    return {
        "lift": lift, "ci_low": low, "ci_high": high, "p_value": test.p_value, "test": test.test,
        # NaN (no variance yet) compares False; treat an unknown MDE as underpowered too.
        "underpowered": not mde_lift <= minimum_effect, "difference": diff,
        "difference_ci_low": diff_low, "difference_ci_high": diff_high,
        "minimum_detectable_lift": mde_lift,
    }


def _control_variant(experiment_id: str, variants: list[str], control: str | Mapping[str, str] | None) -> str:
    chosen = control.get(experiment_id) if isinstance(control, Mapping) else control
    if chosen is None:
        chosen = "control" if "control" in variants else variants[0]
    if chosen not in variants:
        raise SegrecError(f"experiment {experiment_id}: control variant {chosen!r} not among {variants}")
    return chosen


def _assigned_customers(assignments: pd.DataFrame) -> pd.DataFrame:
    """Distinct (experiment_id, customer_key, variant); a customer in two variants is an error."""
    require_columns(assignments, "assignments", ["experiment_id", "customer_key", "variant"])
    assigned = assignments[["experiment_id", "customer_key", "variant"]].drop_duplicates()
    if assigned.isna().any().any():
        raise SegrecError("assignments: experiment_id, customer_key and variant must not be null")
    conflicts = assigned.duplicated(["experiment_id", "customer_key"], keep=False)
    if conflicts.any():
        raise SegrecError(f"assignments: {int(conflicts.sum())} row(s) put a customer in two variants "
                          "of one experiment")
    return assigned


def _attributed_orders(outcomes: pd.DataFrame, assigned: pd.DataFrame) -> pd.DataFrame:
    """Orders with their customer's variant; orders of unassigned customers are an error."""
    keys = ["experiment_id", "customer_key"]
    require_columns(outcomes, "outcomes", [*keys, "revenue"])
    revenue = pd.to_numeric(outcomes["revenue"], errors="coerce")
    if revenue.isna().any():
        raise SegrecError(f"outcomes.revenue: {int(revenue.isna().sum())} missing or non-numeric value(s)")
    orders = outcomes[keys].assign(revenue=revenue).merge(assigned, on=keys, how="left")
    if orders["variant"].isna().any():
        raise SegrecError(f"outcomes: {int(orders['variant'].isna().sum())} order(s) of customers not "
                          "assigned to that experiment")
    return orders


def _experiment_rows(
    experiment_id: str,
    groups: Mapping[str, Mapping[str, _Group]],
    reference: str,
    srm: HypothesisTest,
    srm_alpha: float,
    confidence: float,
    minimum_effect: float,
    power: float,
) -> list[dict[str, object]]:
    """Rows of one experiment: per metric the control first, then each variant against it."""
    ordered = [reference] + [v for v in groups if v != reference]
    rows: list[dict[str, object]] = []
    for metric in (m for m in METRICS if m in groups[reference]):
        control_group = groups[reference][metric]
        for variant in (v for v in ordered if metric in groups[v]):
            group = groups[variant][metric]
            row: dict[str, object] = {
                "experiment_id": experiment_id, "metric": metric, "variant": variant,
                "n": group.n, "value": group.mean, "srm_p_value": srm.p_value,
                "srm_ok": bool(srm.p_value >= srm_alpha),
            }
            if variant != reference:
                test = _metric_test(metric, control_group, group)
                row.update(_compare(control_group, group, test, confidence, minimum_effect, power))
            rows.append(row)
    return rows


def analyze_experiment(
    assignments: pd.DataFrame,
    outcomes: pd.DataFrame,
    impressions: pd.DataFrame | None = None,
    sessions: pd.DataFrame | None = None,
    *,
    control: str | Mapping[str, str] | None = None,
    planned_shares: Mapping[str, Mapping[str, float]] | None = None,
    confidence: float = 0.95,
    minimum_effect: float = 0.10,
    power: float = 0.8,
    srm_alpha: float = 0.001,
) -> pd.DataFrame:
    """The ``experiment_results`` mart: one row per (experiment, metric, variant).

    Inputs (one experiment or several):

    - ``assignments``: ``experiment_id``, ``customer_key``, ``variant``; one variant per
      customer and experiment (repeated identical rows are merged).
    - ``outcomes``: the orders attributed to an experiment (e.g. placed after assignment),
      one row per order: ``experiment_id``, ``customer_key``, ``revenue``.
    - ``impressions`` (optional): recommendation impressions shown during the experiment:
      ``experiment_id``, ``customer_key``, boolean ``clicked``.
    - ``sessions`` (optional): the assigned customers' sessions during the experiment:
      ``experiment_id``, ``customer_key``, boolean ``converted`` (the session has a purchase).

    Metrics: ``conversion_rate`` (share of assigned customers with an order; pooled
    two-proportion z-test), ``revenue_per_customer`` (non-buyers count as 0) and
    ``average_order_value`` (over orders), both Welch's t-test; the ratio metrics
    ``session_conversion_rate`` (converted sessions / sessions) and ``click_through_rate``
    (clicks / impressions), delta-method z-test with customers as units. Each variant is
    compared with the experiment's control: ``control`` names it (one name or a mapping per
    experiment); by default the variant called ``control``, else the alphabetically first.

    Control rows carry ``n`` and ``value`` only. Treatment rows add ``lift`` (relative, with
    the Fieller ``ci_low``/``ci_high`` at ``confidence``), ``p_value``, ``test``, the absolute
    ``difference`` with its interval, ``minimum_detectable_lift`` (relative, at ``power`` and
    ``1 - confidence``) and ``underpowered`` (it exceeds ``minimum_effect``). ``srm_p_value``
    tests the customer counts against ``planned_shares`` (per experiment, default an equal
    split); ``srm_ok`` is ``srm_p_value >= srm_alpha``.
    """
    keys = ["experiment_id", "customer_key"]
    assigned = _assigned_customers(assignments)
    orders = _attributed_orders(outcomes, assigned)
    per_customer = orders.groupby(keys).agg(orders=("revenue", "size"), revenue=("revenue", "sum"))
    customers = assigned.merge(per_customer.reset_index(), on=keys, how="left").fillna(
        {"orders": 0, "revenue": 0.0}
    )
    inputs = {"impressions": impressions, "sessions": sessions}
    # Split every input by (experiment, variant) once: filtering per experiment is quadratic.
    by_variant = ["experiment_id", "variant"]
    order_revenue = {k: g["revenue"].to_numpy() for k, g in orders.groupby(by_variant, sort=False)}
    ratio_parts = {
        metric: dict(iter(_per_customer_successes(inputs[table], flag, table, assigned)
                          .groupby(by_variant, sort=False)))
        for metric, (table, flag) in RATIO_METRICS.items() if inputs[table] is not None
    }

    rows: list[dict[str, object]] = []
    for experiment_id, exp_customers in customers.groupby("experiment_id", sort=True):
        variants = sorted(exp_customers["variant"].unique())
        if len(variants) < 2:
            raise SegrecError(f"experiment {experiment_id}: only one variant ({variants[0]})")
        shares = (planned_shares or {}).get(experiment_id) or dict.fromkeys(variants, 1.0)
        unplanned = [v for v in variants if v not in shares]
        if unplanned:
            raise SegrecError(f"planned_shares[{experiment_id!r}]: no share for variant(s) {unplanned}")
        counts = exp_customers["variant"].value_counts()
        srm = srm_test({v: int(counts[v]) for v in variants}, shares)
        groups = {
            v: _metric_groups(
                exp_customers[exp_customers["variant"] == v],
                order_revenue.get((experiment_id, v), np.empty(0)),
                {m: by_key[(experiment_id, v)] for m, by_key in ratio_parts.items()
                 if (experiment_id, v) in by_key},
            )
            for v in variants
        }
        reference = _control_variant(experiment_id, variants, control)
        rows += _experiment_rows(experiment_id, groups, reference, srm, srm_alpha, confidence,
                                 minimum_effect, power)
    return typed_frame(pd.DataFrame(rows, columns=list(RESULT_COLUMNS)), RESULT_SCHEMA)
