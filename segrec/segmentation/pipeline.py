"""One segmentation run, as the dbt Python model ``int_segmentation__model_runs`` performs it.

A run either **refits** (choose k, cluster, match the new clusters to the previous run's so
segment ids and names stay on the same groups, name and explain them) or **keeps** the
previous centroids and assigns every customer to the nearest one. It refits when forced,
when there is no previous run, when the feature columns changed, or when the kept model's
silhouette or its stability against the previous run falls below a threshold.

The result is one record (one table row) holding the run's metrics and parameters and, as
aligned lists, every customer's assignment: the dbt model appends it to its own table, and
thin SQL marts unnest it into ``customer_segments``, ``segment_transitions``, ... The same
input (features and parameters) gives the same record, so re-running without new data
changes nothing.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.tree import DecisionTreeClassifier

from segrec.engine import ml_spark_session
from segrec.errors import SegrecError
from segrec.segmentation.candidates import (
    MIN_FEATURES,
    VALUE_NAMED,
    ValidationConfig,
    chosen_configuration,
    feature_set_matrix,
    wide_features,
)
from segrec.segmentation.cluster import KMeansFactory, KMeansSegmenter
from segrec.segmentation.explain import TreeFactory, assignment_confidence, explain_segments, project_2d
from segrec.segmentation.features import as_matrix
from segrec.segmentation.fit import data_version, fit_segmentation, model_version
from segrec.segmentation.metrics import NOISE, cluster_metrics
from segrec.segmentation.naming import name_segments
from segrec.segmentation.spark_cluster import SparkDecisionTree, SparkKMeansFactory
from segrec.segmentation.tracking import (
    RefitDecision,
    assign_segment_ids,
    assign_to_nearest,
    match_clusters,
    should_refit,
    stability,
)
from segrec.segmentation.validation import SCALING_COLUMNS, group_drivers, name_value_segments

# Readable columns that are identifiers, dates or scores derived from others: not used to
# name or explain segments.
NOT_DESCRIPTIVE = (
    "customer_id", "as_of_date", "r_score", "f_score", "m_score", "rfm_score", "recency_percentile",
    "frequency_percentile", "monetary_percentile", "primary_region", "top_category", "top_brand",
)


@dataclass(frozen=True)
class SegmentationConfig:
    """Parameters of a run: the dbt var ``segmentation``, same names and defaults (a test
    compares them with dbt_project.yml). ``feature_set`` names the clustered features when the
    hold-out chose them (None: the SQL matrix of var clustering_features); ``validation`` is the
    hold-out's configuration (int_segmentation__candidates)."""

    algorithm: str = "kmeans"
    k_min: int = 2
    k_max: int = 10
    n_clusters: int | None = None
    silhouette_sample_size: int = 20000
    random_state: int = 0
    n_init: int = 4
    min_samples: int = 10
    tree_max_depth: int = 4
    tree_sample_size: int = 100_000
    force_refit: bool = False
    min_silhouette: float = 0.15
    min_stability: float = 0.8
    feature_set: str | None = None
    validation: ValidationConfig = ValidationConfig()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def fit_params(self) -> dict[str, Any]:
        """The parameters that define the fitted model, as runs record and version them."""
        params = asdict(self)
        for key in ("force_refit", "min_silhouette", "min_stability", "validation", "extra"):
            params.pop(key)
        return params


