"""ALS training in the dbt Python model against ``implicit`` called directly on the same matrix.

    # build the warehouse up to the model once, then time it
    .venv/bin/python -m bench.bench_als_overhead --work /tmp/me --raw-dir data/sample --build

The dbt side is ``int_recommendation__als_factors`` as ``dbt run`` executes it (the node's
``execution_time`` in run_results.json): read the interaction, product and customer tables,
build the matrix, train ALS with the selected parameters, write the factor artifact. The direct
side reads the same tables once, builds the same matrix (``cutoff_data``) and times only
``AlternatingLeastSquares.fit`` with the same parameters, seed and thread settings. The ratio is
dbt / direct (issue 13 aims at <= 1.1), also without the one-time imports of the model's
packages, which a full build pays once for all its Python models. Peak memory: the dbt process
(a child) and this one.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from bench.common import ROOT, dbt_command, node_seconds, run_measured
from segrec.recommend.pipeline import cutoff_data
from segrec.warehouse import load_json

MODEL = "int_recommendation__als_factors"


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


def als_overhead(db: Path, dbt_seconds: list[float], repeat: int = 3, imports: bool = True) -> dict:
    """The model's times in dbt (``dbt_seconds``, e.g. from a build's run_results.json) against
    ``repeat`` bare fits on the built warehouse ``db``: medians and their ratio dbt / direct.
    With ``imports``, also the ratio without the one-time imports, which a model run alone pays
    and a full build (`make bench`) has paid before the model starts."""
    fits = [direct_fit_seconds(db) for _ in range(repeat)]
    model, bare = statistics.median(dbt_seconds), statistics.median(seconds for seconds, _ in fits)
    result = {"dbt_seconds": round(model, 3), "dbt_runs": [round(s, 3) for s in dbt_seconds],
              "direct_seconds": round(bare, 3), "direct_runs": [round(s, 3) for s, _ in fits],
              "matrix": fits[0][1], "ratio": model / bare}
    if imports:
        seconds = statistics.median(import_seconds() for _ in range(repeat))
        result |= {"import_seconds": round(seconds, 3), "ratio_without_imports": (model - seconds) / bare}
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="private folder: warehouse.duckdb, target/, logs/")
    parser.add_argument("--raw-dir", type=Path, default=ROOT / "data" / "sample")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--build", action="store_true", help=f"first build everything {MODEL} needs")
    args = parser.parse_args(argv)

    if args.build:
        run_measured(*dbt_command(["build", "--select", f"+{MODEL}", "--exclude-resource-type", "test", "unit_test"],
                                  args.work, args.raw_dir))
    in_dbt, dbt_peak = [], 0.0
    for _ in range(args.repeat):
        measured = run_measured(*dbt_command(["run", "--select", MODEL], args.work, args.raw_dir))
        dbt_peak = max(dbt_peak, measured.peak_mib)
        in_dbt.append(node_seconds(load_json(args.work / "target" / "run_results.json"), MODEL))
    result = als_overhead(args.work / "warehouse.duckdb", in_dbt, args.repeat)
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"matrix: {result['matrix']}")
    print(f"dbt model {MODEL}: median {result['dbt_seconds']:.2f} s of {result['dbt_runs']}; "
          f"peak RSS of the dbt process {dbt_peak:.0f} MiB")
    print(f"implicit fit direct: median {result['direct_seconds']:.2f} s of {result['direct_runs']}; "
          f"peak RSS of this process {own_peak:.0f} MiB")
    print(f"overhead ratio dbt / direct = {result['ratio']:.2f}; without the one-time imports "
          f"({result['import_seconds']:.2f} s) = {result['ratio_without_imports']:.2f}")


if __name__ == "__main__":
    main()
