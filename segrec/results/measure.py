"""What one dataset run measured: read its run.json and its warehouse (read-only) into a
:class:`DatasetResult`, with the customer-value calibration checks where the dataset has them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from segrec.clv import BetaGeoModel, GammaGammaModel, holdout_comparison, summarize_transactions
from segrec.errors import SegrecError
from segrec.recommend.evaluation import RATIO_METRIC, SERVED_STRATEGY
from segrec.run import DATASETS, RUN_FILE, WAREHOUSE_FILE, DatasetSpec
from segrec.runlog import quarantine_summary, segmentation_summary
from segrec.warehouse import (
    load_json,
    open_warehouse,
    quote_ident,
    read_latest,
    read_table,
    row_counts,
    warehouse_tables,
)

# Fader, Hardie & Lee (2005) BG/NBD and Fader & Hardie (2013) Gamma-Gamma on the CDNOW 1/10
# sample (weeks, 39-week calibration to 1997-09-30); docs/customer-value.md has the details.
PUBLISHED_BGNBD: dict[str, float] = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GAMMA_GAMMA: dict[str, float] = {"p": 6.25, "q": 3.74, "gamma": 15.44}
CDNOW_SAMPLE = "cdnow_lifetimes/CDNOW_sample.txt.gz"
RECOMMENDATION_METRICS: tuple[str, ...] = ("precision", "recall", "ndcg", "hit_rate", "coverage")
OVERALL_SEGMENT = "all"


# ---------------------------------------------------------------------------- measurements


def session_agreement(events: pd.DataFrame) -> dict:
    """How well our sessions reproduce the source's, from one row per clean event with
    ``source_session_id`` and ``session_key``.

    ``exact_share``: source sessions whose events form exactly one of our sessions (nothing
    split off, nothing merged in); ``our_exact_share``: the same from our side; ``ari``:
    adjusted Rand index of the two event-to-session assignments. Events without a source
    session are left out of every figure.
    """
    missing = {"source_session_id", "session_key"} - set(events.columns)
    if missing:
        raise SegrecError(f"session agreement: missing column(s) {', '.join(sorted(missing))}")
    events = events.dropna(subset=["source_session_id", "session_key"])
    if events.empty:
        return {"events": 0, "source_sessions": 0, "sessions": 0, "exact_share": None,
                "our_exact_share": None, "ari": None}
    pairs = events.groupby(["source_session_id", "session_key"]).size().rename("shared").reset_index()
    pairs["source_size"] = pairs["source_session_id"].map(events["source_session_id"].value_counts())
    pairs["our_size"] = pairs["session_key"].map(events["session_key"].value_counts())
    exact = pairs[(pairs["shared"] == pairs["source_size"]) & (pairs["shared"] == pairs["our_size"])]
    n_source, n_ours = events["source_session_id"].nunique(), events["session_key"].nunique()
    return {
        "events": len(events),
        "source_sessions": n_source,
        "sessions": n_ours,
        "exact_share": len(exact) / n_source,
        "our_exact_share": len(exact) / n_ours,
        "ari": float(adjusted_rand_score(events["source_session_id"], events["session_key"])),
    }


def value_calibration(
    purchases: pd.DataFrame, *, calibration_end: str, observation_end: str, freq: str = "W"
) -> dict:
    """BG/NBD and Gamma-Gamma fitted on the calibration period and the hold-out check.

    ``purchases``: one row per purchase with ``customer_key``, ``event_time``, ``revenue``.
    Returns the customers, the fitted parameters, the BG/NBD log-likelihood and
    :func:`segrec.clv.holdout_comparison` (predicted vs actual hold-out purchase days by
    calibration frequency).
    """
    after = pd.to_datetime(purchases["event_time"]) >= pd.Timestamp(calibration_end) + pd.Timedelta(days=1)
    if not after.any():
        raise SegrecError(f"no purchases after the calibration end {calibration_end}: nothing to check against")
    summary = summarize_transactions(
        purchases, value="revenue", observation_end=observation_end, calibration_end=calibration_end, freq=freq
    )
    transactions = BetaGeoModel().fit(summary["frequency"], summary["recency"], summary["T"])
    spenders = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    value = GammaGammaModel().fit(spenders["frequency"], spenders["monetary_value"])
    return {
        "customers": len(summary),
        "repeat_customers": int((summary["frequency"] > 0).sum()),
        "bgnbd": transactions.params_,
        "log_likelihood": transactions.log_likelihood_,
        "gamma_gamma": value.params_,
        "holdout": holdout_comparison(summary, transactions),
    }


def failure_summary(message: str | None) -> str:
    """One line of a dbt failure message: a Python traceback's exception line, else the
    first two lines (a compilation error's title and its reason)."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    if any(line.startswith("Traceback") for line in lines):
        return lines[-1]
    return " ".join(lines[:2])


def build_failures(run_results: Mapping | None) -> list[tuple[str, str]]:
    """``[(node, one-line message)]`` of the errored or failed nodes of a dbt build."""
    return [
        (result["unique_id"], failure_summary(result.get("message")))
        for result in (run_results or {}).get("results", [])
        if result.get("status") in ("error", "fail", "runtime error")
    ]


# ---------------------------------------------------------------------------- reading a run


@dataclass
class DatasetResult:
    """What the page shows about one dataset's run (None: not in this warehouse)."""

    name: str
    run: dict
    rows: dict | None = None
    sessions: dict | None = None
    agreement: dict | None = None
    segmentation: dict | None = None
    profiles: pd.DataFrame | None = None
    recommendations: pd.DataFrame | None = None
    served_ratio: dict | None = None
    customer_value: dict | None = None
    calibrations: list[tuple[str, dict]] = field(default_factory=list)
    catalog: dict | None = None
    segment_validation: pd.DataFrame | None = None
    product_groups: pd.DataFrame | None = None
    fairness: pd.DataFrame | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.sql(sql).fetchall()[0][0]


def row_accounting(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]) -> dict | None:
    """Raw, clean and quarantined event rows (quarantine by reason); None without events."""
    quarantine = quarantine_summary(con, tables)
    if quarantine is None or "fct_events" not in tables:
        return None
    clean = row_counts(con, ["fct_events"], tables)["fct_events"]
    return {**quarantine, "clean_events": clean,
            "accounted": quarantine["raw_events"] == clean + quarantine["quarantined_events"]}