@dataclass(frozen=True)
class SegmentationRun:
    """One segmentation run: one row of ``int_segmentation__model_runs`` (:data:`RUN_SCHEMA`, same
    names in the same order). Metrics and parameters, then every customer's assignment as
    lists aligned on ``customer_keys``; ``segments`` and ``k_selection`` hold one dict per
    segment and per candidate k."""

    run_id: str  # the features and the parameters: the same run again when neither changed
    data_version: str  # the clustered features alone (fit.data_version): the training input
    model_version: str
    previous_run_id: str | None
    scored_at: pd.Timestamp
    algorithm: str
    is_refit: bool
    refit_reason: str
    n_clusters: int
    n_customers: int
    silhouette: float | None
    calinski_harabasz: float | None
    davies_bouldin: float | None
    noise_share: float | None
    stability_vs_previous: float | None
    tree_fidelity: float | None
    parameters: str
    feature_names: list[str]
    centroid_segment_ids: list[int]
    centroids: list[list[float]]
    k_selection: list[dict[str, Any]]
    segments: list[dict[str, Any]]
    customer_keys: list[Any]
    segment_ids: list[int]
    confidences: list[float]
    pca_x: list[float]
    pca_y: list[float]
    rule_segments: list[list[str]]
    # How raw features become the scaled space of the centroids (validation.SCALING_COLUMNS plus
    # feature, one dict per feature_names entry); empty for the SQL matrix of var clustering_features,
    # whose scaling is not recorded.
    feature_scaling: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SegmentationRun:
        """The run stored as ``record`` (a table row, e.g. the previous run; a row stored before
        feature_scaling existed has none)."""
        return cls(**{f.name: record[f.name] for f in fields(cls) if f.name in record})

    def to_record(self) -> dict[str, Any]:
        """The run as one table row ``{column: value}``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ClusteringInput:
    """What a run clusters (:func:`clustering_input`): the scaled ``matrix`` by customer_key, the
    hold-out's ``chosen`` feature set and k (None: var clustering_features, k by silhouette), the
    readable ``value_features`` to name segments by (value-named sets only), the matrix's
    ``feature_groups`` and a ``note`` when the chosen set had to be dropped."""

    matrix: pd.DataFrame
    chosen: Mapping[str, Any] | None = None
    value_features: pd.DataFrame | None = None
    feature_groups: Mapping[str, str] | None = None
    note: str | None = None
    scaling: pd.DataFrame | None = None  # validation.GroupMatrix.scaling of a chosen set's matrix


def clustering_input(
    feature_matrix: pd.DataFrame, candidates: pd.DataFrame, value_features: Callable[[], pd.DataFrame],
    value_weight: float,
) -> ClusteringInput:
    """The matrix ``int_segmentation__model_runs`` clusters, from its inputs as tables: the SQL
    matrix of var clustering_features (``int_customers__feature_matrix``), or, when the hold-out
    chose a feature set and k (``int_segmentation__candidates``), that set of the long value
    features (``int_customers__value_features``, read by ``value_features()`` only then: a long
    table) on the same customers. Its data version (:func:`segrec.segmentation.fit.data_version`,
    sorted by customer) identifies a run's input."""
    matrix = feature_matrix.set_index("customer_key")
    chosen = chosen_configuration(candidates)
    if chosen is None:
        return ClusteringInput(matrix)
    features = wide_features(value_features()).reindex(matrix.index)
    screened = feature_set_matrix(features, chosen["feature_set"], float(value_weight))
    if screened.X.shape[1] < MIN_FEATURES:  # today's customers do not vary on the chosen set
        return ClusteringInput(matrix, note=(
            f"the chosen feature set {chosen['feature_set']!r} varies on {screened.X.shape[1]} feature(s) "
            "today: clustering var clustering_features instead"))
    return ClusteringInput(
        screened.X, chosen, features if chosen["feature_set"] in VALUE_NAMED else None, screened.groups,
        scaling=screened.scaling)


def kmeans_factory_for(ml_engine: str, session: Any = None, spark_ml: Mapping[str, Any] | None = None) -> KMeansFactory:
    """What clusters under the dbt var ``ml_engine`` (the k selection, the run, the hold-out
    candidates): ``local``, KMeansSegmenter (scikit-learn in this process); ``spark``, pyspark.ml
    KMeans or BisectingKMeans (var ``spark_ml``'s ``clustering``) in
    :func:`segrec.engine.spark_session_for` ``(session, spark_ml)``, with Spark's silhouette."""
    spark = ml_spark_session(ml_engine, session, spark_ml)
    if spark is None:
        return KMeansSegmenter
    spark_session, settings = spark
    return SparkKMeansFactory(session=spark_session, method=settings["clustering"])


def tree_factory_for(ml_engine: str, session: Any = None, spark_ml: Mapping[str, Any] | None = None) -> TreeFactory:
    """What fits the trees that explain segments under the dbt var ``ml_engine``: scikit-learn's
    DecisionTreeClassifier, or pyspark.ml's (SparkDecisionTree) in the same session as the K-Means."""
    spark = ml_spark_session(ml_engine, session, spark_ml)
    if spark is None:
        return DecisionTreeClassifier
    return functools.partial(SparkDecisionTree, session=spark[0])


def min_customers(config: SegmentationConfig) -> int:
    """Fewest customers a run needs: every candidate k must leave clusters of a few customers."""
    return max(10, 3 * config.k_max)


