"""The recommendation models of the warehouse: what each dbt Python model calls.

SQL prepares, per training cutoff (``latest`` for serving; ``validation``, ``test`` and the
ranker's ``train_<k>`` for the temporal hold-out), the weighted interaction pairs (macro
``weighted_interactions``), the product side data with the repeat-purchase decision, the
customers to list with their segment and context, and the recent events for trending. The dbt
Python models stay thin:

==========================================  ============================================================
``int_recommendation__als_grid``            :func:`tune_als` on the validation cutoff
``int_recommendation__als_factors``         :func:`cutoff_matrix`, :func:`fit_als`, :func:`factors_table`
``int_recommendation__hybrid_latest``       :func:`hybrid_candidates` at latest (stored serving ALS)
``int_recommendation__hybrid_holdout``      :func:`hybrid_candidates` per hold-out cutoff
``int_recommendation__ranker_fits``         ``segrec.recommend.ranker_pipeline.fit_rankers``
``int_recommendation__ranker_holdout``      ``segrec.recommend.ranker_pipeline.ranker_lists`` (test)
``int_recommendation__ranker_latest``       ``segrec.recommend.ranker_pipeline.ranker_lists`` (latest)
``int_recommendation__item_neighbors``      :func:`restore_als`, then :func:`similarity_table`
``int_recommendation__holdout_metrics``     :func:`holdout_metrics` on the test cutoff
==========================================  ============================================================

ALS is trained once per grid combination, once per hold-out cutoff of the hybrid candidates,
once on the test cutoff of the evaluation and once for serving; the latest hybrid candidates
and the similarities reuse the stored serving factors instead of training again. Every one of
these fits (and the ranker's ALS candidates) trains with the factory :func:`als_factory_for`
gives for the dbt var ``ml_engine``: implicit in the dbt process, or Spark.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segrec.engine import ml_spark_session
from segrec.errors import SegrecError
from segrec.io import require_columns
from segrec.recommend.als import (
    ALS_PARAMETERS,
    ALS_TYPES,
    ALSFactory,
    ALSRecommender,
    typed_als_params,
)
from segrec.recommend.data import RecData, check_unique_keys, prepare_data
from segrec.recommend.evaluation import KS, METRIC_COLUMNS, N_RESAMPLES, describe_windows, evaluate_recommender
from segrec.recommend.hybrid import SIMILARITY_METHODS, STRATEGIES, HybridRecommender, item_similarity_table
from segrec.recommend.interactions import InteractionMatrix, Table, build_interaction_matrix, sorted_keys
from segrec.recommend.spark_als import SparkALS
from segrec.recommend.tuning import grid_search_als
from segrec.schemas import REPEATED_TEXT, typed_frame, typed_table
from segrec.versioning import content_version

# Columns of the SQL interaction tables (int_interactions__latest, int_interactions__holdout) read here.
INTERACTION_COLUMNS: tuple[str, ...] = (
    "customer_key", "product_id", "weight", "is_purchased", "meets_min_activity",
)


# The Arrow schemas of the Python models' outputs (segrec.schemas: an empty frame, with no
# products or no customers to list, has no dtypes to infer).
LISTS_SCHEMA = pa.schema([
    ("customer_key", pa.string()), ("rank", pa.int64()), ("product_id", pa.string()), ("score", pa.float64()),
    ("strategy", pa.string()), ("reason", pa.string()), ("segment_name", pa.string()),
    ("model_version", pa.string()),
])
NEIGHBORS_SCHEMA = pa.schema([
    ("product_id", pa.string()), ("similar_product_id", pa.string()), ("score", pa.float64()),
    ("method", pa.string()), ("rank", pa.int64()), ("model_version", pa.string()),
])
# Hybrid candidates (hybrid_candidates), millions of rows in a large shop.
HYBRID_CANDIDATES_SCHEMA = pa.schema([
    ("cutoff", REPEATED_TEXT), ("customer_key", pa.string()), ("product_id", pa.string()),
    ("hybrid_score", pa.float64()), ("hybrid_rank", pa.int64()), ("strategy", REPEATED_TEXT), ("reason", pa.string()),
])
# Customer groups the offline evaluation reports (fairness), from int_recommendation__customers.
GROUP_COLUMNS: tuple[str, ...] = ("age_band", "gender", "region", "country_code")
_ARROW_TYPES = {int: pa.int64(), float: pa.float64()}
TUNING_SCHEMA = pa.schema(
    [(name, _ARROW_TYPES[ALS_TYPES[name]]) for name in ALS_PARAMETERS]
    + [("metric", pa.string()), ("k", pa.int64()), ("value", pa.float64()), ("n_users", pa.int64()),
       ("is_selected", pa.bool_())]
)
METRICS_SCHEMA = pa.schema([
    ("strategy", pa.string()), ("group_dimension", pa.string()), ("group_name", pa.string()), ("k", pa.int64()),
    ("metric", pa.string()),
    ("value", pa.float64()), ("n_users", pa.int64()), ("ci_low", pa.float64()), ("ci_high", pa.float64()),
    ("parameters", pa.string()), ("split_description", pa.string()),
])


def as_frame(table: Table) -> pd.DataFrame:
    """A pandas frame of a warehouse table. dbt Python models pass Arrow tables
    (``dbt.ref(...).to_arrow_table()``): several times faster to read than ``.df()``."""
    return table.to_pandas() if isinstance(table, pa.Table) else table


def evaluated_keys(customers: pd.DataFrame) -> pd.Series:
    """The ``customer_key`` of the evaluation sample of ``int_recommendation__customers``
    (column ``is_evaluated``; without it, everybody)."""
    require_columns(customers, "int_recommendation__customers", ("customer_key",))
    if "is_evaluated" not in customers:
        return customers["customer_key"]
    return customers.loc[customers["is_evaluated"].fillna(False).astype(bool).to_numpy(), "customer_key"]


def sorted_text_keys(keys: Iterable[object]) -> np.ndarray:
    """``keys`` as text, without repeats, in Python's (and Arrow's, DuckDB's: UTF-8 byte) order:
    :func:`segrec.recommend.interactions.sorted_keys` of their text."""
    return sorted_keys(np.asarray([str(key) for key in keys], dtype=object))


def fairness_groups(customers: pd.DataFrame) -> pd.DataFrame:
    """The customer group dimensions of ``int_recommendation__customers`` that the offline
    evaluation reports beside segment and new/returning (:data:`GROUP_COLUMNS` it has),
    indexed by ``customer_key``."""
    require_columns(customers, "int_recommendation__customers", ("customer_key",))
    chosen = [c for c in GROUP_COLUMNS if c in customers.columns]
    return customers.set_index("customer_key")[chosen]


def windows_description(windows: Table) -> str:
    """The hold-out windows of ``int_recommendation__windows`` (one row) in one line."""
    windows = as_frame(windows)
    require_columns(windows, "int_recommendation__windows",
                    ("validation_start", "test_start", "as_of_time", "holdout_split"))
    if len(windows) != 1:
        raise SegrecError(f"int_recommendation__windows: expected one row, found {len(windows)}")
    row = windows.iloc[0]
    return describe_windows(row["validation_start"], row["test_start"], row["as_of_time"], row["holdout_split"])


def cutoff_data(interactions: Table, products: Table, customers: Table) -> RecData:
    """The recommenders' input at one cutoff, from the SQL tables of that cutoff.

    The matrix holds the pairs that meet the minimum activity; every purchase, filtered or
    not, feeds the already-bought rule. ``customers`` (``customer_key``, ``segment_name``,
    ``rule_segments``, ``usual_device``, ``usual_daypart``, ``region``) are the customers to
    list: those without interactions are the cold-start rows. ``products`` may name the
    product ``product_name`` (the warehouse's name) or ``name``.
    """
    train = _training_pairs(interactions)
    bought = _flagged_rows(interactions, "is_purchased", ["customer_key", "product_id"])
    products = as_frame(products).rename(columns={"product_name": "name"})
    return prepare_data(train, products, as_frame(customers), purchases=bought)


def cutoff_matrix(interactions: Table, products: Table, customers: Table) -> InteractionMatrix:
    """The training matrix of :func:`cutoff_data` alone, the same rows, columns and weights,
    for a model that only trains ALS: it skips aligning the side data and the purchases
    (``products`` and ``customers`` need only their key columns)."""
    products, customers = as_frame(products), as_frame(customers)
    check_unique_keys(products, "products", "product_id")
    check_unique_keys(customers, "customer context", "customer_key")
    return build_interaction_matrix(
        _training_pairs(interactions), customer_keys=customers["customer_key"], product_ids=products["product_id"],
    )


def _training_pairs(interactions: Table) -> Table:
    """The (customer_key, product_id, weight) rows that meet the minimum activity."""
    require_columns(interactions, "interactions", INTERACTION_COLUMNS)
    return _flagged_rows(interactions, "meets_min_activity", ["customer_key", "product_id", "weight"])


def _flagged_rows(table: Table, flag: str, columns: list[str]) -> Table:
    """The ``columns`` of the rows whose boolean ``flag`` is true, Arrow in, Arrow out (the
    matrix is built from Arrow: much faster than pandas on long text columns)."""
    if isinstance(table, pa.Table):
        return table.filter(pc.fill_null(table[flag], False)).select(columns)
    return table.loc[table[flag].fillna(False).astype(bool), columns]


def als_parameters(settings: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """ALS parameters and ``random_state`` from the dbt var ``recommendation_als``, checked and typed."""
    unknown = sorted(set(settings) - set(ALS_PARAMETERS) - {"random_state"})
    missing = sorted(set(ALS_PARAMETERS) - set(settings))
    if unknown or missing:
        raise SegrecError(
            f"var recommendation_als: unknown key(s) {unknown}, missing key(s) {missing}; "
            f"expected {list(ALS_PARAMETERS)} and random_state"
        )
    return typed_als_params(settings, "var recommendation_als"), int(settings.get("random_state", 0))


def als_factory_for(ml_engine: str, session: Any = None, spark_ml: Mapping[str, Any] | None = None) -> ALSFactory:
    """What trains ALS under the dbt var ``ml_engine``: ``local``, ALSRecommender (implicit in
    this process); ``spark``, SparkALS in :func:`segrec.engine.spark_session_for` ``(session,
    spark_ml)`` (the model's SparkSession on a Spark target, else a local one), checkpointing
    to var ``spark_ml``'s ``checkpoint_dir``."""
    spark = ml_spark_session(ml_engine, session, spark_ml)
    if spark is None:
        return ALSRecommender
    spark_session, settings = spark
    return functools.partial(SparkALS, session=spark_session, checkpoint_dir=settings["checkpoint_dir"])


def _grid_combinations(base: Mapping[str, Any], grid: Mapping[str, Sequence[Any]] | None) -> dict[str, tuple]:
    """Values to try per ALS parameter: the grid's, else the base value alone."""
    grid = dict(grid or {})
    unknown = sorted(set(grid) - set(ALS_PARAMETERS))
    if unknown:
        raise SegrecError(
            f"var recommendation_als_grid: unknown ALS parameter(s) {unknown}; use {list(ALS_PARAMETERS)}"
        )
    empty = sorted(name for name, values in grid.items() if values is not None and len(values) == 0)
    if empty:
        raise SegrecError(f"var recommendation_als_grid: no values for {empty}")
    return {name: tuple(grid.get(name) or (base[name],)) for name in ALS_PARAMETERS}


def tune_als(
    data: RecData,
    truth: Table,
    *,
    base: Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]] | None,
    random_state: int,
    k: int = 10,
    metric: str = "ndcg",
    max_per_category: int | None = None,
    als_factory: ALSFactory = ALSRecommender,
) -> pd.DataFrame:
    """Grid search of ALS on the validation window: the ``int_recommendation__als_grid`` table.

    One row per combination of ``grid`` (parameters it leaves out keep their ``base`` value)
    with ``metric`` at ``k`` over the validation customers the data knows, ``n_users`` and
    ``is_selected`` (the best; ties go to the earlier combination), columns
    :data:`TUNING_SCHEMA`. With a single combination, or no known validation customer, there
    is nothing to choose: that combination (or ``base``) is selected untried, value NaN,
    and no ALS is trained. ``als_factory`` trains each combination (:func:`als_factory_for`).
    """
    truth = as_frame(truth)
    require_columns(truth, "validation ground truth", ("customer_key", "product_id"))
    combos = _grid_combinations(base, grid)
    known = truth[truth["customer_key"].isin(data.interactions.customer_keys)]
    n_combinations = int(np.prod([len(values) for values in combos.values()]))
    if n_combinations == 1 or known.empty:
        untried = {name: values[0] for name, values in combos.items()} if n_combinations == 1 else dict(base)
        row = {**untried, "metric": metric, "k": k, "value": np.nan, "n_users": 0, "is_selected": True}
        table = pd.DataFrame([row])
    else:
        _, table = grid_search_als(
            data, known, grid=combos, k=k, metric=metric, max_per_category=max_per_category,
            random_state=random_state, als_factory=als_factory,
        )
        table = table.rename(columns={"selected": "is_selected"})
    return typed_frame(table, TUNING_SCHEMA).reset_index(drop=True)


