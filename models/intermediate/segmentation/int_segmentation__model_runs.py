"""One row per segmentation run: metrics, parameters, centroids and every customer's
assignment as aligned lists (segrec.segmentation.pipeline). Appends a row when the features
or parameters change; the same input leaves the table as it is. Read through the marts
segmentation_runs, customer_segments, segment_transitions and segment_profiles.

When the temporal hold-out chose a feature set and k (int_segmentation__candidates), the run
clusters the features of now (int_customers__value_features) with them; else the SQL matrix of
var clustering_features with k by silhouette. A refit clusters and explains by scikit-learn or
Spark (var ml_engine)."""

import pandas as pd

from segrec.engine import query, to_output, to_pandas
from segrec.segmentation.pipeline import (
    OVERWRITE_STRATEGIES,
    SegmentationConfig,
    clustering_input,
    kmeans_factory_for,
    min_customers,
    readable_features,
    run_segmentation,
    runs_to_write,
    tree_factory_for,
)


def model(dbt, session):
    # incremental on every target, the strategy by target (_segmentation__models.yml: delete+insert on
    # DuckDB, merge on Databricks, insert_overwrite on local Spark); append_new_columns: a table from before a
    # new column (feature_scaling) keeps its runs
    dbt.config(unique_key="run_id", on_schema_change="append_new_columns")
    strategy = dbt.config.get("incremental_strategy")
    value_features = dbt.ref("int_customers__value_features")  # a lazy relation: read only if a set was chosen
    clustered = clustering_input(
        to_pandas(dbt.ref("int_customers__feature_matrix")), to_pandas(dbt.ref("int_segmentation__candidates")),
        lambda: to_pandas(value_features), dbt.config.get("value_weight"),
    )
    if clustered.note:
        print(f"segmentation: {clustered.note}")
    matrix, chosen = clustered.matrix, clustered.chosen
    readable = readable_features(
        to_pandas(dbt.ref("int_customers__features")), to_pandas(dbt.ref("int_customers__category_affinities"))
    )
    rules = to_pandas(dbt.ref("int_customers__rule_segments")).set_index("customer_key")["rule_segments"]

    previous, stored = None, None
    if dbt.is_incremental:
        rows = query(session, f"select * from {dbt.this} order by scored_at desc limit 1").to_pylist()
        previous = rows[0] if rows else None
        if strategy in OVERWRITE_STRATEGIES:  # the result replaces the table: the stored runs come along
            stored = query(session, f"select * from {dbt.this}")

    config = SegmentationConfig(
        algorithm=dbt.config.get("algorithm"),
        n_clusters=None if chosen is None else int(chosen["k"]),
        feature_set=None if chosen is None else chosen["feature_set"],
        k_min=dbt.config.get("k_min"),
        k_max=dbt.config.get("k_max"),
        silhouette_sample_size=dbt.config.get("silhouette_sample_size"),
        random_state=dbt.config.get("random_state"),
        n_init=dbt.config.get("n_init"),
        force_refit=dbt.config.get("force_refit"),
        min_silhouette=dbt.config.get("min_silhouette"),
        min_stability=dbt.config.get("min_stability"),
        tree_max_depth=dbt.config.get("tree_max_depth"),
        tree_sample_size=dbt.config.get("tree_sample_size"),
    )
    ml_engine, spark_ml = dbt.config.get("ml_engine"), dbt.config.get("spark_ml")
    scored_at = pd.Timestamp.now("UTC").tz_localize(None)
    record = run_segmentation(
        matrix, readable, rules, previous, config, scored_at=scored_at,
        value_features=clustered.value_features, feature_groups=clustered.feature_groups,
        scaling=clustered.scaling, kmeans_factory=kmeans_factory_for(ml_engine, session, spark_ml),
        tree_factory=tree_factory_for(ml_engine, session, spark_ml),
    )
    if record is None:  # too few customers or no variation: no run is recorded (the marts stay empty)
        needed = min_customers(config)
        print(f"segmentation: {len(matrix)} customers, at least {needed} with varied features needed: no run")
    return to_output(runs_to_write(record, strategy, stored), session)
