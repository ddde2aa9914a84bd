"""Spark ALS against implicit on the same temporal hold-out (`make bench-spark-als`, issue 14).

Per warehouse it reads the test cutoff as int_recommendation__holdout_metrics does (training
interactions before the test window, the test window's hits of the evaluation sample, the ALS
parameters the build selected on the validation window and its random_state), trains ALS there
with implicit (segrec.recommend.als.ALSRecommender, ml_engine local) and with Spark
(segrec.recommend.spark_als.SparkALS, ml_engine spark) on the same matrix with the same
parameters, and judges both with segrec.recommend.evaluation: the ``als`` strategy alone and the
hybrid built on each, at k = 10 (NDCG, precision, recall, hit rate, catalog coverage). A third
run gives Spark the regularization divided by the mean interactions per customer, which is
about implicit's strength on a typical customer (Spark scales it per interaction). Fit wall time
is the median of ``--repeats`` fits after one warm-up fit (the local Spark session's start is
reported on its own).

Warehouses (built into ``--work`` when missing, only the models the hold-out needs): ``sample``
from data/sample, and a public dataset of `segrec run` (ingested from ``--datasets`` into the
work folder, never into the repository; skipped with a message when its files are absent).
Writes ``--results`` (bench/results/spark_als.json) and prints the table of docs/spark.md.
Needs the spark extra and Java. Slow, never part of ``make test``.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import tempfile
import time
from importlib import metadata
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from bench.common import ROOT, dbt_command, git_commit, machine_info, run_measured
from bench.report import table
from segrec.engine import spark_session_for
from segrec.errors import SegrecError
from segrec.recommend.als import ALSFactory, ALSRecommender
from segrec.recommend.data import RecData
from segrec.recommend.evaluation import ALL_GROUPS, evaluate_recommender
from segrec.recommend.hybrid import HybridRecommender
from segrec.recommend.interactions import build_interaction_matrix
from segrec.recommend.pipeline import as_frame, cutoff_data, evaluated_keys, selected_parameters
from segrec.recommend.spark_als import SparkALS
from segrec.run import dataset_inputs, dataset_spec, datasets_dir, ingest_dataset

SAMPLE = "sample"
K = 10
METRICS: tuple[str, ...] = ("ndcg", "precision", "recall", "hit_rate", "coverage")
STRATEGIES: tuple[str, ...] = ("als", "hybrid")
# What the hold-out needs: its windows, interactions, products, customers, truth and the ALS grid.
SELECT: tuple[str, ...] = ("+int_recommendation__als_grid", "+int_recommendation__holdout_truth",
                           "+int_recommendation__recent_events")
METRICS_MODEL = "model.segrec.int_recommendation__holdout_metrics"


def warehouse(name: str, work: Path, datasets: Path) -> Path:
    """The folder of ``name``'s build (``warehouse.duckdb``, ``target/``), built when missing; a
    SegrecError when a public dataset's files are absent."""
    folder = work / name
    if (folder / "warehouse.duckdb").is_file() and (folder / "target" / "manifest.json").is_file():
        return folder
    args = ["build", "--target", "dev", "--select", *SELECT, "--exclude-resource-type", "test", "unit_test"]
    folder.mkdir(parents=True, exist_ok=True)
    if name == SAMPLE:
        raw = ROOT / "data" / "sample"
    else:
        spec = dataset_spec(name)
        inputs = dataset_inputs(spec, datasets_dir(datasets))  # SegrecError when absent
        raw = folder / "raw"
        ingest_dataset(spec, inputs, raw)
        if spec.vars:
            args += ["--vars", json.dumps(dict(spec.vars), sort_keys=True)]
    command, env = dbt_command(args, folder, raw)
    measured = run_measured(command, env=env, log=folder / "build.log")
    print(f"{name}: built in {measured.seconds:.0f} s", flush=True)
    return folder


def holdout(folder: Path) -> dict:
    """The test cutoff as int_recommendation__holdout_metrics reads it, and the build's settings."""
    config = json.loads((folder / "target" / "manifest.json").read_text())["nodes"][METRICS_MODEL]["config"]
    test = "where cutoff = 'test'"
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        def read(model: str, where: str = "") -> pd.DataFrame:
            return as_frame(con.sql(f"select * from {model} {where}").to_arrow_table())

        customers = read("int_recommendation__customers")
        data = cutoff_data(read("int_interactions__holdout", test), read("int_recommendation__products", test),
                           customers)
        truth = read("int_recommendation__holdout_truth", test)
        events = read("int_recommendation__recent_events", test)
        params = selected_parameters(read("int_recommendation__als_grid"))
    served = truth[truth["customer_key"].isin(pd.Index(list(evaluated_keys(customers)), dtype=object))]
    return {"data": data, "truth": served, "events": events, "params": params,
            "random_state": int(config["als"]["random_state"]), "max_per_category": config["max_per_category"]}