def selected_parameters(tuning: Table) -> dict[str, Any]:
    """The ALS parameters of the one selected row of a tuning table (:func:`tune_als`)."""
    tuning = as_frame(tuning)
    require_columns(tuning, "int_recommendation__als_grid", (*ALS_PARAMETERS, "is_selected"))
    chosen = tuning[tuning["is_selected"].astype(bool)]
    if len(chosen) != 1:
        raise SegrecError(f"int_recommendation__als_grid: expected one selected row, found {len(chosen)}")
    return typed_als_params(chosen.iloc[0], "int_recommendation__als_grid")


def _matrix_parts(interactions: InteractionMatrix) -> list[object]:
    """What identifies a training matrix: shape, sparsity pattern, weights and both key lists."""
    matrix = interactions.matrix
    return [
        np.asarray(matrix.shape, dtype=np.int64), matrix.indptr.astype(np.int64),
        matrix.indices.astype(np.int64), matrix.data.astype(np.float32),
        *("\x1f".join(map(str, keys)) for keys in (interactions.customer_keys, interactions.product_ids)),
    ]


def data_version(interactions: InteractionMatrix) -> str:
    """16 hex characters of a SHA-256 over the matrix alone (keys, pattern, weights): the
    training input of an ALS fit, whatever its parameters."""
    return content_version(*_matrix_parts(interactions))