def session_summary(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]) -> dict | None:
    """Sessions, events per session and the converted share; None without fct_sessions."""
    if "fct_sessions" not in tables:
        return None
    sessions, mean_events, median_events, converted = con.sql(
        "select count(*), avg(n_events), median(n_events), avg(case when converted then 1.0 else 0.0 end) "
        "from fct_sessions"
    ).fetchall()[0]
    customers = _scalar(con, "select count(distinct customer_key) from fct_sessions")
    return {"sessions": sessions, "customers": customers, "mean_events": mean_events,
            "median_events": median_events, "converted_share": converted}


def source_session_events(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]) -> pd.DataFrame | None:
    """Clean events that carry a source session id, or None when no event does."""
    if "fct_events" not in tables:
        return None
    events = con.sql(
        "select source_session_id, session_key from fct_events where source_session_id is not null"
    ).df()
    return events if len(events) else None


def recommendation_table(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str], k: int = 10) -> pd.DataFrame | None:
    """Strategy x metric at ``k`` over all customers from the latest recommendation_metrics."""
    metrics = read_latest(con, "recommendation_metrics", tables)
    if metrics is None or metrics.empty:
        return None
    overall = metrics[(metrics["segment_name"] == OVERALL_SEGMENT) & (metrics["k"] == k)]
    table = overall.pivot_table(index="strategy", columns="metric", values="value", aggfunc="first")
    table["n_users"] = overall.groupby("strategy")["n_users"].max()
    # warehouses built before the intervals have no ci columns: their cells stay empty
    ndcg = overall[overall["metric"] == "ndcg"].set_index("strategy")
    for bound in ("ci_low", "ci_high"):
        table[f"ndcg_{bound}"] = ndcg[bound] if bound in ndcg.columns else float("nan")
    table.attrs["split"] = str(overall["split_description"].iloc[0]) if len(overall) else ""
    return table.reindex(columns=[*RECOMMENDATION_METRICS, "ndcg_ci_low", "ndcg_ci_high", "n_users"])


