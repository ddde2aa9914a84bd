"""`segrec runlog`: append a structured JSON run log of the last dbt build (see :mod:`segrec.runlog`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from segrec.runlog import build_run_log, load_run_results, read_latest_log, write_run_log
from segrec.warehouse import load_json, open_warehouse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="target/segrec.duckdb", help="the DuckDB file dbt built")
    parser.add_argument("--run-results", default="target/run_results.json", help="dbt's run_results.json")
    parser.add_argument("--manifest", default="target/manifest.json", help="dbt manifest naming the marts")
    parser.add_argument("--out", default="target/run_logs", help="folder of the run logs")


def run(args: argparse.Namespace) -> int:
    run_results = load_run_results(args.run_results)
    out_dir = Path(args.out)
    with open_warehouse(args.db) as con:
        log = build_run_log(con, run_results, load_json(args.manifest), read_latest_log(out_dir))
    path = write_run_log(log, out_dir)
    counts = ", ".join(f"{n} {status}" for status, n in log["build"]["status_counts"].items())
    rate = log["quarantine"]["rate"] if log["quarantine"] else None
    print(f"run log {path} ({counts}; quarantine rate {'n/a' if rate is None else f'{rate:.2%}'})")
    for key, delta in log["changes"].items():
        print(f"  changed {key}: {delta:+.4g}")
    return 0
