"""Foundation benchmarks (issue 3): generator and dbt build time and peak memory, and an
incremental load of the newest 1% of events against a full refresh.

    python -m bench.bench_foundation --customers 20000 --work /tmp/bench_foundation

Each step runs as its own process; peak memory is that process tree's largest resident set
(resource.getrusage of the children, so run one benchmark at a time). Prints a table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import pyarrow.parquet as pq

from bench.common import BIN, ROOT, dbt_command, node_seconds, run_measured, split_newest
from segrec.warehouse import load_json


def timed(name: str, command: list[str], env: dict | None = None) -> dict:
    """Run ``command`` in its own process; wall time and peak RSS of the child (MiB)."""
    measured = run_measured(command, env)
    return {"step": name, "seconds": round(measured.seconds, 1), "peak_mib": round(measured.peak_mib)}


def model_times(
    work: Path, label: str, models: tuple[str, ...] = ("int_events__sessionized", "int_sessions__aggregated")
) -> list[dict]:
    """Execution time of ``models`` in the last dbt run of ``work`` (target/run_results.json)."""
    run_results = load_json(work / "target" / "run_results.json")
    return [{"step": f"{label}: {name}", "seconds": round(node_seconds(run_results, name), 1), "peak_mib": ""}
            for name in models]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_foundation"))
    parser.add_argument("--skip-sample", action="store_true")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    rows = []

    if not args.skip_sample:
        command, env = dbt_command(["build"], args.work / "sample", ROOT / "data" / "sample")
        rows.append(timed("dbt build, committed sample", command, env))

    raw = args.work / "raw"
    rows.append(timed(f"segrec generate --customers {args.customers}",
                      [str(BIN / "segrec"), "generate", "--customers", str(args.customers),
                       "--days", str(args.days), "--out", str(raw)]))
    n_events = pq.read_metadata(raw / "events.parquet").num_rows

    command, env = dbt_command(["build"], args.work / "full", raw)
    rows.append(timed(f"dbt build, {n_events:,} events", command, env))

    before, after = split_newest(raw, args.work / "loads", share=0.01)
    core = ["--select", "+fct_events", "+fct_sessions", "+dim_customers", "+quarantined_events",
            "--indirect-selection", "cautious"]
    inc_work = args.work / "incremental"
    command, env = dbt_command(["build", *core], inc_work, before)
    timed("initial load (99%)", command, env)
    command, env = dbt_command(["run", *core], inc_work, after)
    rows.append(timed("incremental run, newest 1% of events", command, env))
    rows += model_times(inc_work, "  incremental")
    command, env = dbt_command(["run", "--full-refresh", *core], inc_work, after)
    rows.append(timed("full-refresh run, same models", command, env))
    rows += model_times(inc_work, "  full refresh")

    width = max(len(r["step"]) for r in rows)
    print(f"{'step':<{width}}  {'seconds':>8}  {'peak MiB':>9}")
    for r in rows:
        print(f"{r['step']:<{width}}  {r['seconds']:>8}  {r['peak_mib']:>9}")
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}; peak = largest RSS of the step's processes")


if __name__ == "__main__":
    main()
