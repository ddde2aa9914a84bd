"""ALS grid search on a validation window, scored with the ranking metrics of
:mod:`segrec.recommend.evaluation` under the production business rules."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from segrec.errors import SegrecError
from segrec.recommend.als import ALS_PARAMETERS, ALSFactory, ALSRecommender
from segrec.recommend.data import RecData
from segrec.recommend.evaluation import RANKING_METRICS, ranking_metrics
from segrec.recommend.rerank import apply_business_rules

# The default grid (dbt var recommendation_als_grid); parameters it leaves out keep
# :data:`segrec.recommend.als.ALS_DEFAULTS`.
DEFAULT_ALS_GRID: dict[str, tuple[Any, ...]] = {"factors": (8, 32), "alpha": (1.0, 10.0)}


def _lists_frame(data: RecData, user_rows: np.ndarray, items: np.ndarray) -> pd.DataFrame:
    row, position = np.nonzero(items >= 0)
    return pd.DataFrame(
        {
            "customer_key": data.interactions.customer_keys[user_rows[row]],
            "rank": position + 1,
            "product_id": data.interactions.product_ids[items[row, position]],
        }
    )


def grid_search_als(
    data: RecData,
    truth: pd.DataFrame,
    *,
    grid: Mapping[str, Sequence[Any]] = DEFAULT_ALS_GRID,
    k: int = 10,
    metric: str = "ndcg",
    max_per_category: int | None = None,
    random_state: int = 0,
    batch_size: int = 2000,
    als_factory: ALSFactory = ALSRecommender,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Fit ALS for every combination of ``grid`` on ``data`` and score it on ``truth``.

    ``truth`` is the validation window; only its customers known to ``data`` are scored.
    Lists obey the same business rules as production. Returns the chosen parameters (best
    ``metric`` at ``k``; ties go to the earlier combination) and the grid table: one row per
    combination with its parameters, ``metric``, ``k``, ``value``, ``n_users`` and ``selected``.
    ``als_factory`` trains each combination (default implicit).
    """
    if metric not in RANKING_METRICS:
        raise SegrecError(f"grid search: metric must be one of {list(RANKING_METRICS)}, got {metric!r}")
    unknown = sorted(set(grid) - set(ALS_PARAMETERS))
    if unknown:
        raise SegrecError(f"grid search: unknown ALS parameter(s) {unknown}")
    users = truth["customer_key"].unique()
    user_rows = data.interactions.user_rows(users)
    user_rows = np.sort(user_rows[user_rows >= 0])
    known_truth = truth[truth["customer_key"].isin(data.interactions.customer_keys[user_rows])]
    names = sorted(grid)
    records = []
    for values in itertools.product(*(grid[name] for name in names)):
        params = dict(zip(names, values, strict=True))
        als = als_factory(**params, random_state=random_state).fit(data.interactions)
        frames = []
        for start in range(0, len(user_rows), batch_size):
            rows = user_rows[start : start + batch_size]
            items, _ = apply_business_rules(als.score(rows), data, rows, k, max_per_category)
            frames.append(_lists_frame(data, rows, items))
        empty = np.empty((0, k), dtype=np.int64)
        lists = pd.concat(frames, ignore_index=True) if frames else _lists_frame(data, user_rows, empty)
        scores = ranking_metrics(lists, known_truth, k=k, n_items=data.interactions.n_items)[metric]
        records.append(params | {"metric": metric, "k": k, "value": float(scores.mean()),
                                 "n_users": len(scores)})
    table = pd.DataFrame.from_records(records)
    best = int(np.nanargmax(table["value"].to_numpy())) if len(table) else 0
    table["selected"] = np.arange(len(table)) == best
    chosen = {name: table.loc[best, name] for name in names}
    return {name: value.item() if hasattr(value, "item") else value for name, value in chosen.items()}, table
