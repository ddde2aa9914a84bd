"""Write docs/results.md from the per-dataset runs: segrec results [--runs runs] [--out docs/results.md].

Reads every ``<runs>/<dataset>/`` written by ``segrec run`` (its ``run.json`` and its
``warehouse.duckdb``, opened read-only) and renders one Markdown page: per dataset the raw,
clean and quarantined rows (by reason), sessions and, where the source has its own session
ids, how well our sessions reproduce them, the segments found with their quality metrics
and profiles, the recommendation metrics of every strategy against popularity, the
customer-value model (and a calibration / hold-out check where the dataset has one, with
the published CDNOW figures), and the build time.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from segrec.clv import BetaGeoModel, GammaGammaModel, holdout_comparison, summarize_transactions
from segrec.errors import SegrecError
from segrec.report.warehouse import load_json, open_warehouse, read_latest, row_counts, warehouse_tables
from segrec.run import DATASETS, RUN_FILE, WAREHOUSE_FILE, DatasetSpec, datasets_dir
from segrec.runlog import quarantine_summary, segmentation_summary

# Fader, Hardie & Lee (2005) BG/NBD and Fader & Hardie (2013) Gamma-Gamma on the CDNOW 1/10
# sample (weeks, 39-week calibration to 1997-09-30); docs/customer-value.md has the details.
PUBLISHED_BGNBD: dict[str, float] = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GAMMA_GAMMA: dict[str, float] = {"p": 6.25, "q": 3.74, "gamma": 15.44}
CDNOW_SAMPLE = "cdnow_lifetimes/CDNOW_sample.txt.gz"
# Public datasets that no adapter turns into raw events, and why.
NOT_INGESTED: dict[str, str] = {
    "uci_online_shoppers_intention": "one row per session aggregate, without customer, product or event ids: "
                                     "nothing maps onto the raw events contract",
}
RECOMMENDATION_METRICS: tuple[str, ...] = ("precision", "recall", "ndcg", "hit_rate", "coverage")
BASELINE_STRATEGY = "popularity"
OVERALL_SEGMENT = "all"
PROFILE_COLUMNS: dict[str, str] = {
    "segment_name": "segment", "n_customers": "customers", "customer_share": "share",
    "revenue_share": "revenue share", "avg_frequency": "orders", "avg_monetary": "net revenue",
    "avg_recency_days": "recency (days)", "avg_conversion_rate": "conversion", "description": "description",
}


# ---------------------------------------------------------------------------- formatting


def fmt(value: object, spec: str = ",.3f") -> str:
    """A table cell: ``-`` for missing values, thousands separators for integers."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (hasattr(value, "is_integer") and spec == "int"):
        return f"{int(value):,}"
    if isinstance(value, float):
        return format(value, spec)
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], spec: str = ",.3f") -> str:
    """A GitHub Markdown table; cells go through :func:`fmt` (text is escaped, numbers formatted)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(cell, spec) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def share(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else part / whole


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
    customer_value: dict | None = None
    calibrations: list[tuple[str, dict]] = field(default_factory=list)
    catalog: dict | None = None
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
    table.attrs["split"] = str(overall["split_description"].iloc[0]) if len(overall) else ""
    return table.reindex(columns=[*RECOMMENDATION_METRICS, "n_users"])


def customer_value_summary(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]) -> dict | None:
    """The customer_predictions mart in figures: customers, bands by basis, totals, parameters."""
    if "customer_predictions" not in tables:
        return None
    predictions = con.sql("select * from customer_predictions").df()
    parameters = None
    if "customer_value_scores" in tables and len(predictions):
        parameters = json.loads(_scalar(con, "select any_value(model_parameters) from customer_value_scores"))
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
        result.recommendations = recommendation_table(con, tables)
        result.customer_value = customer_value_summary(con, tables)
        if spec is not None and result.rows is not None and "dim_customers" in tables:
            result.calibrations = calibrations(con, spec, root)
        if result.rows is None:
            result.catalog = catalog_summary(con, tables)
    return result


# ---------------------------------------------------------------------------- rendering


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} s"


def _statuses(run: Mapping) -> str:
    return ", ".join(f"{status} {n:,}" for status, n in run.get("build_statuses", {}).items()) or "-"


def overview(results: Sequence[DatasetResult]) -> str:
    """One line per dataset: rows, sessions, segments, customer value, build."""
    rows = []
    for result in results:
        accounting, sessions, segmentation = result.rows or {}, result.sessions or {}, result.segmentation or {}
        value = result.customer_value or {}
        rows.append([
            f"[{result.name}](#{result.name.replace('_', '-')})",
            accounting.get("raw_events"), accounting.get("clean_events"), accounting.get("quarantined_events"),
            sessions.get("sessions"), segmentation.get("k"), segmentation.get("silhouette"),
            value.get("customers"), _seconds(result.run.get("build_seconds")),
            "ok" if result.run.get("build_returncode") == 0 else "FAILED",
        ])
    header = ["dataset", "raw rows", "clean", "quarantined", "sessions", "segments", "silhouette",
              "customers scored", "dbt build", "build"]
    return markdown_table(header, rows)


def ingest_section(run: Mapping) -> list[str]:
    ingest = run.get("ingest") or {}
    if not ingest:
        return []
    written = ingest.get("rows_written", {}).get(ingest.get("primary_table", "events"), 0)
    dropped = ingest.get("dropped", {})
    line = (f"Ingest (`segrec ingest {run.get('source')}`): {ingest.get('total_read', 0):,} source rows, "
            f"{written:,} written as raw {ingest.get('primary_table', 'events')}")
    if dropped:
        line += ", dropped on purpose: " + ", ".join(f"{reason} {n:,}" for reason, n in dropped.items())
    return [line + f" ({ingest.get('unaccounted', 0)} unaccounted)."]


def rows_section(rows: Mapping | None) -> list[str]:
    if rows is None:
        return []
    verdict = "every raw row accounted for" if rows["accounted"] else "**raw rows NOT accounted for**"
    lines = [
        "### Rows",
        f"{rows['raw_events']:,} raw events = {rows['clean_events']:,} clean + {rows['quarantined_events']:,} "
        f"quarantined ({rows['rate']:.2%}): {verdict}.",
    ]
    if rows["by_reason"]:
        lines += ["", markdown_table(
            ["reason_code", "rows", "share of raw"],
            [[reason, entry["rows"], f"{entry['rate']:.2%}"] for reason, entry in rows["by_reason"].items()],
        )]
    return lines


def sessions_section(sessions: Mapping | None, agreement: Mapping | None) -> list[str]:
    if sessions is None:
        return []
    lines = [
        "### Sessions",
        f"{sessions['sessions']:,} sessions of {sessions['customers']:,} customers (30-minute inactivity rule), "
        f"{sessions['mean_events']:.2f} events on average (median {sessions['median_events']:g}), "
        f"{sessions['converted_share']:.1%} with a purchase.",
    ]
    if agreement and agreement["events"]:
        lines += ["", markdown_table(
            ["events with a source session", "source sessions", "our sessions", "source sessions reproduced exactly",
             "our sessions equal to a source session", "adjusted Rand index"],
            [[agreement["events"], agreement["source_sessions"], agreement["sessions"],
              f"{agreement['exact_share']:.1%}", f"{agreement['our_exact_share']:.1%}", agreement["ari"]]],
        )]
    return lines


def segments_section(segmentation: Mapping | None, profiles: pd.DataFrame | None) -> list[str]:
    if segmentation is None:
        return ["### Segments", "No segmentation run in this warehouse."]
    lines = [
        "### Segments",
        f"{segmentation.get('algorithm')} with k = {segmentation.get('k')} on {segmentation.get('n_customers'):,} "
        f"customers: silhouette {fmt(segmentation.get('silhouette'))}, Calinski-Harabasz "
        f"{fmt(segmentation.get('calinski_harabasz'), ',.1f')}, Davies-Bouldin "
        f"{fmt(segmentation.get('davies_bouldin'))}, explaining-tree fidelity "
        f"{fmt(segmentation.get('tree_fidelity'))}.",
    ]
    if profiles is not None and len(profiles):
        columns = [c for c in PROFILE_COLUMNS if c in profiles.columns]
        ordered = profiles.sort_values("n_customers", ascending=False)
        lines += ["", markdown_table([PROFILE_COLUMNS[c] for c in columns],
                                     ordered[columns].itertuples(index=False), spec=",.2f")]
    return lines


def recommendations_section(table: pd.DataFrame | None) -> list[str]:
    if table is None:
        return []
    baseline = table["ndcg"].get(BASELINE_STRATEGY) if "ndcg" in table.columns else None
    rows = [
        [strategy, *[row[m] for m in RECOMMENDATION_METRICS],
         None if not baseline or pd.isna(row["ndcg"]) else f"{row['ndcg'] / baseline:.2f}x",
         None if pd.isna(row["n_users"]) else int(row["n_users"])]
        for strategy, row in table.sort_values("ndcg", ascending=False).iterrows()
    ]
    header = ["strategy", *[f"{m}@10" for m in RECOMMENDATION_METRICS], "NDCG vs popularity", "users"]
    return ["### Recommendations", f"Hold-out: {table.attrs.get('split', '')}.", "",
            markdown_table(header, rows)]


def customer_value_section(value: Mapping | None, calibration_runs: Sequence[tuple[str, dict]], name: str) -> list[str]:
    if value is None:
        return []
    lines = ["### Customer value"]
    if not value["customers"]:
        lines.append("customer_predictions is empty: too few repeat buyers to fit BG/NBD and Gamma-Gamma.")
    else:
        params = value["parameters"] or {}
        lines.append(
            f"{value['customers']:,} customers scored as of {pd.Timestamp(value['as_of_date']).date()} "
            f"({value['one_time_buyers']:,} one-time buyers); next 90 days: {value['expected_purchases_90d']:,.0f} "
            f"purchase days, predicted value {fmt(value['predicted_value_90d'], ',.0f')}. Mean P(active) of repeat "
            f"buyers {fmt(value['mean_probability_active_repeaters'])}. Fitted on days: "
            + ", ".join(f"{k} = {fmt(params.get(k), '.4g')}" for k in ("r", "alpha", "a", "b", "p", "q", "gamma"))
            + f" (`{value['model_version']}`)."
        )
        bands = value["bands"]
        lines += ["", markdown_table(["churn band basis", "low", "medium", "high"],
                                     [[basis, *row] for basis, row in zip(bands.index, bands.to_numpy().tolist(),
                                                                         strict=True)])]
    for label, calibration in calibration_runs:
        lines += ["", *calibration_section(label, calibration, published=name == "cdnow")]
    return lines


def calibration_section(label: str, calibration: Mapping, *, published: bool) -> list[str]:
    """Fitted calibration parameters (vs the published CDNOW ones) and the hold-out table."""
    title = f"Calibration and hold-out, {label} (weeks)"
    if "error" in calibration:
        return [f"#### {title}", f"Not fitted: {calibration['error']}."]
    fitted = {**calibration["bgnbd"], **calibration["gamma_gamma"]}
    names = [*PUBLISHED_BGNBD, *PUBLISHED_GAMMA_GAMMA]
    rows = [["fitted", *[f"{fitted[n]:.4g}" for n in names], f"{calibration['log_likelihood']:,.1f}"]]
    notes = []
    if published:
        notes = ["The published figures were fitted on the 1/10 sample's customers (docs/customer-value.md); "
                 "zero-value orders are quarantined (invalid_price), so a few customers have fewer orders here."]
        reference = {**PUBLISHED_BGNBD, **PUBLISHED_GAMMA_GAMMA}
        rows.insert(0, ["published (FHL 2005; Fader & Hardie 2013)", *[f"{reference[n]:.4g}" for n in names],
                        "-9,582.4"])
        rows.append(["agree to 2 significant figures", *[
            fmt(float(f"{fitted[n]:.2g}") == float(f"{reference[n]:.2g}")) for n in names], ""])
    holdout = calibration["holdout"]
    return [
        f"#### {title}",
        f"{calibration['customers']:,} customers ({calibration['repeat_customers']:,} with a repeat purchase in "
        "calibration).",
        *notes,
        "",
        markdown_table(["", *names, "BG/NBD log-likelihood"], rows),
        "",
        markdown_table(
            ["calibration repeat purchases", "customers", "actual hold-out purchases", "predicted",
             "predicted / actual"],
            [[row.frequency, int(row.customers), f"{row.actual:,.0f}", f"{row.predicted:,.1f}",
              f"{row.predicted / row.actual:.2f}" if row.actual else "-"] for row in holdout.itertuples(index=False)],
        ),
    ]


def dataset_section(result: DatasetResult) -> list[str]:
    run = result.run
    lines = [f"## {result.name}", "", f"{run.get('description', '')}. Inputs: "
             + ", ".join(f"`{path}`" for path in run.get("inputs", [])) + "."]
    if run.get("note"):
        lines.append(f"Run: {run['note']}.")
    if run.get("dbt_vars"):
        lines.append("dbt vars: " + ", ".join(f"`{k}` = `{v}`" for k, v in run["dbt_vars"].items()) + ".")
    lines += ingest_section(run)
    lines.append(f"Build: dbt build {_seconds(run.get('build_seconds'))} ({_statuses(run)}); ingest "
                 f"{_seconds(run.get('ingest_seconds'))}; run log, exports and report "
                 f"{_seconds(run.get('outputs_seconds'))}.")
    if run.get("build_returncode") != 0:
        lines.append("**The dbt build failed**; the figures below are what it built before failing.")
        lines += ["", markdown_table(["failed node", "message"], result.failures)]
    for part in (
        rows_section(result.rows),
        sessions_section(result.sessions, result.agreement),
        segments_section(result.segmentation, result.profiles) if result.rows is not None else [],
        recommendations_section(result.recommendations),
        customer_value_section(result.customer_value, result.calibrations, result.name),
    ):
        if part:
            lines += ["", *part]
    if result.catalog is not None:
        catalog = result.catalog
        lines += ["", "### Catalog", f"{catalog['products']:,} products in {catalog['categories']:,} top-level "
                  f"categories ({catalog['without_category']:,} without a category)."]
    return lines


def render(results: Sequence[DatasetResult], missing: Sequence[str], runs_dir: str) -> str:
    """The whole results page."""
    lines = [
        "# Results on real public datasets",
        "",
        f"Generated by `segrec results` (`make results`) from the runs in `{runs_dir}`, each made by "
        "`segrec run <dataset>` (`make run-dataset DATASET=<dataset>`): ingest from `../shared/datasets`, "
        "`dbt build` into the dataset's own DuckDB file, run log, exports and report. Do not edit by hand.",
        "",
        overview(results),
    ]
    not_run = [f"- `{name}`: no run yet (`make run-dataset DATASET={name}`)" for name in missing]
    not_run += [f"- `{folder}`: {reason}" for folder, reason in NOT_INGESTED.items()]
    lines += ["", "Not on this page:", *not_run]
    for result in results:
        lines += ["", *dataset_section(result)]
    return "\n".join(lines) + "\n"


def write_results(runs_dir: str | Path, out: str | Path, datasets: str | Path | None = None) -> tuple[Path, list[str]]:
    """Collect every run under ``runs_dir`` (in :data:`DATASETS` order) and write the page."""
    runs_dir, root = Path(runs_dir), datasets_dir(datasets)
    present = [name for name in DATASETS if (runs_dir / name / RUN_FILE).is_file()]
    if not present:
        raise SegrecError(f"no dataset runs in {runs_dir}: run `segrec run <dataset>` first")
    results = [collect(runs_dir / name, root) for name in present]
    missing = [name for name in DATASETS if name not in present]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results, missing, str(runs_dir)))
    return out, present


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", default="runs", help="folder of the per-dataset runs (default runs/)")
    parser.add_argument("--out", default="docs/results.md", help="the Markdown page to write")
    parser.add_argument("--datasets", help="the public datasets folder (for the CDNOW sample customers)")


def run(args: argparse.Namespace) -> int:
    path, present = write_results(args.runs, args.out, args.datasets)
    print(f"results {path} ({', '.join(present)})")
    return 0