def readable_features(customer_features: pd.DataFrame, affinities: pd.DataFrame) -> pd.DataFrame:
    """customer_features plus the ``cat_share__<category>`` columns of the long affinities table
    (its ``category_feature`` column names them, the same names as in the clustering matrix)."""
    readable = customer_features.set_index("customer_key")
    if affinities.empty:
        return readable
    shares = affinities.pivot_table(
        index="customer_key", columns="category_feature", values="category_share", fill_value=0.0
    )
    readable = readable.join(shares, how="left")
    readable[shares.columns] = readable[shares.columns].fillna(0.0)
    return readable


def _descriptive_columns(readable: pd.DataFrame) -> list[str]:
    numeric = readable.select_dtypes("number").columns
    return [c for c in numeric if c not in NOT_DESCRIPTIVE]


def run_segmentation(
    matrix: pd.DataFrame,
    readable: pd.DataFrame,
    rule_segments: pd.Series,
    previous: SegmentationRun | Mapping[str, Any] | None,
    config: SegmentationConfig,
    scored_at: pd.Timestamp,
    value_features: pd.DataFrame | None = None,
    feature_groups: Mapping[str, str] | None = None,
    scaling: pd.DataFrame | None = None,
    kmeans_factory: KMeansFactory = KMeansSegmenter,
    tree_factory: TreeFactory = DecisionTreeClassifier,
) -> SegmentationRun | None:
    """Score one run. ``matrix``: scaled features indexed by customer_key; ``readable``: readable
    features indexed by customer_key; ``rule_segments``: the list of rule segment names per customer_key;
    ``previous``: the last run (or its stored row, or None). Returns the run, or None when there are
    too few customers to segment (fewer than ``min_customers(config)``) or too few distinct
    feature vectors (e.g. every clustering feature constant on the data): no run is recorded.
    ``value_features`` (readable value features by customer_key, as validation.customer_features
    has them): name refitted segments by lifecycle and value (name_value_segments) instead of by
    archetype; ``feature_groups`` (matrix column -> feature group): record which groups set each
    segment apart (validation.group_drivers); ``scaling`` (validation.GroupMatrix.scaling of
    ``matrix``): record how raw features map into the matrix, so a live visitor can be assigned
    (segrec.segmentation.online). ``kmeans_factory`` and ``tree_factory`` (:func:`kmeans_factory_for`,
    :func:`tree_factory_for`) cluster and explain a refit: in this process or on Spark (a Spark run
    records ``ml_engine`` in its parameters and so has its own run_id); a kept model's nearest-centroid
    assignment and its metrics are computed here on either engine."""
    if len(matrix) < min_customers(config):
        return None
    if len(matrix.drop_duplicates()) < config.k_min + 1:
        return None  # every clustering feature (nearly) constant: no structure to find
    if previous is not None and not isinstance(previous, SegmentationRun):
        previous = SegmentationRun.from_record(previous)
    matrix = matrix.sort_index()
    readable = readable.reindex(matrix.index)
    features = list(matrix.columns)
    run_id = model_version(matrix, config.fit_params() | kmeans_factory.engine_params)
    if previous is not None and previous.run_id == run_id and not config.force_refit:
        # same data, same parameters: the same run (its scaling recorded if it was stored without)
        return replace(previous, feature_scaling=previous.feature_scaling or scaling_records(scaling, features))

    X = as_matrix(matrix)
    prev_labels = _previous_labels(previous)
    kept = None
    if previous is not None and not config.force_refit and previous.feature_names == features:
        kept = _score_with_previous_centroids(X, matrix, previous, prev_labels, config)
        decision = should_refit(
            kept.metrics["silhouette"], kept.stability,
            min_silhouette=config.min_silhouette, min_stability=config.min_stability,
        )
    elif previous is None:
        decision = should_refit(None, None, has_model=False)
    elif config.force_refit:
        decision = should_refit(None, None, force=True)
    else:
        decision = RefitDecision(True, "the feature columns changed")

    if decision.refit:
        run = _refit(X, matrix, readable, previous, prev_labels, config, value_features, feature_groups,
                     kmeans_factory=kmeans_factory, tree_factory=tree_factory)
    else:
        run = kept
    xy = project_2d(X, random_state=config.random_state)
    labels = pd.Series(run.segment_ids, index=matrix.index)
    stab = stability(prev_labels, labels) if prev_labels is not None else None
    return SegmentationRun(
        run_id=run_id,
        data_version=data_version(matrix),
        model_version=run.model_version,
        previous_run_id=None if previous is None else previous.run_id,
        scored_at=scored_at,
        algorithm=config.algorithm,
        is_refit=decision.refit,
        refit_reason=decision.reason,
        n_clusters=int(len(run.segments)),
        n_customers=int(len(matrix)),
        silhouette=_float(run.metrics.get("silhouette")),
        calinski_harabasz=_float(run.metrics.get("calinski_harabasz")),
        davies_bouldin=_float(run.metrics.get("davies_bouldin")),
        noise_share=_float(run.metrics.get("noise_share", 0.0)),
        stability_vs_previous=_float(stab),
        tree_fidelity=_float(run.tree_fidelity),
        parameters=json.dumps({**config.fit_params(), **run.params}, sort_keys=True, default=str),
        feature_names=features,
        centroid_segment_ids=[int(s) for s in run.centroids.index],
        centroids=run.centroids.to_numpy(dtype=float).tolist(),
        k_selection=run.k_selection,
        segments=run.segments,
        customer_keys=list(matrix.index),
        segment_ids=[int(s) for s in run.segment_ids],
        confidences=[float(c) for c in run.confidences],
        pca_x=xy[:, 0].tolist(),
        pca_y=xy[:, 1].tolist(),
        rule_segments=[_labels(labels) for labels in rule_segments.reindex(matrix.index)],
        feature_scaling=scaling_records(scaling, features),
    )


