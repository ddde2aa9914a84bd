"""A structured JSON log of one dbt build: dbt statuses and durations, mart row counts, the
quarantine rate overall and by reason, the latest model metrics, and the previous build's
values beside them so drops stand out.

Written as ``<out>/run_log_<build timestamp>.json`` plus ``<out>/latest.json``. The file name
comes from the build's ``run_results.json``, so logging the same build twice rewrites one file.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from segrec.errors import SegrecError
from segrec.io import write_text_atomic
from segrec.warehouse import (
    load_json,
    mart_tables,
    quote_ident,
    read_latest,
    row_counts,
    warehouse_tables,
)

LATEST_NAME = "latest.json"
# The parts of a run log that are compared with the previous build.
COMPARED_KEYS: tuple[str, ...] = ("row_counts", "quarantine", "segmentation", "recommendations")
OVERALL_SEGMENT = "all"  # recommendation_metrics rows over all customers


def load_run_results(path: str | Path) -> dict:
    """The parsed dbt ``run_results.json``; a clear error when absent or not JSON."""
    results = load_json(path)
    if results is None:
        raise SegrecError(f"no dbt run results at {path}: run `dbt build` first")
    return results


def dbt_summary(run_results: Mapping) -> dict:
    """Build facts, status counts and per-node status and duration from ``run_results.json``."""
    metadata = run_results.get("metadata", {})
    nodes = [
        {
            "unique_id": result["unique_id"],
            "resource_type": result["unique_id"].split(".", 1)[0],
            "status": result.get("status"),
            "duration_seconds": round(float(result.get("execution_time") or 0.0), 3),
            "failures": result.get("failures"),
        }
        for result in run_results.get("results", [])
    ]
    return {
        "invocation_id": metadata.get("invocation_id"),
        "generated_at": metadata.get("generated_at"),
        "dbt_version": metadata.get("dbt_version"),
        "command": run_results.get("args", {}).get("which"),
        "elapsed_seconds": round(float(run_results.get("elapsed_time") or 0.0), 3),
        "status_counts": dict(sorted(Counter(node["status"] for node in nodes).items())),
        "nodes": nodes,
    }


def raw_event_count(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]) -> tuple[int, str]:
    """Raw event rows and where they were counted: the ``stg_raw__events`` view, or, when it
    cannot be read (it reads the raw folder relative to where dbt ran), clean plus
    quarantined rows, equal by the cleaning contract."""
    if "stg_raw__events" in tables:
        try:
            return row_counts(con, ["stg_raw__events"], tables)["stg_raw__events"], "stg_raw__events"
        except duckdb.Error:
            pass
    counts = row_counts(con, ["fct_events", "quarantined_events"], tables)
    return counts.get("fct_events", 0) + counts["quarantined_events"], "fct_events + quarantined_events"


def quarantine_summary(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]) -> dict | None:
    """Raw and quarantined event counts, the quarantine rate, and rows and rate per
    ``reason_code`` (rates are shares of raw rows); None without ``quarantined_events``."""
    if "quarantined_events" not in tables:
        return None
    raw, raw_source = raw_event_count(con, tables)
    quarantined = row_counts(con, ["quarantined_events"], tables)["quarantined_events"]
    relation = f"{quote_ident(tables['quarantined_events'])}.quarantined_events"
    reasons = con.sql(f"select reason_code, count(*) from {relation} group by 1 order by 2 desc, 1").fetchall()
    return {
        "raw_events": raw,
        "raw_events_from": raw_source,
        "quarantined_events": quarantined,
        "rate": quarantined / raw if raw else 0.0,
        "by_reason": {reason: {"rows": n, "rate": n / raw if raw else 0.0} for reason, n in reasons},
    }


def _plain(value: object) -> object:
    """A JSON-friendly scalar: numpy numbers as Python ones, timestamps as ISO text, NaN as None."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def segmentation_summary(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]) -> dict | None:
    """The latest ``segmentation_runs`` row (silhouette, k, ...) as a dict; None when absent."""
    latest = read_latest(con, "segmentation_runs", tables)
    if latest is None or latest.empty:
        return None
    row = latest.iloc[-1]
    return {column: _plain(row[column]) for column in latest.columns if pd.api.types.is_scalar(row[column])}


