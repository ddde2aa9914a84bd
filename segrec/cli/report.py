"""`segrec report`: write the static HTML segment report (see :mod:`segrec.report`)."""

from __future__ import annotations

import argparse

from segrec.errors import SegrecError
from segrec.report import build_report, write_report
from segrec.warehouse import load_json, open_warehouse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="target/segrec.duckdb", help="the DuckDB file dbt built")
    parser.add_argument("--out", default="reports/segment_report.html", help="the HTML file to write")
    parser.add_argument("--run-results", default="target/run_results.json",
                        help="dbt's run_results.json for the build facts (skipped if absent)")
    parser.add_argument("--metric", default="ndcg", help="recommendation metric to chart (default ndcg)")
    parser.add_argument("--k", type=int, default=10, help="list length of that metric (default 10)")
    parser.add_argument("--max-points", type=int, default=4000, help="customers drawn in the PCA scatter")


def run(args: argparse.Namespace) -> int:
    if args.max_points < 1:
        raise SegrecError(f"--max-points must be at least 1, got {args.max_points}")
    run_results = load_json(args.run_results)
    with open_warehouse(args.db) as con:
        html = build_report(con, source=str(args.db), run_results=run_results, metric=args.metric, k=args.k,
                            max_points=args.max_points)
    path = write_report(html, args.out)
    print(f"report {path} ({len(html.encode()) / 1024:,.0f} KiB)")
    return 0