def model_version(interactions: InteractionMatrix, params: Mapping[str, Any]) -> str:
    """16 hex characters of a SHA-256 over the parameters (sorted JSON) and the matrix (keys,
    pattern, weights): the same training input gives the same version."""
    return content_version(dict(params), *_matrix_parts(interactions))


def fit_als(
    data: RecData | InteractionMatrix,
    params: Mapping[str, Any],
    *,
    random_state: int,
    als_factory: ALSFactory = ALSRecommender,
) -> ALSRecommender:
    """Train the serving ALS on the latest interactions with ``als_factory``
    (:func:`als_factory_for`; default implicit, BLAS held at one thread inside)."""
    matrix = data.interactions if isinstance(data, RecData) else data
    return als_factory(**params, random_state=random_state).fit(matrix)


def factors_table(als: ALSRecommender, interactions: InteractionMatrix) -> pa.Table:
    """ALS factors, fitted on ``interactions``, as one artifact table: ``model_version``,
    ``data_version`` (of the matrix alone), ``entity_type`` (``user`` or ``item``),
    ``entity_key`` (customer_key or product_id), ``factors`` (list of float32) and
    ``parameters`` (JSON of the training parameters)."""
    version = model_version(interactions, als.get_params())
    keys = np.concatenate([als.customer_keys_, als.product_ids_]).astype(str)
    vectors = np.vstack([als.user_factors_, als.item_factors_]).astype(np.float32)
    width = vectors.shape[1]
    offsets = pa.array(np.arange(0, (len(keys) + 1) * width, width, dtype=np.int32))
    n_users = len(als.customer_keys_)
    return pa.table(
        {
            "model_version": pa.array([version] * len(keys), pa.string()),
            "data_version": pa.array([data_version(interactions)] * len(keys), pa.string()),
            "entity_type": pa.array(["user"] * n_users + ["item"] * (len(keys) - n_users), pa.string()),
            "entity_key": pa.array(keys, pa.string()),
            "factors": pa.ListArray.from_arrays(offsets, pa.array(vectors.ravel(), pa.float32())),
            "parameters": pa.array([json.dumps(als.get_params(), sort_keys=True)] * len(keys), pa.string()),
        }
    )


