"""The segmentation on Spark (segrec.segmentation.spark_cluster, dbt var ml_engine: spark): planted
clusters recovered by KMeans and BisectingKMeans with the k the local path chooses, Spark's silhouette
equal to scikit-learn's squared-Euclidean one, explaining trees fitted by Spark read as scikit-learn's,
and the two segmentation dbt models giving the local schema. The tests that fit need pyspark and Java
(conftest.spark_session, one local session for the run) and skip, saying why, without them; the
parameter checks and the tree reading run anywhere."""

from __future__ import annotations

import json
from types import SimpleNamespace

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.tree import DecisionTreeClassifier

from segrec import engine
from segrec.errors import SegrecError
from segrec.segmentation.candidates import CANDIDATE_SCHEMA
from segrec.segmentation.cluster import KMeansSegmenter
from segrec.segmentation.explain import explain_segments
from segrec.segmentation.fit import fit_segmentation
from segrec.segmentation.pipeline import kmeans_factory_for, tree_factory_for
from segrec.segmentation.select import select_k
from segrec.segmentation.spark_cluster import (
    SparkDecisionTree,
    SparkKMeansFactory,
    SparkKMeansSegmenter,
    _tree_arrays,
)

from .dbt_harness import FakeDbt, load_model
from .test_segmentation_candidates import _shop
from .test_spark_als import NotASession

COLUMNS = ["premium_share", "budget_share", "share_mobile"]