def scaling_records(scaling: pd.DataFrame | None, features: Sequence[str]) -> list[dict[str, Any]]:
    """``scaling`` as one dict per feature of ``features`` (the run's column order); [] without."""
    if scaling is None:
        return []
    rows = scaling.reindex(list(features))
    if rows.isna().any(axis=None):
        raise SegrecError(f"scaling_records: no scaling for {sorted(rows.index[rows.isna().any(axis=1)])}")
    return [{"feature": name, **{c: (bool(v) if c == "is_log" else float(v)) for c, v in row.items()}}
            for name, row in rows.iterrows()]


def _labels(value: Any) -> list[str]:
    """A customer's rule segment names as a list (none: a customer missing from the rules)."""
    return [] if value is None or isinstance(value, float) else [str(label) for label in value]


@dataclass(frozen=True)
class _SegmentModel:
    """The model a run scores with: refitted, or the previous run's centroids kept."""

    model_version: str
    params: dict[str, Any]
    metrics: dict[str, float]
    centroids: pd.DataFrame  # one row per segment id, in the scaled feature space
    segment_ids: np.ndarray
    confidences: np.ndarray
    segments: list[dict[str, Any]]
    k_selection: list[dict[str, Any]]
    tree_fidelity: float | None
    stability: float | None = None  # against the previous run (kept models only)