def _aligned_factors(table: pa.Table, entity: str, keys: np.ndarray, width: int) -> np.ndarray:
    """The factor rows of ``entity`` in the order of ``keys``; every key exactly once."""
    chosen = table.filter(pc.equal(table["entity_type"], entity))
    stored = pd.Index(chosen["entity_key"].to_pylist())
    position = stored.get_indexer(pd.Index(keys.astype(str)))
    if len(stored) != len(keys) or (position < 0).any():
        raise SegrecError(
            f"int_recommendation__als_factors: its {entity} factors ({len(stored)}) do not match the "
            f"{len(keys)} {entity}s of the interactions; rebuild it "
            "(dbt build --select int_recommendation__als_factors+)"
        )
    vectors = chosen["factors"].combine_chunks()
    return vectors.flatten().to_numpy(zero_copy_only=False).reshape(len(vectors), width)[position]


def restore_als(factors: pa.Table, data: RecData) -> tuple[ALSRecommender, str]:
    """The serving ALS from its stored factors (:func:`factors_table`), aligned to ``data``,
    and its ``model_version``. Refuses an artifact of another matrix (a stale table)."""
    versions = set(factors["model_version"].to_pylist())
    if len(versions) != 1:
        raise SegrecError(f"int_recommendation__als_factors: expected one model_version, found {len(versions)}")
    params = json.loads(factors["parameters"][0].as_py())
    als = ALSRecommender.from_factors(
        data.interactions,
        _aligned_factors(factors, "user", data.interactions.customer_keys, params["factors"]),
        _aligned_factors(factors, "item", data.interactions.product_ids, params["factors"]),
        **params,
    )
    return als, versions.pop()