def planted(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four well separated blobs in three dimensions, of 40, 30, 20 and 10% of the ``n`` rows (sizes
    differ, so both engines number the clusters alike: 0 the largest), in two pairs far apart:
    BisectingKMeans, which splits both halves of its first split at once, finds them too."""
    sizes = [n * share // 10 for share in (4, 3, 2, 1)]
    centers = np.array([[0.0, 0.0, 0.0], [0.0, 8.0, 0.0], [30.0, 0.0, 0.0], [30.0, 8.0, 0.0]])
    X, truth = make_blobs(n_samples=sizes, centers=centers, cluster_std=0.5, random_state=seed)
    return X, truth


# ---------------------------------------------------------------------------- without Spark
@pytest.mark.parametrize("params, message", [
    ({"method": "kmedoids"}, "method"),
    ({"n_clusters": 2.0}, "whole numbers"),
    ({"n_init": True}, "whole numbers"),
    ({"n_clusters": 0}, "between 1 and"),
    ({"n_init": 0}, "at least 1"),
])
def test_spark_kmeans_refuses_bad_parameters_before_spark(params, message):
    with pytest.raises(SegrecError, match=message):
        SparkKMeansSegmenter(session=NotASession(), **params).fit(planted()[0])


def test_spark_kmeans_refuses_what_is_not_a_spark_session():
    with pytest.raises(SegrecError, match="must be a SparkSession"):
        SparkKMeansSegmenter(session=duckdb.connect(), n_clusters=2).fit(planted()[0])


def test_ml_engine_picks_the_segmentation_learners_and_says_why_spark_cannot_start(monkeypatch):
    assert kmeans_factory_for("local") is KMeansSegmenter and KMeansSegmenter.engine_params == {}
    assert tree_factory_for("local") is DecisionTreeClassifier
    with pytest.raises(SegrecError, match="var ml_engine"):
        kmeans_factory_for("gpu")
    with pytest.raises(SegrecError, match="var spark_ml.clustering"):
        SparkKMeansFactory(session=NotASession(), method="kmedoids")
    assert SparkKMeansFactory(session=NotASession(), method="bisecting_kmeans").engine_params == {
        "ml_engine": "spark", "spark_clustering": "bisecting_kmeans"}
    monkeypatch.setattr(engine, "spark_unavailable", lambda: "no Java runtime (test)")
    for factory_for in (kmeans_factory_for, tree_factory_for):
        with pytest.raises(SegrecError, match="ml_engine spark: no Java runtime"):
            factory_for("spark", duckdb.connect(), {})


def test_a_spark_tree_is_read_as_scikit_learns():
    """A tree in Spark's shape (depth-first nodes, class counts) answers decision_path and predict
    as scikit-learn's tree of the same splits, without Spark."""
    tree = SparkDecisionTree(session=NotASession())
    tree.classes_ = np.array([3, 7])
    # root: x0 <= 0.5 ? (leaf: class 3) : (x1 <= 2 ? leaf class 7 : leaf class 3)
    tree.tree_ = _tree_arrays([(0, 0.5, [6.0, 4.0]), (-1, 0.0, [5.0, 0.0]), (1, 2.0, [1.0, 4.0]),
                               (-1, 0.0, [0.0, 4.0]), (-1, 0.0, [1.0, 0.0])], {0: (1, 2), 2: (3, 4)})
    X = np.array([[0.0, 9.0], [0.5, 0.0], [1.0, 2.0], [1.0, 2.5]])
    assert tree.decision_path(X).toarray().tolist() == [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [1, 0, 1, 1, 0],
                                                        [1, 0, 1, 0, 1]]
    assert tree.predict(X).tolist() == [3, 3, 7, 3]
    one_class = SparkDecisionTree(session=NotASession()).fit(X, np.array([1, 1, 1, 1]))  # Spark not asked
    assert one_class.predict(X).tolist() == [1, 1, 1, 1]


# ---------------------------------------------------------------------------- on Spark
@pytest.mark.spark
@pytest.mark.parametrize("method", ["kmeans", "bisecting_kmeans"])
def test_spark_recovers_planted_clusters_and_its_silhouette_is_the_squared_euclidean_one(spark_session, method):
    X, truth = planted()
    model = SparkKMeansSegmenter(session=spark_session, n_clusters=4, n_init=1, method=method).fit(X)
    assert adjusted_rand_score(truth, model.labels_) == 1.0
    assert np.bincount(model.labels_).tolist() == sorted(np.bincount(model.labels_).tolist(), reverse=True)
    local = KMeansSegmenter(n_clusters=4, random_state=0).fit(X)
    np.testing.assert_allclose(model.centers_, local.centers_)  # the same partition, numbered by size
    np.testing.assert_array_equal(model.predict(X), model.labels_)  # nearest centre, on the driver
    # ClusteringEvaluator: the exact silhouette with squared Euclidean distances, on every row
    assert model.silhouette_ == pytest.approx(silhouette_score(X, model.labels_, metric="sqeuclidean"), abs=1e-9)
    assert model.silhouette_ > silhouette_score(X, model.labels_)  # squaring stretches the gaps


@pytest.mark.spark
def test_spark_chooses_the_local_k_and_records_itself(spark_session):
    X, truth = planted()
    factory = SparkKMeansFactory(session=spark_session)
    spark = select_k(X, range(2, 6), n_init=1, kmeans_factory=factory)
    local = select_k(X, range(2, 6), n_init=1)
    assert spark.k == local.k == 4
    assert spark.table["silhouette"].idxmax() == local.table["silhouette"].idxmax()
    fitted = fit_segmentation(X, "kmeans", 4, n_init=1, kmeans_factory=factory)
    assert adjusted_rand_score(truth, fitted.labels) == 1.0
    assert fitted.params["ml_engine"] == "spark" and fitted.params["spark_clustering"] == "kmeans"
    assert fitted.model_version != fit_segmentation(X, "kmeans", 4, n_init=1).model_version
    assert fitted.metrics["silhouette"] == pytest.approx(silhouette_score(X, fitted.labels, metric="sqeuclidean"))


@pytest.mark.spark
def test_segments_are_explained_by_a_tree_spark_fits(spark_session):
    X, truth = planted()
    readable = pd.DataFrame(X, columns=COLUMNS)
    spark_tree = tree_factory_for("spark", spark_session, {})
    rules = explain_segments(readable, truth, max_depth=3, tree_factory=spark_tree)
    local = explain_segments(readable, truth, max_depth=3)
    assert isinstance(rules.tree, SparkDecisionTree)
    # Spark splits at binned quantile thresholds (scikit-learn between any two values): nearly as faithful
    assert local.fidelity == 1.0 and rules.fidelity >= 0.98
    assert list(rules.leaves.columns) == list(local.leaves.columns)
    assert rules.by_segment.index.tolist() == [0, 1, 2, 3]
    assert (rules.leaves["precision"] >= 0.95).all()
    assert all(rule and "no rule" not in rule for rule in rules.by_segment)


@pytest.mark.spark
def test_the_segmentation_models_on_spark_give_the_local_schema(spark_session):
    """int_segmentation__candidates.py and int_segmentation__model_runs.py on DuckDB relations: with
    ml_engine spark they cluster (and the run explains) in the process's SparkSession; the tables have
    the local path's schema, the run finds the planted clusters and records Spark. (The candidates'
    choice may differ: its silhouette rules read Spark's squared-Euclidean silhouette there.)"""
    features, y = _shop(n=150)
    # value features only: the value and all sets (the behaviour set has nothing), fewer Spark fits
    features = features.drop(columns=["share_morning", "share_afternoon", "conversion_rate", "premium_share"])
    long = features.reset_index().melt(id_vars="customer_key", var_name="feature", value_name="feature_value")
    matrix, _ = planted(n=150)
    keys = pd.Index(features.index, name="customer_key")
    empty_affinities = pa.table({"customer_key": pa.array([], pa.string()), "category_feature": pa.array(
        [], pa.string()), "category_share": pa.array([], pa.float64())})
    tables = {
        "int_segmentation__holdout_window": pd.DataFrame([{"is_enabled": True, "reason": "ok", "horizon_days": 90,
                                                           "cutoff_time": pd.Timestamp("2026-01-01")}]),
        "int_segmentation__holdout_features": long,
        "int_segmentation__holdout_outcomes": pd.DataFrame({"customer_key": keys, "log_next_revenue": y.to_numpy()}),
        "int_customers__feature_matrix": pd.DataFrame(matrix, columns=COLUMNS).assign(customer_key=keys),
        "int_segmentation__candidates": CANDIDATE_SCHEMA.empty_table(),
        "int_customers__value_features": long,
        # readable features: the shop's and the clustered ones, which the trees explain the segments by
        "int_customers__features": features.reset_index().assign(**dict(zip(COLUMNS, matrix.T, strict=True))),
        "int_customers__category_affinities": empty_affinities,
        "int_customers__rule_segments": pd.DataFrame({"customer_key": keys, "rule_segments": [["any"]] * len(keys)}),
    }
    con = duckdb.connect()
    config = {
        "k_min": 2, "k_max": 4, "random_state": 0, "min_silhouette": 0.15, "value_weight": 3.0,
        "silhouette_tolerance": 0.1, "min_segment_share": 0.02, "r2_tolerance": 0.05, "sample_size": 5000,
        "max_customers": 20000, "n_init": 1, "algorithm": "kmeans", "silhouette_sample_size": 20000,
        "force_refit": False, "min_stability": 0.8, "tree_max_depth": 3, "tree_sample_size": 100000, "spark_ml": {},
    }
    results = {}
    for ml_engine in ("spark", "local"):
        dbt = FakeDbt(lambda name: con.from_arrow(t) if isinstance(t := tables[name], pa.Table) else con.from_df(t),
                      config | {"ml_engine": ml_engine})
        dbt.is_incremental = False
        candidates = load_model("models/intermediate/segmentation/int_segmentation__candidates.py")(dbt, con)
        runs = load_model("models/intermediate/segmentation/int_segmentation__model_runs.py")(dbt, con)
        results[ml_engine] = SimpleNamespace(candidates=candidates, runs=runs)
    spark, local = results["spark"], results["local"]
    assert spark.candidates.schema == local.candidates.schema and spark.runs.schema == local.runs.schema
    for result in (spark, local):
        assert result.candidates.filter(result.candidates["is_chosen"]).num_rows == 1
        assert set(result.candidates["feature_set"].to_pylist()) == {"value", "all", None}  # None: the baselines
    spark_run, local_run = spark.runs.to_pylist()[0], local.runs.to_pylist()[0]
    assert spark_run["n_clusters"] == local_run["n_clusters"] == 4
    assert spark_run["segment_ids"] == local_run["segment_ids"]  # numbered by size on both engines
    assert adjusted_rand_score(spark_run["segment_ids"], local_run["segment_ids"]) == 1.0
    assert json.loads(spark_run["parameters"])["ml_engine"] == "spark"
    assert "ml_engine" not in json.loads(local_run["parameters"])
    assert spark_run["run_id"] != local_run["run_id"] and spark_run["data_version"] == local_run["data_version"]
    assert spark_run["tree_fidelity"] >= 0.95 and local_run["tree_fidelity"] >= 0.95