def _float(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def _previous_labels(previous: SegmentationRun | None) -> pd.Series | None:
    if previous is None:
        return None
    return pd.Series(previous.segment_ids, index=previous.customer_keys)


def _previous_centroids(previous: SegmentationRun) -> pd.DataFrame:
    return pd.DataFrame(
        previous.centroids, index=previous.centroid_segment_ids, columns=previous.feature_names
    )


def _score_with_previous_centroids(
    X: np.ndarray, matrix: pd.DataFrame, previous: SegmentationRun, prev_labels: pd.Series,
    config: SegmentationConfig,
) -> _SegmentModel:
    centroids = _previous_centroids(previous)
    segment_ids = assign_to_nearest(matrix, centroids)
    positions = pd.Index(centroids.index).get_indexer(segment_ids)
    metrics = cluster_metrics(X, positions, centroids.to_numpy(), config.silhouette_sample_size, config.random_state)
    return _SegmentModel(
        model_version=previous.model_version,
        params={"assigned_to": previous.model_version},
        metrics=metrics,
        stability=stability(prev_labels, pd.Series(segment_ids, index=matrix.index)),
        centroids=centroids,
        segment_ids=segment_ids,
        confidences=assignment_confidence(X, centroids.to_numpy(), positions),
        segments=previous.segments,
        k_selection=previous.k_selection,
        tree_fidelity=previous.tree_fidelity,
    )


def _refit(
    X: np.ndarray, matrix: pd.DataFrame, readable: pd.DataFrame, previous: SegmentationRun | None,
    prev_labels: pd.Series | None, config: SegmentationConfig,
    value_features: pd.DataFrame | None = None, feature_groups: Mapping[str, str] | None = None,
    *, kmeans_factory: KMeansFactory, tree_factory: TreeFactory,
) -> _SegmentModel:
    result = fit_segmentation(
        matrix, config.algorithm, config.n_clusters,
        k_range=range(config.k_min, config.k_max + 1), sample_size=config.silhouette_sample_size,
        random_state=config.random_state, n_init=config.n_init, min_samples=config.min_samples,
        kmeans_factory=kmeans_factory,
    )
    cluster_ids = [int(c) for c in result.centroids.index]
    if previous is None:
        segment_of = {c: c + 1 for c in cluster_ids}  # segment ids start at 1
        fixed_names: dict[int, str] = {}
    else:
        mapping = match_clusters(_previous_centroids(previous), result.centroids)
        next_id = max([0, *previous.centroid_segment_ids]) + 1
        segment_of = assign_segment_ids(cluster_ids, mapping, next_id)
        previous_names = {s["segment_id"]: s["segment_name"] for s in previous.segments}
        fixed_names = {c: previous_names[p] for c, p in mapping.items() if p in previous_names}
    segment_of[NOISE] = NOISE

    columns = _descriptive_columns(readable)
    if value_features is None:
        names = name_segments(readable, result.labels, columns=columns, fixed_names=fixed_names)
    else:
        labels = pd.Series(result.labels, index=matrix.index)
        names = name_value_segments(value_features.reindex(matrix.index), labels).assign(archetype=None)
        names["segment_name"] = _with_fixed_names(names["segment_name"], fixed_names)
    drivers = _drivers(matrix, feature_groups, result.labels)
    rules = explain_segments(readable, result.labels, max_depth=config.tree_max_depth, random_state=config.random_state,
                             columns=columns, sample_size=config.tree_sample_size, tree_factory=tree_factory)
    sizes = pd.Series(result.labels).value_counts()
    segments = [
        {
            "segment_id": int(segment_of[c]),
            "cluster_id": int(c),
            "segment_name": str(names.loc[c, "segment_name"]),
            "description": str(names.loc[c, "description"]),
            "archetype": None if pd.isna(names.loc[c, "archetype"]) else str(names.loc[c, "archetype"]),
            "rules": str(rules.by_segment.get(c, "")),
            "drivers": drivers.get(c),
            "n_customers": int(sizes.get(c, 0)),
        }
        for c in sorted(set(result.labels.tolist()))
    ]
    positions = pd.Index(result.centroids.index).get_indexer(result.labels)
    centroids = result.centroids.copy()
    centroids.index = [segment_of[int(c)] for c in centroids.index]
    selection = [] if result.selection is None else result.selection.table.to_dict("records")
    return _SegmentModel(
        model_version=result.model_version,
        params=result.params,
        metrics=result.metrics,
        centroids=centroids,
        segment_ids=np.array([segment_of[int(c)] for c in result.labels]),
        confidences=assignment_confidence(X, result.centroids.to_numpy(), positions),
        segments=segments,
        k_selection=[{k: _float(v) for k, v in row.items()} for row in selection],
        tree_fidelity=rules.fidelity,
    )


def _with_fixed_names(names: pd.Series, fixed_names: Mapping[int, str]) -> pd.Series:
    """``names`` (by cluster) with the matched clusters' previous names, as name_segments keeps
    them; another cluster whose name is then taken gets the next free numeral ("... 2")."""
    out = names.copy()
    for cluster, name in fixed_names.items():
        if cluster in out.index:
            out[cluster] = name
    taken = {out[c] for c in fixed_names if c in out.index}
    for cluster in out.index:
        if cluster in fixed_names:
            continue
        name, n = out[cluster], 1
        while name in taken:
            n += 1
            name = f"{out[cluster]} {n}"
        out[cluster] = name
        taken.add(name)
    return out


def _drivers(matrix: pd.DataFrame, feature_groups: Mapping[str, str] | None, labels: np.ndarray) -> dict[int, str]:
    """Per cluster, the feature groups that set it apart, strongest first ("value 1.42, taste 0.31":
    mean |z| of the cluster's averages on the group's features); empty without feature groups."""
    if not feature_groups:
        return {}
    table = group_drivers(matrix, feature_groups, labels)
    return {
        int(c): ", ".join(f"{group} {value:.2f}" for group, value in row.sort_values(ascending=False).items())
        for c, row in table.iterrows()
    }


SCALING_STRUCT = pa.struct([("feature", pa.string()),
                            *((c, pa.bool_() if c == "is_log" else pa.float64()) for c in SCALING_COLUMNS)])
SEGMENT_STRUCT = pa.struct([
    ("segment_id", pa.int64()), ("cluster_id", pa.int64()), ("segment_name", pa.string()),
    ("description", pa.string()), ("archetype", pa.string()), ("rules", pa.string()),
    ("drivers", pa.string()), ("n_customers", pa.int64()),
])
K_STRUCT = pa.struct([
    ("k", pa.float64()), ("silhouette", pa.float64()), ("calinski_harabasz", pa.float64()),
    ("davies_bouldin", pa.float64()), ("inertia", pa.float64()),
])
RUN_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("data_version", pa.string()), ("model_version", pa.string()),
    ("previous_run_id", pa.string()), ("scored_at", pa.timestamp("us")), ("algorithm", pa.string()),
    ("is_refit", pa.bool_()), ("refit_reason", pa.string()), ("n_clusters", pa.int64()),
    ("n_customers", pa.int64()), ("silhouette", pa.float64()), ("calinski_harabasz", pa.float64()),
    ("davies_bouldin", pa.float64()), ("noise_share", pa.float64()), ("stability_vs_previous", pa.float64()),
    ("tree_fidelity", pa.float64()), ("parameters", pa.string()), ("feature_names", pa.list_(pa.string())),
    ("centroid_segment_ids", pa.list_(pa.int64())), ("centroids", pa.list_(pa.list_(pa.float64()))),
    ("k_selection", pa.list_(K_STRUCT)), ("segments", pa.list_(SEGMENT_STRUCT)),
    ("customer_keys", pa.list_(pa.string())), ("segment_ids", pa.list_(pa.int64())),
    ("confidences", pa.list_(pa.float64())), ("pca_x", pa.list_(pa.float64())), ("pca_y", pa.list_(pa.float64())),
    ("rule_segments", pa.list_(pa.list_(pa.string()))),
    ("feature_scaling", pa.list_(SCALING_STRUCT)),
])


