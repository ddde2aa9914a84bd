"""The re-ranking control's trade-off curve (`make bench-rerank`): NDCG@10 against long-tail share
and the other bias metrics, per setting of var recommendation_rerank, on the generated sample and
on public datasets.

Per warehouse it scores the test cutoff's candidate pairs once with the ranker the build trains
(segrec.recommend.ranker_pipeline.scored_batches, the settings read from the build's manifest),
then re-ranks those scores at every setting (segrec.recommend.bias_rerank, through ranked_lists
with the build's list length and category cap) and judges the discover and blended lists on the
same temporal hold-out as recommendation_metrics (segrec.recommend.evaluation). So the curve
costs one ranker fit, not one build per setting; weight 0 reproduces recommendation_metrics'
ranker_* rows (int_recommendation__holdout_metrics; both are written, as a check).

Warehouses: ``sample`` is built from data/sample with dbt into ``--work`` when missing; a public
dataset is ``segrec run <dataset> --out <work>/<dataset>`` (about 6 minutes for
uci_online_retail), also only when missing. Results: ``<results>/<name>.json``; the page section
is rendered by ``segrec results`` (docs/results.md). Slow, never part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import pandas as pd

from bench.common import BIN, ROOT, dbt_command, git_commit, machine_info, run_measured
from segrec.recommend.bias_rerank import RERANKED_LIST_TYPES, rerank_settings
from segrec.recommend.evaluation import ALL_GROUPS, KS, catalog_from_data, evaluate_recommendations
from segrec.recommend.pipeline import as_frame, cutoff_data, evaluated_keys
from segrec.recommend.ranker import ranked_lists
from segrec.recommend.ranker_pipeline import (
    RankerInputs,
    batch_history,
    cutoff_categories,
    rows_by_cutoff,
    scored_batches,
)
from segrec.results.rerank import CURVE_K, CURVE_METRICS

RANKER_MODEL = "model.segrec.int_recommendation__ranker_holdout"
# weight 0 (the ranker's order) and the settings of the curve, per method
WEIGHTS: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75)
METHODS: tuple[str, ...] = ("long_tail", "calibrated")
# The pair columns the lists and the re-ranking read; the rest of the ~50 are dropped after scoring.
KEPT_COLUMNS: tuple[str, ...] = ("customer_key", "product_id", "is_own", "pop_365d")
SAMPLE = "sample"


def warehouse(name: str, work: Path, datasets: Path) -> Path:
    """The folder of ``name``'s build (``warehouse.duckdb`` and ``target/manifest.json``), built when missing."""
    folder = work / name
    if (folder / "warehouse.duckdb").is_file() and (folder / "target" / "manifest.json").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    if name == SAMPLE:
        command, env = dbt_command(["build", "--target", "dev", "--select", "+int_recommendation__holdout_metrics",
                                    "--exclude-resource-type", "test", "unit_test"], folder, ROOT / "data" / "sample")
        run_measured(command, env=env, log=folder / "build.log")
    else:
        run_measured([str(BIN / "segrec"), "run", name, "--out", str(folder), "--datasets", str(datasets),
                      "--allow-demo-salt"], log=folder / "run.log")
    return folder


def build_config(folder: Path) -> dict:
    """The rendered config of int_recommendation__ranker_holdout (the test lists) in the build's
    manifest: the ranker settings, list length, test days and category cap the build used."""
    manifest = json.loads((folder / "target" / "manifest.json").read_text())
    return manifest["nodes"][RANKER_MODEL]["config"]


def settings_grid(weights: Sequence[float] = WEIGHTS, methods: Sequence[str] = METHODS) -> list[dict]:
    """The ranker's order, then every method at every weight (each checked like the dbt var)."""
    grid = [{"method": "none", "weight": 0.0}] + [{"method": m, "weight": w} for m in methods for w in weights]
    for setting in grid:
        rerank_settings(setting)
    return grid