def similarity_table(
    data: RecData, als: ALSRecommender, *, top_n: int = 20, methods: Iterable[str] = SIMILARITY_METHODS
) -> pd.DataFrame:
    """The ``item_similarities`` table: the top ``top_n`` similar active products per product
    and method, with the 1-based ``rank`` within (product, method)."""
    frames = [item_similarity_table(data, method, als=als, top_n=top_n) for method in methods]
    table = pd.concat(frames, ignore_index=True)
    table["rank"] = table.groupby(["method", "product_id"], sort=False).cumcount().astype(np.int64) + 1
    return table


def holdout_metrics(
    data: RecData,
    truth: Table,
    events: Table | None,
    *,
    customer_keys: Sequence[object],
    als_params: Mapping[str, Any],
    random_state: int,
    max_per_category: int | None = None,
    ks: Sequence[int] = KS,
    strategies: Sequence[str] = STRATEGIES,
    extra_lists: Mapping[str, pd.DataFrame] | None = None,
    groups: pd.DataFrame | None = None,
    als_factory: ALSFactory = ALSRecommender,
    n_resamples: int = N_RESAMPLES,
    bootstrap_random_state: int = 0,
) -> pd.DataFrame:
    """Every strategy and the hybrid on the test window, overall and per customer group: the
    rows of ``recommendation_metrics`` and ``recommendation_fairness``.

    ``data`` is the test cutoff (training data before the test window), ``truth`` the test
    pairs; only the customers we list (``customer_keys``) are evaluated, cold-start ones
    included. One ALS is trained and shared by the ``als`` strategy and the hybrid. Adds the
    JSON of the ALS ``parameters`` used. ``extra_lists`` (strategy -> lists made elsewhere,
    e.g. the ranker's) are judged beside them. ``groups``: group dimensions beyond segment and
    new/returning (:func:`fairness_groups`). ``als_factory`` trains the ALS
    (:func:`als_factory_for`). ``n_resamples`` and ``bootstrap_random_state``: the paired
    bootstrap of the served lists' NDCG ratio to the better baseline
    (``segrec.recommend.evaluation.RATIO_METRIC``). No products or no listed customer in the test
    window: nothing to evaluate, no rows.
    """
    truth = as_frame(truth)
    require_columns(truth, "test ground truth", ("customer_key", "product_id"))
    served = truth[truth["customer_key"].isin(pd.Index(list(customer_keys), dtype=object))]
    if data.interactions.n_items == 0 or served.empty:
        return pd.DataFrame({name: pd.Series([], dtype=object) for name in (*METRIC_COLUMNS, "parameters")})
    model = HybridRecommender(
        n=max(ks), max_per_category=max_per_category, als_params=als_params, random_state=random_state,
        als_factory=als_factory,
    ).fit(data, None if events is None else as_frame(events))
    metrics = evaluate_recommender(model, served, strategies=strategies, ks=ks, extra_lists=extra_lists,
                                   groups=groups, n_resamples=n_resamples, random_state=bootstrap_random_state)
    return metrics.assign(parameters=json.dumps(model.als_.get_params(), sort_keys=True))