def recommendation_summary(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]) -> dict | None:
    """``{"model_version": ..., "by_strategy": {strategy: {"ndcg@10": value, ...}}}`` from the
    latest ``recommendation_metrics`` run, over all customers; None when absent."""
    latest = read_latest(con, "recommendation_metrics", tables)
    if latest is None or latest.empty:
        return None
    if "segment_name" in latest.columns:
        latest = latest[latest["segment_name"].isna() | (latest["segment_name"] == OVERALL_SEGMENT)]
    by_strategy: dict[str, dict[str, float]] = {}
    for row in latest.itertuples(index=False):
        name = row.metric if "k" not in latest.columns or pd.isna(row.k) else f"{row.metric}@{int(row.k)}"
        by_strategy.setdefault(str(row.strategy), {})[name] = _plain(row.value)
    versions = sorted(latest["model_version"].dropna().unique()) if "model_version" in latest.columns else []
    return {
        "model_version": versions[0] if len(versions) == 1 else versions or None,
        "by_strategy": {strategy: dict(sorted(metrics.items())) for strategy, metrics in sorted(by_strategy.items())},
    }


def flatten_numbers(document: Mapping, prefix: str = "") -> dict[str, float]:
    """Every numeric leaf of a nested dict as ``{"a.b.c": value}`` (booleans left out)."""
    flat: dict[str, float] = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat |= flatten_numbers(value, f"{name}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = value
    return flat


def changes(current: Mapping, previous: Mapping | None) -> dict[str, float]:
    """``current - previous`` for every numeric value both logs have, where it changed."""
    if not previous:
        return {}
    now, before = flatten_numbers(current), flatten_numbers(previous)
    return {key: now[key] - before[key] for key in sorted(now.keys() & before.keys()) if now[key] != before[key]}


def previous_values(latest: Mapping | None, invocation_id: str | None) -> dict | None:
    """What the last logged build measured, for comparison: its build facts and compared parts.

    When ``latest`` is a log of this same build (logged again), its own ``previous`` is used.
    """
    if latest is None:
        return None
    if invocation_id is not None and latest.get("build", {}).get("invocation_id") == invocation_id:
        return latest.get("previous")
    build = latest.get("build", {})
    return {
        "build": {key: build.get(key) for key in ("invocation_id", "generated_at", "status_counts")},
        **{key: latest.get(key) for key in COMPARED_KEYS},
    }


def build_run_log(
    con: duckdb.DuckDBPyConnection,
    run_results: Mapping,
    manifest: Mapping | None = None,
    previous_log: Mapping | None = None,
) -> dict:
    """The run log of one build (see the module docstring); ``previous_log`` is the last
    log written, if any."""
    tables = warehouse_tables(con)
    if manifest is None:
        marts, notes = [], ["no dbt manifest (run `dbt parse`): row counts of the output tables left out"]
    else:
        marts, notes = mart_tables(tables, manifest)
    build = dbt_summary(run_results)
    log = {
        "logged_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "build": build,
        "row_counts": row_counts(con, marts, tables),
        "quarantine": quarantine_summary(con, tables),
        "segmentation": segmentation_summary(con, tables),
        "recommendations": recommendation_summary(con, tables),
        "notes": notes,
    }
    for key, table in (("quarantine", "quarantined_events"), ("segmentation", "segmentation_runs"),
                       ("recommendations", "recommendation_metrics")):
        if log[key] is None:
            notes.append(f"{key}: {table} absent or empty")
    log["previous"] = previous_values(previous_log, build["invocation_id"])
    log["changes"] = changes({key: log[key] for key in COMPARED_KEYS}, log["previous"])
    return log


def run_log_name(build: Mapping) -> str:
    """``run_log_<UTC timestamp of the build>.json`` (now, when the build has no timestamp)."""
    stamp = pd.Timestamp(build.get("generated_at") or datetime.now(UTC))
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return f"run_log_{stamp.strftime('%Y%m%dT%H%M%SZ')}.json"


def read_latest_log(out_dir: Path) -> dict | None:
    """The last log written to ``out_dir`` (its ``latest.json``), or None."""
    return load_json(out_dir / LATEST_NAME)


def write_run_log(log: Mapping, out_dir: str | Path) -> Path:
    """Write ``log`` as its own file and as ``latest.json``; returns the former's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(log, indent=2, default=str) + "\n"
    path = out_dir / run_log_name(log["build"])
    for target in (path, out_dir / LATEST_NAME):
        write_text_atomic(target, text)  # readers never see half a file
    return path
