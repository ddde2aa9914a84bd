"""The segment report page: gather the warehouse's tables, render the sections, write one file."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from segrec.io import write_text_atomic
from segrec.report import sections, svg
from segrec.runlog import dbt_summary
from segrec.warehouse import (
    quote_ident,
    read_latest,
    read_table,
    row_counts,
    table_columns,
    warehouse_tables,
)

FACT_TABLES: tuple[str, ...] = ("dim_customers", "fct_events", "fct_sessions", "customer_segments")
CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0;background:#fafafa}
header,main{max-width:1120px;margin:0 auto;padding:16px 24px}
header{background:#233;color:#fff;max-width:none}
header h1{margin:0 0 6px;font-size:22px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0 0}
dl.facts dt{color:#9bb}dl.facts dd{margin:0}
nav a{margin-right:14px;color:#bdd}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px 20px;margin:18px 0}
h2{font-size:18px;margin:4px 0 10px}
.note{color:#555;margin:6px 0}
.absent{color:#8a3b12;background:#fff4e5;padding:8px 12px;border-radius:4px}
.table-wrap{overflow-x:auto;margin:8px 0}
table{border-collapse:collapse;font-size:13px}
th,td{border-bottom:1px solid #e4e4e4;padding:3px 10px;text-align:left;white-space:nowrap}
th{background:#f2f4f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
svg.chart{display:block;margin:8px 0;max-width:100%;height:auto}
svg text{font-size:12px;fill:#333}svg .axis-title{font-size:12px;fill:#555}
svg .tick-label{fill:#666;font-size:11px}svg .value{fill:#333;font-size:11px}
svg .axis,svg .tick{stroke:#888}svg .zero,svg .whisker{stroke:#333;stroke-width:1.5;fill:none}
svg .point{stroke:#fff;stroke-width:.4;fill-opacity:.85}
svg .line{fill:none;stroke:#4e79a7;stroke-width:2}svg .marker{fill:#4e79a7}svg .marker.chosen{fill:#e15759}
svg .cell{stroke:#fff;stroke-width:1}svg .cell-value{font-size:11px}svg .cell-value.dark{fill:#fff}
"""


def rfm_counts(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]) -> pd.DataFrame | None:
    """Customers per (r_score, f_score) of ``customer_features``, counted in the engine;
    None when the table or the score columns are absent."""
    if "customer_features" not in tables:
        return None
    relation = f"{quote_ident(tables['customer_features'])}.customer_features"
    if not {"r_score", "f_score"} <= {name for name, _ in table_columns(con, relation)}:
        return None
    return con.sql(
        f"select r_score, f_score, count(*) as n_customers from {relation} "
        "where r_score is not null and f_score is not null group by all order by all"
    ).df()


def facts_html(facts: Mapping[str, object]) -> str:
    return '<dl class="facts">' + "".join(
        f"<dt>{svg.esc(name)}</dt><dd>{svg.esc(svg.fmt(value))}</dd>" for name, value in facts.items()
    ) + "</dl>"


def build_facts(
    source: str,
    counts: Mapping[str, int],
    runs: pd.DataFrame | None,
    metrics: pd.DataFrame | None,
    run_results: Mapping | None,
) -> dict[str, object]:
    """What the header tells about the build: when, from what, how big, which models."""
    facts: dict[str, object] = {
        "report generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "warehouse": source,
    }
    if run_results is not None:
        build = dbt_summary(run_results)
        facts["dbt build"] = f"{build['generated_at']} (dbt {build['dbt_version']})"
        facts["dbt results"] = ", ".join(f"{n} {status}" for status, n in build["status_counts"].items())
    facts |= {table: counts[table] for table in FACT_TABLES if table in counts}
    if runs is not None and not runs.empty:
        latest = runs.iloc[-1]
        facts["segmentation model"] = " · ".join(
            f"{c} {svg.fmt(latest[c])}" for c in ("model_version", "algorithm", "k", "silhouette") if c in runs.columns
        )
    if metrics is not None and "model_version" in metrics.columns and not metrics.empty:
        facts["recommendation model"] = ", ".join(sorted(metrics["model_version"].dropna().astype(str).unique()))
    return facts