def timed_fit(factory: ALSFactory, params: dict, random_state: int, data: RecData,
              repeats: int) -> tuple[ALSRecommender, list[float]]:
    """The fitted ALS and the wall seconds of each of ``repeats`` fits (the same model each time)."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        als = factory(**params, random_state=random_state).fit(data.interactions)
        seconds.append(time.perf_counter() - start)
    return als, seconds


def judged(als: ALSRecommender, inputs: dict) -> tuple[dict, pd.DataFrame]:
    """Overall metrics at K of the ``als`` strategy and the hybrid on ``als``, and the als lists."""
    model = HybridRecommender(n=K, max_per_category=inputs["max_per_category"], als_params=inputs["params"],
                              random_state=inputs["random_state"]).fit(inputs["data"], inputs["events"], als=als)
    metrics = evaluate_recommender(model, inputs["truth"], strategies=STRATEGIES, ks=(K,), by_group=False)
    overall = metrics[(metrics["group_dimension"] == ALL_GROUPS) & metrics["metric"].isin(METRICS)]
    values = {s: {m: round(float(v), 6) for m, v in zip(part["metric"], part["value"], strict=True)}
              for s, part in overall.groupby("strategy")}
    known = inputs["truth"]["customer_key"].unique()
    known = known[inputs["data"].interactions.user_rows(known) >= 0]
    return values, model.recommend(known, strategy="als", n=K, explain=False)


def overlap(first: pd.DataFrame, second: pd.DataFrame) -> float:
    """Mean over customers of the share of their top-K ALS items the two lists have in common."""
    pairs = pd.concat([first[["customer_key", "product_id"]], second[["customer_key", "product_id"]]])
    common = pairs.duplicated().groupby(pairs["customer_key"]).sum()
    return round(float((common / K).mean()), 4) if len(common) else float("nan")


def warm_up(factory: ALSFactory) -> None:
    """One small fit, so the timed fits do not pay the JVM's first compilations."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"customer_key": rng.integers(0, 200, 2000).astype(str),
                          "product_id": rng.integers(0, 50, 2000).astype(str), "weight": 1.0})
    factory(factors=4, iterations=2).fit(build_interaction_matrix(frame))


def compare(name: str, folder: Path, engines: dict[str, ALSFactory], repeats: int) -> dict:
    inputs = holdout(folder)
    data, params = inputs["data"], inputs["params"]
    per_customer = np.diff(data.interactions.matrix.indptr)
    mean_interactions = float(per_customer[per_customer > 0].mean())
    runs, lists = [], {}
    for label, factory, run_params in (
        ("implicit", engines["local"], params),
        ("spark", engines["spark"], params),
        ("spark, regularization / mean interactions per customer", engines["spark"],
         params | {"regularization": params["regularization"] / mean_interactions}),
    ):
        als, seconds = timed_fit(factory, run_params, inputs["random_state"], data, repeats)
        metrics, lists[label] = judged(als, inputs)
        runs.append({"engine": label, "parameters": als.get_params(), "metrics": metrics,
                     "fit_seconds": round(statistics.median(seconds), 3),
                     "fit_seconds_each": [round(s, 3) for s in seconds]})
        print(f"{name} {label}: {runs[-1]['fit_seconds']} s, als {metrics['als']}", flush=True)
    return {
        "dataset": name,
        "customers_judged": int(inputs["truth"]["customer_key"].nunique()),
        "matrix": {"customers": data.interactions.n_users, "products": data.interactions.n_items,
                   "interactions": int(data.interactions.matrix.nnz),
                   "mean_interactions_per_customer": round(mean_interactions, 2)},
        "parameters": params | {"random_state": inputs["random_state"]},
        "runs": runs,
        "als_list_overlap": {label: overlap(lists["implicit"], lists[label]) for label in lists if label != "implicit"},
    }


def markdown(results: list[dict]) -> list[str]:
    """The table of docs/spark.md: one row per dataset and engine."""
    header = ["data", "engine", "fit (s)", *(f"{m}@{K}" for m in METRICS), f"hybrid ndcg@{K}"]
    rows = [[r["dataset"], run["engine"], f"{run['fit_seconds']:.2f}",
             *(f"{run['metrics']['als'][m]:.4f}" for m in METRICS), f"{run['metrics']['hybrid']['ndcg']:.4f}"]
            for r in results for run in r["runs"]]
    return table(header, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", nargs="+", default=[SAMPLE, "uci_online_retail"],
                        help="warehouses: sample and/or public datasets of `segrec run`")
    parser.add_argument("--work", type=Path, default=Path("/tmp/segrec-bench-spark-als"),
                        help="where the builds live (reused when present)")
    parser.add_argument("--datasets", type=Path, default=None, help="public datasets (default: as segrec run)")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "spark_als.json")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per engine (the median is reported)")
    args = parser.parse_args(argv)

    folders = {}
    for name in args.names:
        try:
            folders[name] = warehouse(name, args.work, args.datasets)
        except SegrecError as exc:
            print(f"{name}: skipped ({exc})", flush=True)
    start = time.perf_counter()
    session = spark_session_for(None)  # the local session ml_engine spark starts on DuckDB
    session_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory(prefix="spark-als-checkpoints-") as checkpoints:
        engines = {"local": ALSRecommender, "spark": functools.partial(SparkALS, session=session,
                                                                       checkpoint_dir=checkpoints)}
        warm_up(engines["spark"])
        results = [compare(name, folder, engines, args.repeats) for name, folder in folders.items()]
    document = {"k": K, "results": results, "spark_session_start_seconds": round(session_seconds, 1),
                "spark_master": session.sparkContext.master, "commit": git_commit(),
                "machine": machine_info() | {"pyspark": metadata.version("pyspark"),
                                             "implicit": metadata.version("implicit")}}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print("\n".join(markdown(results)))
    print(f"-> {args.results}")


if __name__ == "__main__":
    main()