def curve(folder: Path, name: str, grid: Sequence[Mapping]) -> dict:
    """Every setting's NDCG@10 and bias metrics@10 of the discover and blended lists."""
    config = build_config(folder)
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        def table(model: str, where: str = "") -> pd.DataFrame:
            return as_frame(con.sql(f"select * from {model} {where}").to_arrow_table())

        test = "where cutoff = 'test'"
        customers = table("int_recommendation__customers")
        products = table("int_recommendation__products")
        truth = table("int_recommendation__holdout_truth")
        inputs = RankerInputs(table("int_recommendation__purchase_lines"), table("int_recommendation__windows").iloc[0],
                              table("int_recommendation__hybrid_holdout"), truth, products, customers)
        interactions = table("int_interactions__holdout", test)
        data = cutoff_data(interactions, table("int_recommendation__products", test), customers)
        built = table("int_recommendation__holdout_metrics",
                      f"where group_dimension = '{ALL_GROUPS}' and k = {CURVE_K} and strategy like 'ranker_%'")
    # the calibrated target, as ranker_lists gets it from the build: interactions before the test window
    histories = rows_by_cutoff(interactions.loc[interactions["meets_min_activity"].fillna(False).astype(bool),
                                            ["cutoff", "customer_key", "product_id"]], "history")
    start = time.perf_counter()
    scored = []
    # the test cutoff only: the served ranker is not needed, so it is never trained
    for batch in scored_batches(inputs, settings=config["ranker"], horizon_days=config["test_days"], served=["test"]):
        scored.append((batch.pairs[list(KEPT_COLUMNS)], batch.scores, batch_history(histories, batch)))
    scoring_seconds = time.perf_counter() - start
    judged = truth[(truth["cutoff"] == "test") & truth["customer_key"].isin(set(evaluated_keys(customers)))]
    catalog = catalog_from_data(data)
    categories = cutoff_categories(products, "test")
    length = max(int(config["list_length"]), *KS)  # the test cutoff's list length, as in ranker_lists
    has_categories = bool(pd.notna(categories).any())
    rows = []
    for setting in grid:
        control = rerank_settings(setting)
        if control.method == "calibrated" and not has_categories:
            continue  # nothing to calibrate: the ranker's order again
        lists = pd.concat([ranked_lists(pairs, scores, k=length, list_types=RERANKED_LIST_TYPES, categories=categories,
                                        max_per_category=config["max_per_category"], rerank=control, history=history)
                           for pairs, scores, history in scored], ignore_index=True)
        by_type = {f"ranker_{t}": lists[lists["list_type"] == t] for t in RERANKED_LIST_TYPES}
        metrics = evaluate_recommendations(by_type, judged, catalog, ks=(CURVE_K,))
        metrics = metrics[(metrics["group_dimension"] == ALL_GROUPS) & metrics["metric"].isin(CURVE_METRICS)]
        for strategy, values in metrics.groupby("strategy"):
            rows.append({"method": control.method, "weight": control.weight, "pool": control.pool,
                         "strategy": strategy, **dict(zip(values["metric"], values["value"].round(6), strict=True))})
    return {
        "dataset": name,
        "k": CURVE_K,
        "customers": int(judged["customer_key"].nunique()),
        "has_categories": has_categories,
        "ranker": config["ranker"],
        "list_length": length,
        "max_per_category": config["max_per_category"],
        "scoring_seconds": round(scoring_seconds, 1),
        "settings": rows,
        "build_metrics": [{"strategy": r.strategy, "metric": r.metric, "value": round(float(r.value), 6)}
                          for r in built.itertuples(index=False) if r.metric in CURVE_METRICS],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", nargs="+", default=[SAMPLE, "uci_online_retail"],
                        help="warehouses to measure: sample and/or public datasets of `segrec run`")
    parser.add_argument("--work", type=Path, default=Path("/tmp/segrec-bench-rerank"),
                        help="where the builds live (reused when present)")
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "rerank")
    args = parser.parse_args(argv)
    args.results.mkdir(parents=True, exist_ok=True)
    grid = settings_grid()
    for name in args.names:
        result = curve(warehouse(name, args.work, args.datasets), name, grid)
        result |= {"commit": git_commit(), "machine": machine_info()}
        path = args.results / f"{name}.json"
        path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        print(f"{name}: {len(result['settings'])} rows -> {path}")


if __name__ == "__main__":
    main()