def render_page(title: str, facts: Mapping[str, object], parts: list[sections.Section]) -> str:
    """The whole HTML document; the Content-Security-Policy forbids any fetch or script."""
    nav = "".join(f'<a href="#{s.key}">{svg.esc(s.title)}</a>' for s in parts)
    body = "".join(
        f'<section id="{s.key}" class="{"present" if s.present else "missing"}"><h2>{svg.esc(s.title)}</h2>{s.body}'
        "</section>"
        for s in parts
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{svg.esc(title)}</title>'
        f"<style>{CSS}</style></head><body>"
        f"<header><h1>{svg.esc(title)}</h1>{facts_html(facts)}<nav>{nav}</nav></header>"
        f"<main>{body}</main></body></html>\n"
    )


def build_report(
    con: duckdb.DuckDBPyConnection,
    *,
    source: str,
    run_results: Mapping | None = None,
    metric: str = "ndcg",
    k: int = 10,
    max_points: int = 4000,
    random_state: int = 0,
) -> str:
    """The report of the warehouse behind ``con`` as one HTML string.

    ``source`` names the warehouse in the header; ``run_results`` (dbt's parsed
    run_results.json) adds build facts; ``metric`` at ``k`` is the recommendation metric
    charted; the scatter shows at most ``max_points`` customers, sampled with ``random_state``.
    """
    tables = warehouse_tables(con)
    profiles = read_latest(con, "segment_profiles", tables)
    segments = read_latest(con, "customer_segments", tables)
    runs = read_latest(con, "segmentation_runs", tables)
    metrics = read_latest(con, "recommendation_metrics", tables)
    candidates = read_table(con, "segmentation_candidates", tables)
    order = sections.segment_order(profiles, segments)
    colors = sections.segment_colors(order)
    names = _segment_names(profiles if profiles is not None else segments)
    parts = [
        sections.sizes_section(profiles, segments, colors),
        sections.scatter_section(segments, colors, max_points=max_points, random_state=random_state),
        sections.k_selection_section(_k_selection(read_latest(con, "segmentation_k_selection", tables),
                                                  candidates), runs),
        sections.validation_section(read_table(con, "segment_validation", tables), candidates),
        sections.rfm_section(rfm_counts(con, tables)),
        sections.transitions_section(read_latest(con, "segment_transitions", tables), names),
        sections.recommendations_section(metrics, metric=metric, k=k),
        sections.fairness_section(read_latest(con, "recommendation_fairness", tables)),
        sections.experiments_section(read_table(con, "experiment_results", tables)),
    ]
    facts = build_facts(source, row_counts(con, FACT_TABLES, tables), runs, metrics, run_results)
    return render_page("segrec segment report", facts, parts)


def _k_selection(selection: pd.DataFrame | None, candidates: pd.DataFrame | None) -> pd.DataFrame | None:
    """Silhouette by k: the run's own k scan, or, when the hold-out chose k (no scan in the run),
    the candidates of the chosen feature set (segmentation_candidates)."""
    if selection is not None and not selection.empty:
        return selection
    if candidates is None or candidates.empty or not {"feature_set", "is_chosen", "k", "silhouette"} <= set(
            candidates.columns):
        return selection
    chosen = candidates.loc[candidates["is_chosen"].fillna(False).astype(bool), "feature_set"]
    if chosen.empty:
        return selection
    same_set = candidates[candidates["feature_set"] == chosen.iloc[0]]
    return same_set[[c for c in ("k", "silhouette", "r2") if c in same_set.columns]].reset_index(drop=True)


def _segment_names(frame: pd.DataFrame | None) -> dict[object, str]:
    """``{segment_id: segment_name}`` in segment order ({} without both columns)."""
    if frame is None or not {"segment_id", "segment_name"} <= set(frame.columns):
        return {}
    pairs = frame[["segment_id", "segment_name"]].drop_duplicates("segment_id").sort_values("segment_id")
    return {row.segment_id: str(row.segment_name) for row in pairs.itertuples(index=False)}


def write_report(html: str, path: str | Path) -> Path:
    """Write the page to ``path`` (folders created), via a temporary file and a rename."""
    return write_text_atomic(path, html)