def hybrid_candidates(
    data: RecData,
    events: Table | None,
    customer_keys: Sequence[object],
    *,
    cutoff: str,
    n: int,
    als_params: Mapping[str, Any],
    random_state: int,
    max_per_category: int | None = None,
    als: ALSRecommender | None = None,
    explain: bool = False,
    als_factory: ALSFactory = ALSRecommender,
) -> Iterator[pa.Table]:
    """The hybrid's top ``n`` per customer at one cutoff, as a candidate source of the ranker
    (``int_recommendation__hybrid_latest`` and ``__hybrid_holdout``, :data:`HYBRID_CANDIDATES_SCHEMA`), a batch of
    customers at a time (none without products or customers; :func:`segrec.schemas.stacked_tables`
    joins them): ``hybrid_score``, ``hybrid_rank``, the row's ``strategy`` and, with ``explain``,
    its ``reason`` (for the served cutoff). ``als``: a stored fitted model of the same matrix
    (else one is trained with ``als_params`` by ``als_factory``, :func:`als_factory_for`). In
    batches because the served cutoff of a large shop has 50 rows per customer (9.5M at 10M
    events): the model writes them out as they come (:func:`segrec.engine.to_output_batches`)."""
    if data.interactions.n_items == 0 or n == 0 or len(customer_keys) == 0:
        return
    model = HybridRecommender(
        n=n, max_per_category=max_per_category, als_params=als_params, random_state=random_state,
        als_factory=als_factory,
    ).fit(data, None if events is None else as_frame(events), als=als)
    for lists in model.recommend_batches(list(customer_keys), explain=explain):
        yield _hybrid_rows(lists, cutoff)


def _hybrid_rows(lists: pd.DataFrame, cutoff: str) -> pa.Table:
    """One batch of :meth:`HybridRecommender.recommend` rows as hybrid candidates of ``cutoff``."""
    return typed_table(pd.DataFrame({
        "cutoff": cutoff,
        "customer_key": lists["customer_key"].astype(str).to_numpy(),
        "product_id": lists["product_id"].astype(str).to_numpy(),
        "hybrid_score": lists["score"].to_numpy(dtype=float),
        "hybrid_rank": lists["rank"].to_numpy(dtype=np.int64),
        "strategy": lists["strategy"].to_numpy(dtype=object),
        "reason": lists["reason"].to_numpy(dtype=object),
    }), HYBRID_CANDIDATES_SCHEMA)