def served_ratio_summary(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str], k: int = 10) -> dict | None:
    """The served lists' NDCG@``k`` over the better baseline's with its paired bootstrap
    interval and the customers judged (``value``, ``ci_low``, ``ci_high``, ``n_users``), from the
    latest recommendation_metrics; None when the warehouse has no such row."""
    metrics = read_latest(con, "recommendation_metrics", tables)
    if metrics is None or "ci_low" not in metrics.columns:
        return None
    row = metrics[(metrics["metric"] == RATIO_METRIC) & (metrics["strategy"] == SERVED_STRATEGY)
                  & (metrics["segment_name"] == OVERALL_SEGMENT) & (metrics["k"] == k)]
    if row.empty:
        return None
    first = row.iloc[0]
    return {"value": float(first["value"]), "ci_low": float(first["ci_low"]), "ci_high": float(first["ci_high"]),
            "n_users": int(first["n_users"])}


def fairness_summary(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str],
                     strategy: str = "ranker_blended") -> pd.DataFrame | None:
    """Per group dimension of the latest recommendation_fairness, for ``strategy``: the judged
    groups, the worst and best by NDCG with their values, the worst-to-best ratios and the flags."""
    fairness = read_latest(con, "recommendation_fairness", tables)
    if fairness is None:
        return None
    judged = fairness[(fairness["strategy"] == strategy) & fairness["is_judged"].astype(bool)]
    rows = []
    for dimension, groups in judged.groupby("group_dimension", sort=True):
        ordered = groups.sort_values(["ndcg", "group_name"])
        worst, best = ordered.iloc[0], ordered.iloc[-1]
        rows.append({
            "group_dimension": dimension, "groups": len(groups), "customers": int(groups["n_users"].sum()),
            "worst": f"{worst['group_name']} ({worst['ndcg']:.3f}, {int(worst['n_users'])})",
            "best": f"{best['group_name']} ({best['ndcg']:.3f}, {int(best['n_users'])})",
            "ndcg_worst_to_best": worst["ndcg_worst_to_best"],
            "hit_rate_worst_to_best": worst["hit_rate_worst_to_best"],
            # to the shown precision (and +0.0), so that a gap of -0.0004 does not print as -0.000
            "max_divergence_gap": round(float(groups["divergence_gap"].max()), 3) + 0.0,
            "flagged": int((groups["is_below_quality_ratio"] | groups["is_exposure_divergent"]).sum()),
        })
    return pd.DataFrame(rows) if rows else None


def customer_value_summary(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]) -> dict | None:
    """The customer_predictions mart in figures: customers, bands by basis, totals, parameters."""
    if "customer_predictions" not in tables:
        return None
    predictions = con.sql("select * from customer_predictions").df()
    parameters = None
    if "int_customers__value_scores" in tables and len(predictions):
        parameters = json.loads(_scalar(con, "select any_value(model_parameters) from int_customers__value_scores"))
    bands = (
        predictions.groupby(["churn_risk_basis", "churn_risk_band"]).size().unstack(fill_value=0)
        .reindex(columns=["low", "medium", "high"], fill_value=0)
    )
    repeaters = predictions[predictions["purchase_days"] > 1]
    return {
        "customers": len(predictions),
        "one_time_buyers": int((predictions["purchase_days"] == 1).sum()),
        "as_of_date": predictions["as_of_date"].max() if len(predictions) else None,
        "expected_purchases_90d": float(predictions["expected_purchases_90d"].sum()),
        "predicted_value_90d": (float(predictions["predicted_value_90d"].sum())
                                if predictions["predicted_value_90d"].notna().any() else None),
        "mean_probability_active_repeaters": float(repeaters["probability_active"].mean()) if len(repeaters) else None,
        "bands": bands,
        "parameters": parameters,
        "model_version": predictions["model_version"].iloc[0] if len(predictions) else None,
    }


