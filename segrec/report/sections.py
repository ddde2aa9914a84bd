"""The report's sections, each built from DataFrames read from the warehouse (None = the
table is absent, and the section says so instead of a chart)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segrec.report import svg
from segrec.segmentation.candidates import VALIDATED

ALL_SEGMENTS = "all"  # recommendation_metrics rows over every customer
SIZE_COLUMNS: tuple[str, ...] = ("n_customers", "size", "customers")
PCA_COLUMNS: tuple[str, str] = ("pca_x", "pca_y")
NEW_LABEL, LEFT_LABEL = "(new)", "(left)"  # transitions into and out of the customer base


@dataclass(frozen=True)
class Section:
    """One part of the page: an anchor, a heading and its HTML (charts, tables, notes)."""

    key: str
    title: str
    body: str
    present: bool = True


def note(message: str, cls: str = "note") -> str:
    return f'<p class="{cls}">{svg.esc(message)}</p>'


def absent(key: str, title: str, what: str) -> Section:
    return Section(key, title, note(f"Not in this warehouse: {what}.", "absent"), present=False)


def first_column(frame: pd.DataFrame, candidates: Sequence[str]) -> str | None:
    return next((c for c in candidates if c in frame.columns), None)


def segment_order(profiles: pd.DataFrame | None, segments: pd.DataFrame | None) -> list[str]:
    """Segment names by ``segment_id`` (then name), from the profiles or the assignments."""
    frame = profiles if profiles is not None and "segment_name" in profiles.columns else segments
    if frame is None or "segment_name" not in frame.columns:
        return []
    keys = [c for c in ("segment_id", "segment_name") if c in frame.columns]
    return list(dict.fromkeys(frame.sort_values(keys)["segment_name"].astype(str)))


def segment_colors(names: Sequence[str]) -> dict[str, str]:
    """One palette colour per segment name, in order, so every chart colours a segment alike."""
    return {name: svg.PALETTE[i % len(svg.PALETTE)] for i, name in enumerate(names)}


def sizes_section(
    profiles: pd.DataFrame | None, segments: pd.DataFrame | None, colors: Mapping[str, str]
) -> Section:
    """Customers per segment (bars) and the profile table."""
    key, title = "segments", "Segment sizes and profiles"
    if profiles is not None and first_column(profiles, SIZE_COLUMNS) and "segment_name" in profiles.columns:
        sizes = profiles.set_index(profiles["segment_name"].astype(str))[first_column(profiles, SIZE_COLUMNS)]
        ordered = profiles.sort_values("segment_id") if "segment_id" in profiles.columns else profiles
        table, extra = svg.html_table(ordered), ""
    elif segments is not None and "segment_name" in segments.columns:
        sizes = segments["segment_name"].astype(str).value_counts()
        table, extra = "", note("segment_profiles is absent: sizes counted from customer_segments.")
    else:
        return absent(key, title, "segment_profiles and customer_segments")
    names = [name for name in colors if name in sizes.index] + [n for n in sizes.index if n not in colors]
    chart = svg.bar_chart(
        names, [float(sizes[n]) for n in names], title="Customers per segment",
        colors=[colors.get(n, svg.PALETTE[0]) for n in names], value_label="customers",
    )
    return Section(key, title, chart + extra + table)


def scatter_section(
    segments: pd.DataFrame | None, colors: Mapping[str, str], max_points: int = 4000, random_state: int = 0
) -> Section:
    """The customers on the first two principal components, coloured by segment; at most
    ``max_points`` of them (a fixed random sample) so the page stays light."""
    key, title = "pca", "Customers on the 2-D PCA projection"
    if segments is None:
        return absent(key, title, "customer_segments")
    missing = [c for c in (*PCA_COLUMNS, "segment_name") if c not in segments.columns]
    if missing:
        return absent(key, title, f"customer_segments column(s) {', '.join(missing)}")
    points = segments.dropna(subset=list(PCA_COLUMNS))
    shown = points
    if len(points) > max_points:
        rows = np.sort(np.random.default_rng(random_state).choice(len(points), size=max_points, replace=False))
        shown = points.iloc[rows]
    groups = shown["segment_name"].astype(str)
    palette = dict(colors) | segment_colors([g for g in dict.fromkeys(groups) if g not in colors])
    chart = svg.scatter_plot(
        shown[PCA_COLUMNS[0]].astype(float).tolist(), shown[PCA_COLUMNS[1]].astype(float).tolist(),
        groups.tolist(), title="PCA projection by segment", colors={g: palette[g] for g in palette if g in set(groups)},
        x_label="PC 1", y_label="PC 2",
    )
    caption = note(f"{len(shown):,} of {len(points):,} customers shown.")
    return Section(key, title, chart + caption)


def k_selection_section(selection: pd.DataFrame | None, runs: pd.DataFrame | None) -> Section:
    """Silhouette by number of clusters, the chosen k marked, and the latest model run."""
    key, title = "silhouette", "Choosing k: silhouette by number of clusters"
    if selection is None and runs is None:
        return absent(key, title, "segmentation_k_selection and segmentation_runs")
    body = ""
    chosen = None
    if runs is not None and not runs.empty:
        chosen = runs["k"].iloc[-1] if "k" in runs.columns else None
        body += note("Latest segmentation run:") + svg.html_table(runs.tail(1))
    if selection is None or not {"k", "silhouette"} <= set(selection.columns) or selection.empty:
        return Section(key, title, note("Not in this warehouse: segmentation_k_selection (k, silhouette).", "absent")
                       + body)
    if chosen is None:
        chosen = selection.loc[selection["silhouette"].idxmax(), "k"]
    chart = svg.line_chart(
        selection["k"].astype(float).tolist(), selection["silhouette"].astype(float).tolist(),
        title="Silhouette by k", x_label="k (clusters)", y_label="silhouette",
        highlight=float(chosen) if chosen is not None else None,
    )
    return Section(key, title, chart + note(f"Chosen k = {svg.fmt(chosen)} (large marker).") + body
                   + svg.html_table(selection.sort_values("k")))


def rfm_section(rfm: pd.DataFrame | None) -> Section:
    """Customers per (recency score, frequency score): rows R high to low, columns F low to high."""
    key, title = "rfm", "RFM: customers by recency and frequency score"
    if rfm is None:
        return absent(key, title, "customer_features (r_score, f_score)")
    if rfm.empty:
        return Section(key, title, note("No customer has both an R and an F score."))
    grid = rfm.pivot_table(index="r_score", columns="f_score", values="n_customers", aggfunc="sum", fill_value=0)
    grid = grid.sort_index(ascending=False).sort_index(axis=1)
    chart = svg.heatmap(
        [f"R {svg.fmt(r)}" for r in grid.index], [f"F {svg.fmt(f)}" for f in grid.columns], grid.to_numpy(),
        title="Customers by R and F score", row_title="recency score", col_title="frequency score",
    )
    return Section(key, title, chart + note(f"{int(grid.to_numpy().sum()):,} customers with both scores."))


def transitions_section(transitions: pd.DataFrame | None, names: Mapping[object, str]) -> Section:
    """Customers moving between segments from the previous run to this one, as a matrix."""
    key, title = "transitions", "Segment transitions since the previous run"
    needed = {"from_segment_id", "to_segment_id"}
    if transitions is None or not needed <= set(transitions.columns):
        return absent(key, title, "segment_transitions (from_segment_id, to_segment_id, n_customers)")
    count = first_column(transitions, ("n_customers", "customers", "n"))
    if count is None:
        return absent(key, title, "segment_transitions column n_customers")
    if transitions.empty:
        return Section(key, title, note("No transitions yet: the first scoring run has no previous run."))

    def labels(side: str, missing: str) -> list[str]:
        """The segment's name (its own column, else from ``names``), or ``missing`` for no segment."""
        ids = transitions[f"{side}_segment_id"]
        own = transitions.get(f"{side}_segment_name", pd.Series([None] * len(ids), index=ids.index))
        return [
            missing if pd.isna(i) else str(name) if pd.notna(name) else names.get(i, svg.fmt(i))
            for i, name in zip(ids, own, strict=True)
        ]

    frame = pd.DataFrame({
        "from": labels("from", NEW_LABEL), "to": labels("to", LEFT_LABEL), "n": transitions[count].astype(float),
    })
    grid = frame.pivot_table(index="from", columns="to", values="n", aggfunc="sum")
    grid = grid.reindex(index=_ordered(grid.index, names, NEW_LABEL), columns=_ordered(grid.columns, names, LEFT_LABEL))
    chart = svg.heatmap(list(grid.index), list(grid.columns), grid.to_numpy(), title="Segment transitions",
                        row_title="previous segment", col_title="current segment")
    return Section(key, title, chart + note("Grey cells: no customer moved that way."))


