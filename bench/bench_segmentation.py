"""Time and peak memory of customer segmentation on synthetic blob data.

    .venv/bin/python bench/bench_segmentation.py --customers 100000
    .venv/bin/python bench/bench_segmentation.py --customers 1000000 --sample-size 20000

Stages: k selection (K-Means for every k, silhouette on the sample), the final fit with its
metrics, one silhouette alone (the part the sample size bounds), and the per-customer
outputs the dbt model also computes (rules, confidence, 2-D projection). Optional Ward and
DBSCAN fits with --algorithms. Peak memory is the process's maximum resident set size so
far (getrusage), so it only grows from line to line.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from segrec.segmentation import (
    assignment_confidence,
    cluster_metrics,
    explain_segments,
    fit_segmentation,
    project_2d,
    select_k,
)


def peak_mb() -> float:
    """Peak resident memory of this process in MB (Linux reports ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, func: Callable[[], Any]) -> Any:
    """Run ``func``, print its wall time and the peak memory so far, return its result."""
    start = time.perf_counter()
    result = func()
    print(f"{label:<44} {time.perf_counter() - start:9.2f} s  peak {peak_mb():8.0f} MB", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--sample-size", type=int, default=20_000, help="silhouette / DBSCAN sample")
    parser.add_argument("--tree-sample-size", type=int, default=100_000, help="decision-tree sample (0: all)")
    parser.add_argument("--features", type=int, default=25)
    parser.add_argument("--centers", type=int, default=6, help="true number of blobs")
    parser.add_argument("--k-max", type=int, default=10, help="select k over 2..k-max")
    parser.add_argument("--n-init", type=int, default=4)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--algorithms", default="kmeans", help="comma list of kmeans, ward, dbscan")
    args = parser.parse_args(argv)

    print(
        f"customers={args.customers:,} features={args.features} centers={args.centers} "
        f"sample_size={args.sample_size:,} k=2..{args.k_max} n_init={args.n_init}"
    )
    X, truth = timed(
        "generate blobs",
        lambda: make_blobs(
            n_samples=args.customers,
            n_features=args.features,
            centers=args.centers,
            cluster_std=2.0,
            random_state=args.random_state,
        ),
    )
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(args.features)])
    selection = timed(
        f"select_k (k=2..{args.k_max})",
        lambda: select_k(X, range(2, args.k_max + 1), args.sample_size, args.random_state, args.n_init),
    )
    print(selection.table.round(4).to_string(index=False))
    print(f"chosen k = {selection.k} (true {args.centers})")

    runs = {}
    for algorithm in args.algorithms.split(","):
        runs[algorithm] = timed(
            f"fit_segmentation {algorithm} + metrics",
            lambda algorithm=algorithm: fit_segmentation(
                X,
                algorithm,
                selection.k,
                sample_size=args.sample_size,
                random_state=args.random_state,
                n_init=args.n_init,
            ),
        )
    run = next(iter(runs.values()))
    timed(
        "one silhouette + CH + DB (cluster_metrics)",
        lambda: cluster_metrics(X, run.labels, run.centroids.to_numpy(), args.sample_size, args.random_state),
    )
    rules = timed(
        f"explain_segments (depth 3, tree sample {args.tree_sample_size:,})",
        lambda: explain_segments(frame, run.labels, max_depth=3, sample_size=args.tree_sample_size or None),
    )
    timed("assignment_confidence", lambda: assignment_confidence(X, run.centroids, run.labels))
    timed("project_2d", lambda: project_2d(X, random_state=args.random_state))
    print(f"tree fidelity = {rules.fidelity:.3f}")
    for algorithm, result in runs.items():
        print(
            f"{algorithm}: silhouette={result.metrics['silhouette']:.4f} "
            f"n_clusters={result.metrics['n_clusters']:.0f} noise_share={result.metrics['noise_share']:.4f} "
            f"ARI vs true blobs={adjusted_rand_score(truth, result.labels):.4f}"
        )
    print(f"peak memory {peak_mb():.0f} MB; data itself {np.asarray(X).nbytes / 2**20:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
