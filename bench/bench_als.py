"""Time ALS training on a synthetic sparse customers x products matrix and report peak memory.

    .venv/bin/python bench/bench_als.py --users 100000 --items 5000 --nnz-per-user 20

Item popularity follows a power law, as in shop data. The wrapper (``ALSRecommender.fit``:
BLAS limited to one thread, factor copies) is timed, and with ``--direct`` also a bare
``implicit`` fit on the same matrix, to show the wrapper's overhead.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from segrec.recommend.als import ALSRecommender
from segrec.recommend.interactions import InteractionMatrix


def synthetic_matrix(n_users: int, n_items: int, nnz_per_user: int, random_state: int) -> InteractionMatrix:
    """Users x items with about ``nnz_per_user`` items each, drawn from a power-law popularity."""
    rng = np.random.default_rng(random_state)
    popularity = 1.0 / np.power(np.arange(n_items) + 10.0, 0.8)
    rows = np.repeat(np.arange(n_users), nnz_per_user)
    cols = rng.choice(n_items, size=len(rows), p=popularity / popularity.sum())
    weights = 1.0 + rng.poisson(0.5, size=len(rows)).astype(np.float32)
    matrix = sp.csr_matrix((weights, (rows, cols)), shape=(n_users, n_items), dtype=np.float32)
    matrix.sum_duplicates()
    return InteractionMatrix(
        matrix=matrix,
        customer_keys=np.array([f"c{i:08d}" for i in range(n_users)], dtype=object),
        product_ids=np.array([f"p{j:06d}" for j in range(n_items)], dtype=object),
    )


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--nnz-per-user", type=int, default=20)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--regularization", type=float, default=0.05)
    parser.add_argument("--alpha", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=0, help="implicit solver threads (0: all cores)")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--direct", action="store_true", help="also time a bare implicit fit")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    matrix = synthetic_matrix(args.users, args.items, args.nnz_per_user, args.random_state)
    build_seconds = time.perf_counter() - start
    print(f"matrix: {matrix.n_users:,} users x {matrix.n_items:,} items, {matrix.matrix.nnz:,} non-zeros "
          f"(built in {build_seconds:.1f} s, peak RSS {peak_rss_mib():.0f} MiB)")

    params = dict(factors=args.factors, regularization=args.regularization, alpha=args.alpha,
                  iterations=args.iterations)
    start = time.perf_counter()
    ALSRecommender(**params, random_state=args.random_state, num_threads=args.threads).fit(matrix)
    wrapped = time.perf_counter() - start
    print(f"ALSRecommender.fit {params}, threads={args.threads}: {wrapped:.1f} s, "
          f"peak RSS {peak_rss_mib():.0f} MiB")

    if args.direct:
        start = time.perf_counter()
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(**params, random_state=args.random_state, num_threads=args.threads)
            model.fit(matrix.matrix, show_progress=False)
        direct = time.perf_counter() - start
        print(f"implicit direct: {direct:.1f} s (wrapper / direct = {wrapped / direct:.2f}), "
              f"peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