def _ordered(labels: Sequence[str], names: Mapping[object, str], outside: str) -> list[str]:
    """Segment labels in segment order, the new/left pseudo-segment last."""
    order = {name: i for i, name in enumerate(names.values())}
    return sorted(labels, key=lambda s: (s == outside, order.get(s, len(order)), s))


def pick_metric(metrics: pd.DataFrame, metric: str, k: int) -> tuple[str, int | None]:
    """The requested metric and k when present, else the first metric and its largest k."""
    chosen = metric if metric in set(metrics["metric"]) else str(metrics["metric"].iloc[0])
    if "k" not in metrics.columns:
        return chosen, None
    ks = metrics.loc[metrics["metric"] == chosen, "k"].dropna()
    return chosen, (k if k in set(ks) else int(ks.max()) if len(ks) else None)


def recommendations_section(metrics: pd.DataFrame | None, metric: str = "ndcg", k: int = 10) -> Section:
    """Offline metrics by strategy (bars for one metric, table for all) and by segment (heatmap)."""
    key, title = "recommendations", "Recommendation metrics by strategy and segment"
    if metrics is None or metrics.empty or not {"strategy", "metric", "value"} <= set(metrics.columns):
        return absent(key, title, "recommendation_metrics (strategy, metric, k, value)")
    metric, k = pick_metric(metrics, metric, k)
    frame = metrics.assign(
        name=metrics["metric"] + ("" if "k" not in metrics.columns else "@" + metrics["k"].astype("Int64").astype(str)),
        segment=metrics["segment_name"].fillna(ALL_SEGMENTS) if "segment_name" in metrics.columns else ALL_SEGMENTS,
    )
    mask = frame["metric"] == metric
    chosen = frame[mask & (frame["k"] == k)] if k is not None else frame[mask]
    overall = chosen[chosen["segment"] == ALL_SEGMENTS].sort_values("strategy")
    label = f"{metric}@{k}" if k is not None else metric
    body = ""
    if not overall.empty:
        body += svg.bar_chart(overall["strategy"].tolist(), overall["value"].astype(float).tolist(),
                              title=f"{label} by strategy", value_label=label)
    table = frame[frame["segment"] == ALL_SEGMENTS].pivot_table(index="strategy", columns="name", values="value")
    if not table.empty:
        body += note("All customers, every metric:") + svg.html_table(table.reset_index())
    by_segment = chosen[chosen["segment"] != ALL_SEGMENTS]
    if not by_segment.empty:
        grid = by_segment.pivot_table(index="strategy", columns="segment", values="value")
        body += note(f"{label} by segment:") + svg.heatmap(
            list(grid.index), list(grid.columns), grid.to_numpy(), title=f"{label} by strategy and segment",
            col_title="segment",
        )
    return Section(key, title, body or note("recommendation_metrics has no rows for the latest run.", "absent"))


