"""Print what a build produced: raw, clean and quarantined rows (by reason), customers, sessions."""

from __future__ import annotations

import duckdb


def warehouse_summary(con: duckdb.DuckDBPyConnection) -> dict:
    """Row counts of the core tables and quarantined rows by reason, from an open connection."""
    counts = con.sql(
        """
        select
            (select count(*) from stg_raw__events) as raw_events,
            (select count(*) from fct_events) as clean_events,
            (select count(*) from quarantined_events) as quarantined_events,
            (select count(*) from dim_customers where not is_anonymous) as known_customers,
            (select count(*) from dim_customers where is_anonymous) as anonymous_visitors,
            (select count(*) from fct_sessions) as sessions,
            (select count(*) from fct_sessions where converted) as converted_sessions
        """
    ).fetchall()[0]
    names = ["raw_events", "clean_events", "quarantined_events", "known_customers",
             "anonymous_visitors", "sessions", "converted_sessions"]
    by_reason = con.sql(
        "select reason_code, count(*) from quarantined_events group by 1 order by 2 desc, 1"
    ).fetchall()
    return {**dict(zip(names, counts, strict=True)), "quarantined_by_reason": dict(by_reason)}


def format_summary(summary: dict) -> str:
    raw = summary["raw_events"]
    quarantined = summary["quarantined_events"]
    lines = [
        f"raw events          {raw:>12,}",
        f"  clean             {summary['clean_events']:>12,}",
        f"  quarantined       {quarantined:>12,}  ({quarantined / max(raw, 1):.1%})",
    ]
    lines += [f"    {reason:<22}{n:>10,}" for reason, n in summary["quarantined_by_reason"].items()]
    lines += [
        f"customers           {summary['known_customers']:>12,}"
        f"  (+{summary['anonymous_visitors']:,} anonymous visitors)",
        f"sessions            {summary['sessions']:>12,}  ({summary['converted_sessions']:,} converted)",
    ]
    return "\n".join(lines)
