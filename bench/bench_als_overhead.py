"""ALS training in the dbt Python model against ``implicit`` called directly on the same matrix.

    # build the warehouse up to the model once, then time it
    .venv/bin/python bench/bench_als_overhead.py --db /tmp/me/wh.duckdb --raw-dir data/sample --build

The dbt side is ``int_recommendation__als_factors`` as ``dbt run`` executes it (the node's
``execution_time`` in run_results.json): read the interaction, product and customer tables,
build the matrix, train ALS with the selected parameters, write the factor artifact. The direct
side reads the same tables once, builds the same matrix (``cutoff_data``) and times only
``AlternatingLeastSquares.fit`` with the same parameters, seed and thread settings. The ratio is
dbt / direct (the issue aims at <= 1.3), also without the one-time imports of the model's
packages, which a full build pays once for all its Python models. Peak memory: the dbt process
(a child) and this one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from segrec.recommend.pipeline import cutoff_data

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT = Path(sys.executable).with_name("dbt")
MODEL = "int_recommendation__als_factors"


def dbt(args: list[str], db: Path, raw_dir: Path, target: Path) -> None:
    """Run dbt from the project root on a private database and target folder."""
    env = os.environ | {"SEGREC_DUCKDB_PATH": str(db), "SEGREC_RAW_DIR": str(raw_dir), "OPENBLAS_NUM_THREADS": "1",
                        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    command = [str(DBT), *args, "--target-path", str(target), "--log-path", str(target / "logs")]
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"dbt {' '.join(args)} failed:\n{result.stdout[-3000:]}")


def model_seconds(target: Path) -> float:
    """The model's execution time in the last run's run_results.json."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    return next(r["execution_time"] for r in results if r["unique_id"].endswith(f".{MODEL}"))


def direct_fit_seconds(db: Path) -> tuple[float, str]:
    """Time a bare implicit fit on the matrix the model trains on, with its parameters."""
    with duckdb.connect(str(db), read_only=True) as con:
        data = cutoff_data(
            con.table("int_interactions__latest").df(),
            con.table("int_recommendation__products").filter("cutoff = 'latest'").df(),
            con.table("int_recommendation__customers").df(),
        )
        stored = con.sql("select any_value(als_parameters) from recommendation_item_factors").fetchall()
    params = json.loads(stored[0][0])
    random_state = params.pop("random_state")
    start = time.perf_counter()
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(**params, random_state=random_state, num_threads=0)
        model.fit(data.interactions.matrix, show_progress=False)
    seconds = time.perf_counter() - start
    shape = f"{data.interactions.n_users:,} x {data.interactions.n_items:,}, {data.interactions.matrix.nnz:,} non-zeros"
    return seconds, f"{shape}, {params | {'random_state': random_state}}"


def import_seconds() -> float:
    """Time to import what the model imports, in a fresh interpreter: paid once per dbt
    process (shared with every other Python model of a build), but inside this model's time
    when it runs alone."""
    code = "import time; t = time.perf_counter(); import segrec.recommend.pipeline; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="private DuckDB file")
    parser.add_argument("--raw-dir", type=Path, default=PROJECT_ROOT / "data" / "sample")
    parser.add_argument("--target", type=Path, default=None, help="dbt target folder (default: beside --db)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--build", action="store_true", help=f"first build everything {MODEL} needs")
    args = parser.parse_args(argv)
    target = args.target or args.db.with_suffix(".target")

    if args.build:
        dbt(["build", "--select", f"+{MODEL}", "--exclude-resource-type", "test", "unit_test"],
            args.db, args.raw_dir, target)
    in_dbt = []
    for _ in range(args.repeat):
        dbt(["run", "--select", MODEL], args.db, args.raw_dir, target)
        in_dbt.append(model_seconds(target))
    dbt_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    direct = []
    for _ in range(args.repeat):
        seconds, described = direct_fit_seconds(args.db)
        direct.append(seconds)
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model, bare = statistics.median(in_dbt), statistics.median(direct)
    imports = statistics.median(import_seconds() for _ in range(args.repeat))
    print(f"matrix: {described}")
    print(f"dbt model {MODEL}: median {model:.2f} s of {[round(s, 2) for s in in_dbt]}; "
          f"peak RSS of the dbt process {dbt_peak:.0f} MiB")
    print(f"implicit fit direct: median {bare:.2f} s of {[round(s, 2) for s in direct]}; "
          f"peak RSS of this process {own_peak:.0f} MiB")
    print(f"overhead ratio dbt / direct = {model / bare:.2f}; without the one-time imports "
          f"({imports:.2f} s) = {(model - imports) / bare:.2f}")


if __name__ == "__main__":
    main()