FAIRNESS_COLUMNS: tuple[str, ...] = (
    "group_dimension", "group_name", "n_users", "ndcg", "ndcg_ratio_to_best", "hit_rate", "hit_rate_ratio_to_best",
    "coverage", "exposure_divergence", "history_divergence", "is_below_quality_ratio", "is_exposure_divergent",
)


def fairness_section(fairness: pd.DataFrame | None, strategy: str = "ranker_blended") -> Section:
    """Quality of one strategy's lists per customer group: worst over best group per dimension
    (bars) and every group (table), flagged groups first."""
    key, title = "fairness", "Recommendation quality across customer groups"
    if fairness is None:
        return absent(key, title, "recommendation_fairness")
    chosen = fairness[fairness["strategy"] == strategy] if "strategy" in fairness.columns else fairness
    if chosen.empty:
        return Section(key, title, note(f"recommendation_fairness has no rows for strategy {strategy}.", "absent"))
    k = f"@{int(chosen['k'].iloc[0])}" if "k" in chosen.columns else ""
    ratios = chosen.groupby("group_dimension", sort=True)["ndcg_worst_to_best"].first().dropna()
    body = note(f"Strategy {strategy} (the served blended lists), judged on the hold-out. Groups below the "
                "threshold of the best group of their dimension, or whose lists' category mix drifts further "
                "from everybody's than their own history does, are flagged by warn-severity tests.")
    if not ratios.empty:
        body += svg.bar_chart(list(ratios.index), ratios.astype(float).tolist(),
                              title=f"Worst group's NDCG{k} over the best's, per dimension",
                              value_label="worst / best")
    flagged = chosen["is_below_quality_ratio"].astype(bool) | chosen["is_exposure_divergent"].astype(bool)
    shown = [c for c in FAIRNESS_COLUMNS if c in chosen.columns]
    table = chosen.assign(_flagged=flagged).sort_values(["_flagged", "group_dimension", "group_name"],
                                                        ascending=[False, True, True])
    return Section(key, title, body + svg.html_table(table[shown], max_rows=200))


