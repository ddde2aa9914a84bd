"""Business validation of segments on a temporal hold-out, and choosing k and the feature set
on it (issue 12, parts 2 and 3).

A segmentation is useful to a marketer when its groups behave differently *afterwards*. So
every candidate is judged on a hold-out inside the data: features from everything before a
cutoff, outcomes from the ``horizon_days`` after it:

- ``next_revenue`` (net of returns), ``log_next_revenue = log1p(max(next_revenue, 0))``,
  ``purchased`` (any purchase in the window) and ``retained`` (purchased, counted among
  customers who also bought in the ``horizon_days`` before the cutoff);
- the share of the variance of ``log_next_revenue`` the segment labels explain, the
  between-group R^2 ``1 - SS_within / SS_total`` (:func:`between_group_r2`), next to the same
  number for five quintiles of past spend (:func:`spend_quintiles`, the bar to beat) and the
  classic R x F score groups (:func:`rfm_score_groups`);
- the silhouette of the clustering itself.

The inputs are purchase lines: one row per order line with ``customer_id``, ``order_id``,
``product_id``, ``event_time`` and ``revenue`` (quantity x unit price, negative for returns).
:func:`customer_features` turns lines before a cutoff into value and behaviour features;
:func:`group_matrix` screens them and weights feature groups so that no group dominates;
:func:`choose_configuration` is the selection rule over (feature set, k).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segrec.errors import SegrecError
from segrec.segmentation.features import signed_log1p

# Feature groups of :func:`customer_features`; taste (product-group shares) and context
# (daypart shares) are added by the caller when the data has them.
VALUE_GROUPS: dict[str, tuple[str, ...]] = {
    "value": ("recency_days", "frequency", "monetary", "tenure_days"),
    "basket": ("avg_order_value", "avg_order_lines", "avg_line_value"),
    "rhythm": ("orders_per_month", "ipt_mean_days", "ipt_cv"),
    "breadth": ("distinct_products", "return_share"),
}
DAYPARTS: tuple[tuple[str, int, int], ...] = (
    ("share_night", 0, 6), ("share_morning", 6, 12), ("share_afternoon", 12, 18), ("share_evening", 18, 24),
)


def customer_features(lines: pd.DataFrame, as_of: pd.Timestamp, *, dayparts: bool = True) -> pd.DataFrame:
    """Value and behaviour features per customer from the purchase lines before ``as_of``.

    recency_days (as_of - last order), frequency (orders), monetary (net revenue),
    tenure_days (as_of - first order), avg_order_value, avg_order_lines, avg_line_value,
    orders_per_month (frequency per 30 days of tenure, tenure at least 30), ipt_mean_days and
    ipt_cv (mean and coefficient of variation of the days between orders; NaN with < 2 or < 3
    orders, filled later by the median), distinct_products, return_share (returned / bought
    revenue) and, with ``dayparts``, the share of orders per 6-hour daypart (UTC).
    Customers with no purchase before ``as_of`` are left out.
    """
    past = lines.loc[lines["event_time"] < as_of]
    buys = past.loc[past["revenue"] > 0]
    orders = (
        buys.groupby(["customer_id", "order_id"], sort=False)
        .agg(order_time=("event_time", "min"), value=("revenue", "sum"), lines=("revenue", "size"))
        .reset_index()
        .sort_values(["customer_id", "order_time"], kind="stable")
    )
    if orders.empty:
        raise SegrecError(f"customer_features: no purchase before {as_of}")
    by = orders.groupby("customer_id", sort=True)
    first, last = by["order_time"].min(), by["order_time"].max()
    days = pd.Timedelta(days=1)
    out = pd.DataFrame({
        "recency_days": (as_of - last) / days,
        "frequency": by.size().astype(float),
        "tenure_days": (as_of - first) / days,
        "avg_order_value": by["value"].mean(),
        "avg_order_lines": by["lines"].mean(),
    })
    net = past.groupby("customer_id")["revenue"].sum()
    bought = buys.groupby("customer_id")["revenue"].sum()
    returned = -past.loc[past["revenue"] < 0].groupby("customer_id")["revenue"].sum()
    out["monetary"] = net.reindex(out.index).fillna(0.0)
    out["avg_line_value"] = (bought / buys.groupby("customer_id").size()).reindex(out.index)
    out["orders_per_month"] = out["frequency"] / np.maximum(out["tenure_days"], 30.0) * 30.0
    gaps = orders.groupby("customer_id")["order_time"].diff() / days
    gap_stats = gaps.groupby(orders["customer_id"]).agg(["mean", "std"])
    out["ipt_mean_days"] = gap_stats["mean"].reindex(out.index)
    out["ipt_cv"] = (gap_stats["std"] / gap_stats["mean"].where(gap_stats["mean"] > 0)).reindex(out.index)
    out["distinct_products"] = buys.groupby("customer_id")["product_id"].nunique().reindex(out.index).fillna(0.0)
    out["return_share"] = (returned.reindex(out.index).fillna(0.0) / bought.reindex(out.index)).fillna(0.0).clip(0, 1)
    if dayparts:
        hour = orders["order_time"].dt.hour
        for name, start, end in DAYPARTS:
            out[name] = ((hour >= start) & (hour < end)).groupby(orders["customer_id"]).mean().reindex(out.index)
    out.index.name = "customer_id"
    return out


def next_period_outcomes(
    lines: pd.DataFrame, customers: pd.Index, cutoff: pd.Timestamp, horizon_days: int = 90
) -> pd.DataFrame:
    """Outcomes of ``customers`` in ``[cutoff, cutoff + horizon_days)``.

    next_revenue (net, returns included), log_next_revenue (log1p of it floored at 0),
    purchased (0/1), active_before (bought in the ``horizon_days`` before the cutoff) and
    retained (purchased, NaN for customers not active_before, so its mean is a retention rate).
    """
    end, start = cutoff + pd.Timedelta(days=horizon_days), cutoff - pd.Timedelta(days=horizon_days)
    window = lines.loc[(lines["event_time"] >= cutoff) & (lines["event_time"] < end)]
    before = lines.loc[(lines["event_time"] >= start) & (lines["event_time"] < cutoff) & (lines["revenue"] > 0)]
    revenue = window.groupby("customer_id")["revenue"].sum().reindex(customers).fillna(0.0)
    purchased = window.loc[window["revenue"] > 0, "customer_id"].drop_duplicates()
    out = pd.DataFrame(index=customers)
    out["next_revenue"] = revenue
    out["log_next_revenue"] = np.log1p(revenue.clip(lower=0.0))
    out["purchased"] = customers.isin(purchased).astype(float)
    out["active_before"] = customers.isin(before["customer_id"].unique()).astype(float)
    out["retained"] = out["purchased"].where(out["active_before"] > 0)
    return out


def between_group_r2(y: np.ndarray | pd.Series, labels: np.ndarray | pd.Series) -> float:
    """Share of the variance of ``y`` explained by group membership: ``1 - SS_within / SS_total``.

    The R^2 of regressing ``y`` on one indicator per group (group means as predictions). 0 when
    ``y`` is constant. Grows with the number of groups, so compare segmentations of similar k
    or mind the baseline's k.
    """
    y = np.asarray(y, dtype=np.float64)
    labels = np.asarray(labels)
    if len(y) != len(labels) or len(y) == 0:
        raise SegrecError(f"between_group_r2: {len(y)} values for {len(labels)} labels")
    total = float(((y - y.mean()) ** 2).sum())
    if total == 0.0:
        return 0.0
    means = pd.Series(y).groupby(labels).transform("mean").to_numpy()
    return 1.0 - float(((y - means) ** 2).sum()) / total


def spend_quintiles(monetary: pd.Series, n: int = 5) -> pd.Series:
    """Quantile group 1..n of past spend (1 = lowest); ties broken by order, so groups are equal
    sized. The baseline every segmentation must beat on next-period value."""
    ranks = monetary.rank(method="first")
    return pd.Series(np.ceil(ranks / len(ranks) * n).astype(int).clip(1, n), index=monetary.index, name="quintile")


# Classic RFM segments on recency and frequency scores (5 = most recent / most frequent).
_RF_SEGMENTS: tuple[tuple[str, str, str], ...] = (
    ("Champions", "45", "45"), ("Loyal", "34", "45"), ("Potential loyalists", "45", "23"),
    ("New", "5", "1"), ("Promising", "4", "1"), ("Need attention", "3", "3"),
    ("About to sleep", "3", "12"), ("Cannot lose", "12", "5"), ("At risk", "12", "34"),
    ("Hibernating", "12", "12"),
)


def rfm_score_groups(recency_days: pd.Series, frequency: pd.Series) -> pd.Series:
    """The classic R x F score segments (Champions, Loyal, At risk, Hibernating, ...).

    R and F are quintile scores 1..5 (rank-based, 5 = most recent / most orders); each
    (R, F) cell maps to one of ten named groups, the first rule that matches wins.
    """
    r = spend_quintiles(-recency_days).astype(str)
    f = spend_quintiles(frequency).astype(str)
    out = pd.Series("Other", index=recency_days.index, name="rfm_group")
    for name, rs, fs in reversed(_RF_SEGMENTS):
        out[r.isin(list(rs)) & f.isin(list(fs))] = name
    return out


def _skewed(column: pd.Series, threshold: float = 1.0) -> bool:
    return bool(abs(column.skew()) > threshold)


# How group_matrix scaled each kept column, one row per column (:data:`GroupMatrix.scaling`):
# x -> weight * (clip(log?(x if known else impute_value), clip_low, clip_high) - center) / scale.
SCALING_COLUMNS: tuple[str, ...] = ("impute_value", "is_log", "clip_low", "clip_high", "center", "scale", "weight")


@dataclass(frozen=True)
class GroupMatrix:
    """Outcome of :func:`group_matrix`: the weighted clustering matrix, the feature group of each
    kept column, why the others were dropped (column -> reason), and how each kept column was
    scaled (``scaling``: index = X's columns, :data:`SCALING_COLUMNS`), so that
    :func:`apply_scaling` puts new feature values (a live visitor's) into the same space."""

    X: pd.DataFrame
    groups: dict[str, str]
    dropped: dict[str, str]
    scaling: pd.DataFrame


def group_matrix(
    features: pd.DataFrame,
    groups: Mapping[str, Sequence[str]],
    *,
    group_weights: Mapping[str, float] | None = None,
    min_std: float = 1e-3,
    max_abs_corr: float = 0.9,
    skew_threshold: float = 1.0,
    clip_quantile: float = 0.01,
) -> GroupMatrix:
    """Screen features and weight groups so no single group dominates the distances.

    Per column: median-impute; ``signed_log1p`` when |skewness| > ``skew_threshold``;
    clip to the [``clip_quantile``, 1 - ``clip_quantile``] quantiles (a few extreme returners
    or resellers would otherwise get a 1% cluster of their own); drop when the std is then
    below ``min_std`` (near-constant); standardize. Then,
    in group order and column order, drop a column whose |Pearson correlation| with a kept one
    exceeds ``max_abs_corr`` (redundant). Finally each group's columns are divided by
    sqrt(number kept in the group) so every group has total variance 1, times
    sqrt(``group_weights[group]``) (default 1): twelve daypart or product-group shares then
    weigh as much as the four value features, not three times as much.
    """
    group_of = {c: g for g, cols in groups.items() for c in cols if c in features.columns}
    if not group_of:
        raise SegrecError("group_matrix: none of the grouped columns are in the features")
    dropped: dict[str, str] = {}
    scaled, steps = {}, {}
    for column, _group in group_of.items():
        values = features[column].astype(np.float64)
        impute = float(values.median()) if values.notna().any() else 0.0
        values = values.fillna(impute)
        is_log = _skewed(values, skew_threshold)
        if is_log:
            values = signed_log1p(values)
        low, high = -np.inf, np.inf
        if clip_quantile > 0:
            low, high = float(values.quantile(clip_quantile)), float(values.quantile(1 - clip_quantile))
            values = values.clip(low, high)
        std = float(values.std(ddof=0))
        if std < min_std:
            dropped[column] = "near-constant"
            continue
        center = float(values.mean())
        scaled[column] = (values - center) / std
        steps[column] = (impute, is_log, low, high, center, std, 1.0)
    X = pd.DataFrame(scaled, index=features.index)
    kept: list[str] = []
    corr = X.corr().abs()
    for column in X.columns:
        partner = next((k for k in kept if corr.at[column, k] > max_abs_corr), None)
        if partner is not None:
            dropped[column] = f"|corr| {corr.at[column, partner]:.2f} with {partner}"
        else:
            kept.append(column)
    X = X[kept]
    weights = dict(group_weights or {})
    scaling = pd.DataFrame.from_dict({c: steps[c] for c in kept}, orient="index", columns=list(SCALING_COLUMNS))
    scaling = scaling.astype({"is_log": bool})
    for group in {group_of[c] for c in kept}:
        cols = [c for c in kept if group_of[c] == group]
        weight = np.sqrt(weights.get(group, 1.0) / len(cols))
        X[cols] = X[cols] * weight
        scaling.loc[cols, "weight"] = weight
    return GroupMatrix(X=X, groups={c: group_of[c] for c in kept}, dropped=dropped, scaling=scaling)


def apply_scaling(features: pd.DataFrame, scaling: pd.DataFrame) -> pd.DataFrame:
    """``features`` (rows of raw values; columns by name) in the space ``scaling`` describes
    (:data:`GroupMatrix.scaling`): the same steps group_matrix took, with its fitted numbers, so
    ``apply_scaling(features, group_matrix(features, ...).scaling)`` is that matrix's X. A
    column of ``scaling`` missing from ``features`` counts as unknown (its impute value)."""
    raw = features.reindex(columns=scaling.index).to_numpy(dtype=np.float64)
    return pd.DataFrame(scale_values(raw, scaling), index=features.index, columns=scaling.index)


def scale_values(raw: np.ndarray, scaling: pd.DataFrame) -> np.ndarray:
    """:func:`apply_scaling` on a plain array whose columns are ``scaling.index`` in order (NaN:
    unknown): the steps once, for a table or for one live visitor."""
    values = np.where(np.isnan(raw), scaling["impute_value"].to_numpy(dtype=np.float64), raw)
    is_log = scaling["is_log"].to_numpy(dtype=bool)
    values = np.where(is_log, signed_log1p(values), values)
    values = np.clip(values, scaling["clip_low"].to_numpy(dtype=np.float64),
                     scaling["clip_high"].to_numpy(dtype=np.float64))
    centered = (values - scaling["center"].to_numpy(dtype=np.float64)) / scaling["scale"].to_numpy(dtype=np.float64)
    return centered * scaling["weight"].to_numpy(dtype=np.float64)


def group_drivers(X: pd.DataFrame, groups: Mapping[str, str], labels: np.ndarray) -> pd.DataFrame:
    """Which feature groups set each segment apart: per segment (rows) and group (columns), the
    mean |centroid coordinate| of the group's columns in standard units (the group weight
    undone), i.e. the mean |z| of the segment's averages on the group's features."""
    unweighted = X / X.std(ddof=0).replace(0.0, 1.0)
    centroids = unweighted.groupby(np.asarray(labels)).mean().abs()
    by_group = {g: [c for c in X.columns if groups[c] == g] for g in dict.fromkeys(groups.values())}
    return pd.DataFrame({g: centroids[cols].mean(axis=1) for g, cols in by_group.items()})


def segment_outcomes(labels: pd.Series, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per segment: customers, share, purchase rate, retention rate, mean and total next
    revenue, share of next revenue, mean log next revenue (``labels`` indexed like outcomes)."""
    frame = outcomes.assign(segment=labels.reindex(outcomes.index).to_numpy())
    by = frame.groupby("segment")
    table = pd.DataFrame({
        "n_customers": by.size(),
        "purchase_rate": by["purchased"].mean(),
        "retention_rate": by["retained"].mean(),
        "mean_next_revenue": by["next_revenue"].mean(),
        "mean_log_next_revenue": by["log_next_revenue"].mean(),
        "next_revenue_share": by["next_revenue"].sum() / max(frame["next_revenue"].clip(lower=0).sum(), 1e-12),
    })
    table.insert(1, "customer_share", table["n_customers"] / len(frame))
    return table.sort_values("mean_next_revenue", ascending=False)


def choose_configuration(
    table: pd.DataFrame,
    *,
    silhouette_tolerance: float = 0.10,
    min_silhouette: float = 0.15,
    min_segment_share: float = 0.02,
    r2_tolerance: float = 0.05,
) -> pd.Series:
    """The selection rule over candidate (feature_set, k) rows: separation first, then geometry.

    ``table`` has one row per candidate with ``feature_set``, ``k``, ``silhouette``, ``r2``
    (between-group R^2 of next-period log value on the hold-out inside training) and
    ``min_share`` (smallest segment's customer share). Rule:

    1. eligible: silhouette >= max(``min_silhouette``, best silhouette of the candidate's
       feature set - ``silhouette_tolerance``) and min_share >= ``min_segment_share`` (a
       2% segment is not a campaign); if nothing is eligible, every row is;
    2. among them keep the rows whose r2 reaches ``(1 - r2_tolerance)`` x the best r2 (a
       relative band: R^2 levels differ tenfold between shops);
    3. of those, the fewest segments (k), then the highest silhouette.

    So k is never chosen for geometry alone (the Morning/Afternoon shoppers had a fine
    silhouette and explained 0.2%), nor for R^2 alone (which grows with k and with
    fragmented clusters). Returns the chosen row.
    """
    needed = {"feature_set", "k", "silhouette", "r2", "min_share"}
    if missing := needed - set(table.columns):
        raise SegrecError(f"choose_configuration: table lacks {sorted(missing)}")
    if table.empty:
        raise SegrecError("choose_configuration: no candidates")
    best_sil = table.groupby("feature_set")["silhouette"].transform("max")
    eligible = table.loc[
        (table["silhouette"] >= np.maximum(min_silhouette, best_sil - silhouette_tolerance))
        & (table["min_share"] >= min_segment_share)
    ]
    if eligible.empty:
        eligible = table
    top = eligible.loc[eligible["r2"] >= (1.0 - r2_tolerance) * eligible["r2"].max()]
    return top.sort_values(["k", "silhouette"], ascending=[True, False], kind="stable").iloc[0]


def name_value_segments(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    taste_labels: Mapping[str, str] | None = None,
    taste_z: float = 1.0,
    trait_words: Mapping[str, str] | None = None,
    typical_gap_days: float | None = None,
) -> pd.DataFrame:
    """Marketer-readable names from lifecycle, value, frequency and (optionally) taste.

    Lifecycle compares the segment's median recency with the shop's typical gap between
    orders (``typical_gap_days``; default the median of ``ipt_mean_days``, else 90): Active up
    to 1 gap, Cooling up to 2, Lapsing up to 3, else Lapsed. Population percentiles were
    misleading there (on CDNOW, where most customers are long gone, "Active" meant 127 days).
    The population percentiles of the segment's mean monetary and median frequency give value
    (High-value >= 0.75, Low-value < 0.35, else Mid-value) and frequency (one-time when the
    median customer has one order, frequent when the percentile >= 0.75, else repeat).
    "big-basket" is added when the mean order value percentile is >= 0.8, "high-return" when
    the mean return share is 1 std above the population's. A taste column (in
    ``taste_labels``: column -> words) whose segment mean is ``taste_z`` population std above
    the mean adds "<words> buyers", else "buyers"; a segment whose median customer has no
    order is "browsers". ``trait_words`` (column -> adjective, e.g. promotion_redemption_rate
    -> "deal-driven") adds the adjective of the strongest such column at z >= 1. Duplicates
    get a numeral. The description gives the numbers and one suggested action.
    """
    labels = labels.reindex(features.index)

    gap = typical_gap_days
    if gap is None:
        gap = float(features["ipt_mean_days"].median()) if "ipt_mean_days" in features else 90.0
    gap = gap if np.isfinite(gap) and gap > 0 else 90.0

    def pct(column: str, value: float) -> float:
        return float((features[column] < value).mean())

    rows = []
    for segment, members in features.groupby(labels.to_numpy()):
        rec = float(members["recency_days"].median()) / gap
        val = pct("monetary", members["monetary"].mean())
        freq_median = float(members["frequency"].median())
        freq = pct("frequency", freq_median)
        aov = pct("avg_order_value", members["avg_order_value"].mean())
        life = "Active" if rec <= 1 else "Cooling" if rec <= 2 else "Lapsing" if rec <= 3 else "Lapsed"
        value = "high-value" if val >= 0.75 else "low-value" if val < 0.35 else "mid-value"
        often = "one-time" if freq_median <= 1 else "frequent" if freq >= 0.75 else "repeat"
        ret = features["return_share"] if "return_share" in features else None
        returns = ret is not None and ret.std(ddof=0) > 0 and (
            (members["return_share"].mean() - ret.mean()) / ret.std(ddof=0) >= 1.0
        )
        words = [life, value, often] + (["big-basket"] if aov >= 0.8 else []) + (["high-return"] if returns else [])
        taste, taste_col, taste_z_best = "", "", 0.0
        for column, words_of in (taste_labels or {}).items():
            std = float(features[column].std(ddof=0))
            z = (members[column].mean() - features[column].mean()) / std if std > 0 else 0.0
            if z >= max(taste_z, taste_z_best):  # the strongest taste above the bar
                taste, taste_col, taste_z_best = words_of, column, z
        if freq_median == 0:
            words = [life, "non-buying"]
        best_trait, best_z = "", 1.0
        for column, adjective in (trait_words or {}).items():
            std = float(features[column].std(ddof=0))
            z = (members[column].mean() - features[column].mean()) / std if std > 0 else 0.0
            if z >= best_z:
                best_trait, best_z = adjective, z
        words += [best_trait] if best_trait else []
        name = " ".join(words + ([taste] if taste else []) + ["browsers" if freq_median == 0 else "buyers"])
        action = (
            "convert: first-order incentive" if freq_median == 0
            else "protect: VIP service, early access" if life in ("Active", "Cooling") and value == "high-value"
            else "win back now: personal offer" if life in ("Lapsing", "Lapsed") and value != "low-value"
            else "nudge a second order" if often == "one-time" and life in ("Active", "Cooling")
            else "low-cost reactivation or let go" if life in ("Lapsing", "Lapsed")
            else "grow basket: cross-sell"
        )
        share = f"; {taste} spend share {members[taste_col].mean():.0%} (z {taste_z_best:+.1f})" if taste else ""
        rows.append({
            "segment": segment,
            "segment_name": name[0].upper() + name[1:],
            "description": (
                f"{len(members)} customers: median {freq_median:.0f} orders, last one "
                f"{members['recency_days'].median():.0f} days ago, mean spend {members['monetary'].mean():,.0f}, "
                f"mean order {members['avg_order_value'].mean():,.0f}{share}. Action: {action}."
            ),
        })
    table = pd.DataFrame(rows).set_index("segment")
    seen: dict[str, int] = {}
    names = []
    for name in table["segment_name"]:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} {seen[name]}")
    table["segment_name"] = names
    return table