def known_purchases(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Clean purchases of known customers: customer_key, customer_id, event_time, revenue."""
    return con.sql(
        """
        select events.customer_key, customers.customer_id, events.event_time, events.revenue
        from fct_events as events
        inner join dim_customers as customers on events.customer_key = customers.customer_key
        where events.event_type = 'purchase' and not customers.is_anonymous
        """
    ).df()


def cdnow_sample_ids(root: Path) -> set[str] | None:
    """Master customer ids of the CDNOW 1/10 sample (the published figures' customers), or None."""
    path = root / CDNOW_SAMPLE
    if not path.is_file():
        return None
    from segrec.ingest import ingest

    return set(ingest("cdnow", [path]).tables["events"]["customer_id"])


def calibrations(con: duckdb.DuckDBPyConnection, spec: DatasetSpec, root: Path) -> list[tuple[str, dict]]:
    """The dataset's customer-value calibration(s): all known customers, and for CDNOW also
    the customers of the 1/10 sample the published parameters were fitted on."""
    if spec.value_calibration is None:
        return []
    calibration_end, observation_end = spec.value_calibration
    purchases = known_purchases(con)
    groups = [("all customers", purchases)]
    if spec.name == "cdnow":
        sample = cdnow_sample_ids(root)
        if sample is not None:
            groups.append(("customers of the 1/10 sample", purchases[purchases["customer_id"].isin(sample)]))
    results = []
    for label, frame in groups:
        try:
            results.append((label, value_calibration(frame, calibration_end=calibration_end,
                                                     observation_end=observation_end)))
        except SegrecError as exc:  # too few repeat buyers: say so on the page
            results.append((label, {"error": str(exc)}))
    return results


def catalog_summary(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]) -> dict | None:
    """Products, top-level categories and products without one, from staging (catalog-only runs)."""
    if "stg_raw__products" not in tables:
        return None
    return dict(zip(
        ("products", "categories", "without_category"),
        con.sql(
            "select count(*), count(distinct split_part(category_path, ' > ', 1)), "
            "count(*) filter (where category_path is null or trim(category_path) = '') from stg_raw__products"
        ).fetchall()[0],
        strict=True,
    ))


def name_groups(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str], examples: int = 4) -> pd.DataFrame | None:
    """Product groups derived from product names (a catalog without categories): per group its
    label, product count and the names of its ``examples`` best-selling products; None when the
    groups come from categories or the warehouse has none."""
    needed = ("int_segmentation__product_groups", "dim_products", "fct_events")
    if any(name not in tables for name in needed):
        return None
    groups_table, products_table, events_table = (f"{quote_ident(tables[n])}.{quote_ident(n)}" for n in needed)
    frame = con.sql(
        f"""
        with
        groups as (
            select * from {groups_table} where source = 'name'
        ),
        sales as (
            select product_id, count(*) as n_lines
            from {events_table}
            where event_type = 'purchase'
            group by product_id
        ),
        ranked as (
            select
                groups.product_group,
                groups.group_label,
                products.product_name,
                row_number() over (
                    partition by groups.product_group
                    order by coalesce(sales.n_lines, 0) desc, groups.product_id
                ) as position,
                count(*) over (partition by groups.product_group) as n_products
            from groups
            inner join {products_table} as products on groups.product_id = products.product_id
            left join sales on groups.product_id = sales.product_id
        )
        select
            product_group,
            any_value(group_label) as group_label,
            any_value(n_products) as n_products,
            string_agg(product_name, '; ' order by position) as examples
        from ranked
        where position <= {int(examples)}
        group by product_group
        order by n_products desc, product_group
        """
    ).df()
    return frame if len(frame) else None


def collect(run_dir: Path, root: Path) -> DatasetResult:
    """Everything the page shows about the run in ``run_dir``."""
    run = load_json(run_dir / RUN_FILE)
    if run is None:
        raise SegrecError(f"{run_dir} has no {RUN_FILE}: run `segrec run {run_dir.name}` first")
    result = DatasetResult(name=run["dataset"], run=run,
                           failures=build_failures(load_json(run_dir / "target" / "run_results.json")))
    spec = DATASETS.get(result.name)
    with open_warehouse(run_dir / WAREHOUSE_FILE) as con:
        tables = warehouse_tables(con)
        result.rows = row_accounting(con, tables)
        result.sessions = session_summary(con, tables)
        events = source_session_events(con, tables)
        result.agreement = None if events is None else session_agreement(events)
        result.segmentation = segmentation_summary(con, tables)
        result.profiles = read_latest(con, "segment_profiles", tables)
        result.segment_validation = read_table(con, "segment_validation", tables)
        result.product_groups = name_groups(con, tables)
        result.recommendations = recommendation_table(con, tables)
        result.served_ratio = served_ratio_summary(con, tables)
        result.fairness = fairness_summary(con, tables)
        result.customer_value = customer_value_summary(con, tables)
        if spec is not None and result.rows is not None and "dim_customers" in tables:
            result.calibrations = calibrations(con, spec, root)
        if result.rows is None:
            result.catalog = catalog_summary(con, tables)
    return result