EXPERIMENT_COLUMNS: tuple[str, ...] = (
    "experiment_id", "metric", "variant", "n", "value", "lift", "ci_low", "ci_high", "p_value", "test",
    "srm_ok", "underpowered",
)


def experiments_section(results: pd.DataFrame | None, alpha: float = 0.05) -> Section:
    """Lift with its confidence interval per treatment (coloured when p < ``alpha``) and the table."""
    key, title = "experiments", "Experiment results"
    if results is None or results.empty:
        return absent(key, title, "experiment_results")
    body = ""
    if {"lift", "ci_low", "ci_high"} <= set(results.columns):
        treated = results.dropna(subset=["lift"])
        if not treated.empty:
            labels = [" · ".join(str(row[c]) for c in ("experiment_id", "metric", "variant") if c in treated.columns)
                      for _, row in treated.iterrows()]
            has_p = "p_value" in treated.columns
            significant = treated["p_value"].lt(alpha).tolist() if has_p else [False] * len(treated)
            body += svg.bar_chart(
                labels, treated["lift"].astype(float).tolist(), title="Lift against control with confidence interval",
                errors=(treated["ci_low"].astype(float).tolist(), treated["ci_high"].astype(float).tolist()),
                colors=[svg.PALETTE[4] if s else svg.PALETTE[9] for s in significant], value_label="relative lift",
            )
            body += note(f"Green: p < {alpha}; grey: not significant.")
    shown = [c for c in EXPERIMENT_COLUMNS if c in results.columns] or list(results.columns)
    return Section(key, title, body + svg.html_table(results[shown], max_rows=200))


def validation_section(validation: pd.DataFrame | None, candidates: pd.DataFrame | None) -> Section:
    """Segment validation: how much of the next period's (log) revenue the chosen segments explain
    next to spend quintiles and R x F groups on the hold-out, their segments' outcomes, and the
    candidates the choice was made from."""
    key, title = "validation", "Segment validation on a hold-out"
    if validation is None:
        return absent(key, title, "segment_validation")
    if validation.empty:
        return Section(key, title, note("No hold-out validation in this build: the data is too short "
                                        "(see int_segmentation__holdout_window.reason)."))
    first = validation.iloc[0]
    r2 = validation.drop_duplicates("segmentation").set_index("segmentation")["r2"]
    r2 = r2.reindex([name for name in VALIDATED if name in r2.index])
    chosen = validation.loc[validation["segmentation"] == "chosen"]
    summary = (
        f"Features up to {svg.fmt(first['cutoff_time'])}, outcomes in the {svg.fmt(first['horizon_days'])} days after. "
        f"Share of the variance of next-period log revenue explained (R^2): chosen segments "
        f"{svg.fmt(r2.get('chosen'))}, spend quintiles {svg.fmt(r2.get('spend_quintiles'))}, "
        f"R x F groups {svg.fmt(r2.get('rfm_groups'))}."
    )
    if not chosen.empty:
        summary += f" Chosen: feature set {chosen['feature_set'].iloc[0]}, k = {svg.fmt(chosen['k'].iloc[0])}."
    chart = svg.bar_chart(list(r2.index.astype(str)), [float(v) for v in r2], title="R^2 of next-period log revenue",
                          value_label="R^2")
    columns = ["segmentation", "segment_name", "n_customers", "customer_share", "purchase_rate", "retention_rate",
               "mean_next_revenue", "next_revenue_share"]
    table = svg.html_table(validation[[c for c in columns if c in validation.columns]])
    body = note(summary) + chart + table
    if candidates is not None and not candidates.empty:
        body += note("Candidates (feature set x k) judged on the hold-out:") + svg.html_table(candidates)
    return Section(key, title, body)