def run_table(runs: Sequence[SegmentationRun]) -> pa.Table:
    """Runs as an Arrow table with the fixed schema of ``int_segmentation__model_runs``."""
    rows = [run.to_record() for run in runs]
    for row in rows:
        row["k_selection"] = [{k: r.get(k) for k in K_STRUCT.names} for r in row["k_selection"] or []]
    return pa.Table.from_pylist(rows, schema=RUN_SCHEMA)


# The dbt incremental strategies of int_segmentation__model_runs (by target, _segmentation__models.yml)
# under which the model's result replaces the whole table: dbt-spark's insert_overwrite (local Spark:
# Parquet tables have neither merge nor delete). The model then returns every stored run as well, so
# the table keeps the history that delete+insert (DuckDB) and merge on run_id (Databricks) keep.
OVERWRITE_STRATEGIES = frozenset({"insert_overwrite"})


def runs_to_write(
    record: SegmentationRun | None, incremental_strategy: str | None, stored: pa.Table | None = None,
) -> pa.Table:
    """What ``int_segmentation__model_runs`` returns: its run (none when :func:`run_segmentation`
    recorded none), which replaces a stored run of the same run_id (delete+insert, merge). Under a
    strategy that overwrites the table (:data:`OVERWRITE_STRATEGIES`) the ``stored`` runs (the
    table as the build found it) come too, but the one of the run's run_id: the same rows
    delete+insert leaves, so a return to an earlier run's input (runs A, B, then A's input again)
    makes A the latest run on every engine. Stored columns missing from an older table are null."""
    new = run_table([] if record is None else [record])
    if incremental_strategy not in OVERWRITE_STRATEGIES or stored is None:
        return new
    kept = pa.table({
        name: stored[name] if name in stored.column_names else pa.nulls(stored.num_rows, RUN_SCHEMA.field(name).type)
        for name in RUN_SCHEMA.names
    }).cast(RUN_SCHEMA)
    if record is not None:
        kept = kept.filter(pc.not_equal(kept["run_id"], record.run_id))
    return pa.concat_tables([kept, new])
