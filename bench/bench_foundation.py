"""Foundation benchmarks (issue 3): generator and dbt build time and peak memory, and an
incremental load of the newest 1% of events against a full refresh.

    python bench/bench_foundation.py --customers 20000 --work /tmp/bench_foundation

Each step runs as its own process; peak memory is that process tree's largest resident set
(resource.getrusage of the children, so run one benchmark at a time). Prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def timed(name: str, command: list[str], env: dict | None = None) -> dict:
    """Run ``command`` in its own process; wall time and peak RSS of the child (MiB)."""
    start = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command], cwd=ROOT, env={**os.environ, **(env or {})},
        capture_output=True, text=True,
    )
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"{name} failed:\n{child.stdout[-3000:]}\n{child.stderr[-3000:]}")
    peak_mib = float(child.stdout.strip().splitlines()[-1])
    return {"step": name, "seconds": round(seconds, 1), "peak_mib": round(peak_mib)}


# runs the command as a grandchild and prints the peak RSS of everything below it
_MEASURE = """
import resource, subprocess, sys
result = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
if result.returncode:
    sys.exit(result.returncode)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


def dbt(args: list[str], work: Path, raw: Path) -> tuple[list[str], dict]:
    env = {"SEGREC_RAW_DIR": str(raw), "SEGREC_DUCKDB_PATH": str(work / "warehouse.duckdb"),
           "OPENBLAS_NUM_THREADS": "1"}
    return [str(BIN / "dbt"), *args, "--target-path", str(work / "target"), "--log-path", str(work / "logs")], env


def model_times(
    work: Path, label: str, models: tuple[str, ...] = ("int_events__sessionized", "int_sessions__aggregated")
) -> list[dict]:
    """Execution time of ``models`` in the last dbt run of ``work`` (target/run_results.json)."""
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    return [
        {"step": f"{label}: {r['unique_id'].split('.')[-1]}", "seconds": round(r["execution_time"], 1),
         "peak_mib": ""}
        for r in results
        if r["unique_id"].split(".")[-1] in models
    ]


def split_newest(raw: Path, out: Path, share: float) -> tuple[Path, Path]:
    """Two raw folders: all but the newest ``share`` of events (by loaded_at), and all of them."""
    events = pq.read_table(raw / "events.parquet")
    loaded_at = pd.to_datetime(events["loaded_at"].to_pandas(), errors="coerce")
    # unparseable load times stay with the older events
    older = pa.array(((loaded_at <= loaded_at.quantile(1 - share)) | loaded_at.isna()).to_numpy())
    before, after = out / "before", out / "after"
    for folder in (before, after):
        (folder / "events").mkdir(parents=True, exist_ok=True)
        for other in raw.glob("*.parquet"):
            if other.name != "events.parquet":
                shutil.copy(other, folder / other.name)
    pq.write_table(events.filter(older), before / "events" / "load-1.parquet")
    shutil.copy(before / "events" / "load-1.parquet", after / "events" / "load-1.parquet")
    pq.write_table(events.filter(pc.invert(older)), after / "events" / "load-2.parquet")
    return before, after


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
        command, env = dbt(["build"], args.work / "sample", ROOT / "data" / "sample")
        rows.append(timed("dbt build, committed sample", command, env))

    raw = args.work / "raw"
    rows.append(timed(f"segrec generate --customers {args.customers}",
                      [str(BIN / "segrec"), "generate", "--customers", str(args.customers),
                       "--days", str(args.days), "--out", str(raw)]))
    n_events = pq.read_metadata(raw / "events.parquet").num_rows

    command, env = dbt(["build"], args.work / "full", raw)
    rows.append(timed(f"dbt build, {n_events:,} events", command, env))

    before, after = split_newest(raw, args.work / "loads", share=0.01)
    core = ["--select", "+fct_events", "+fct_sessions", "+dim_customers", "+quarantined_events",
            "--indirect-selection", "cautious"]
    inc_work = args.work / "incremental"
    command, env = dbt(["build", *core], inc_work, before)
    timed("initial load (99%)", command, env)
    command, env = dbt(["run", *core], inc_work, after)
    rows.append(timed("incremental run, newest 1% of events", command, env))
    rows += model_times(inc_work, "  incremental")
    command, env = dbt(["run", "--full-refresh", *core], inc_work, after)
    rows.append(timed("full-refresh run, same models", command, env))
    rows += model_times(inc_work, "  full refresh")

    width = max(len(r["step"]) for r in rows)
    print(f"{'step':<{width}}  {'seconds':>8}  {'peak MiB':>9}")
    for r in rows:
        print(f"{r['step']:<{width}}  {r['seconds']:>8}  {r['peak_mib']:>9}")
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}; peak = largest RSS of the step's processes")


if __name__ == "__main__":
    main()
