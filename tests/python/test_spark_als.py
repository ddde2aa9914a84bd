"""ALS on Spark (segrec.recommend.spark_als.SparkALS, dbt var ml_engine: spark): planted structure
recovered, factors aligned with the matrix's keys, reproducible, recorded as a Spark fit, and the
dbt model wired to it. The tests that train need pyspark and Java (conftest.spark_session, one
local session for the run) and skip, saying why, without them; the parameter checks run anywhere."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from segrec import engine
from segrec.errors import SegrecError
from segrec.recommend import ALSRecommender, build_interaction_matrix
from segrec.recommend.pipeline import als_factory_for, model_version
from segrec.recommend.spark_als import SparkALS, factor_rows, ratings_table

from .dbt_harness import FakeDbt, load_model
from .test_recommend import planted_blocks

# small and quick: two blocks, few sweeps, few Spark partitions
FAST = {"factors": 2, "regularization": 0.01, "alpha": 10.0, "iterations": 6, "blocks": 2}


class NotASession:
    """Stands in for a SparkSession where fit must stop before Spark is asked anything."""

    def createDataFrame(self, *args, **kwargs):  # noqa: N802 (Spark's name)
        raise AssertionError("Spark was asked")


@pytest.fixture
def fit_spark(spark_session, tmp_path):
    def fit(matrix, **params):
        estimator = SparkALS(session=spark_session, checkpoint_dir=str(tmp_path / "checkpoints"), **(FAST | params))
        return estimator.fit(matrix)

    return fit


# ---------------------------------------------------------------------------- without Spark
@pytest.mark.parametrize("params, message", [
    ({"factors": 0}, "out of range"),
    ({"alpha": 0.0}, "out of range"),
    ({"regularization": -1.0}, "out of range"),
    ({"factors": 2.5}, "whole numbers"),
    ({"iterations": True}, "whole numbers"),
    ({"blocks": 0}, "blocks must be >= 1"),
    ({"checkpoint_interval": 0}, "checkpoint_interval"),
    ({"checkpoint_dir": ""}, "checkpoint_dir is required"),
])
def test_spark_als_refuses_bad_parameters_before_spark(params, message):
    estimator = SparkALS(session=NotASession(), **({"checkpoint_dir": "/tmp/unused", "factors": 2} | params))
    with pytest.raises(SegrecError, match=message):
        estimator.fit(build_interaction_matrix(planted_blocks()))


def test_spark_als_refuses_what_is_not_a_spark_session():
    with pytest.raises(SegrecError, match="must be a SparkSession"):
        SparkALS(session=duckdb.connect(), checkpoint_dir="/tmp/unused").fit(build_interaction_matrix(planted_blocks()))


def test_an_empty_matrix_gives_zero_factors_recorded_as_spark_without_asking_spark():
    empty = build_interaction_matrix(pd.DataFrame({"customer_key": ["a", "b"], "product_id": ["p", "q"],
                                                   "weight": [0.0, 0.0]}))
    als = SparkALS(session=NotASession(), checkpoint_dir="/tmp/unused", factors=3).fit(empty)
    assert als.user_factors_.shape == (2, 3) and not als.user_factors_.any() and not als.item_factors_.any()
    assert als.get_params()["ml_engine"] == "spark"


def test_ratings_and_factor_rows_follow_the_matrix_positions():
    matrix = build_interaction_matrix(pd.DataFrame({"customer_key": ["b", "a", "b"], "product_id": ["q", "p", "p"],
                                                    "weight": [2.0, 1.0, 3.0]}), customer_keys=["c"])
    ratings = ratings_table(matrix).to_pandas()
    # rows a, b, c and columns p, q: sorted keys
    assert sorted(map(tuple, ratings.to_numpy().tolist())) == [(0, 0, 1.0), (1, 0, 3.0), (1, 1, 2.0)]
    factors = pa.table({"id": pa.array([1, 0], pa.int32()),
                        "features": pa.array([[1.0, 2.0], [3.0, 4.0]], pa.list_(pa.float32()))})
    np.testing.assert_array_equal(factor_rows(factors, 3, 2), [[3.0, 4.0], [1.0, 2.0], [0.0, 0.0]])


def test_local_fits_keep_their_parameters_and_implicit_refuses_spark_factors():
    local = ALSRecommender(factors=2)
    assert "ml_engine" not in local.get_params()  # local model versions stay what they were
    with pytest.raises(SegrecError, match="SparkALS"):
        ALSRecommender(factors=2, ml_engine="spark").fit(build_interaction_matrix(planted_blocks()))


def test_ml_engine_picks_the_trainer_and_says_why_spark_cannot_start(monkeypatch):
    assert als_factory_for("local") is ALSRecommender
    with pytest.raises(SegrecError, match="var ml_engine"):
        als_factory_for("gpu")
    with pytest.raises(SegrecError, match="unknown key"):
        als_factory_for("spark", None, {"checkpoint": "x"})
    monkeypatch.setattr(engine, "spark_unavailable", lambda: "no Java runtime (test)")
    with pytest.raises(SegrecError, match="ml_engine spark: no Java runtime"):
        als_factory_for("spark", duckdb.connect(), {})


# ---------------------------------------------------------------------------- on Spark
@pytest.mark.spark
def test_spark_als_recovers_planted_blocks(fit_spark):
    matrix = build_interaction_matrix(planted_blocks())
    model = fit_spark(matrix, random_state=3)
    assert isinstance(model, ALSRecommender)
    scores = model.score(np.arange(matrix.n_users))
    own = np.array([int(key[1:]) % 2 for key in matrix.customer_keys])
    item_block = np.array([int(pid[1:]) >= 20 for pid in matrix.product_ids]).astype(int)
    # every user scores each item of their own block above each item of the other block
    mine = np.where(item_block[None, :] == own[:, None], scores, np.inf).min(axis=1)
    theirs = np.where(item_block[None, :] != own[:, None], scores, -np.inf).max(axis=1)
    assert (mine > theirs).all()


@pytest.mark.spark
def test_spark_factors_follow_the_matrix_keys_and_cold_rows_are_zero(fit_spark, spark_session, tmp_path):
    matrix = build_interaction_matrix(planted_blocks(), customer_keys=["zz_cold"], product_ids=["zz_new"])
    model = fit_spark(matrix, random_state=3)
    users, items = model.user_factors_frame(), model.item_factors_frame()
    assert users["customer_key"].tolist() == list(matrix.customer_keys)
    assert items["product_id"].tolist() == list(matrix.product_ids)
    assert (users.set_index("customer_key").loc["zz_cold"] == 0).all()  # no evidence, no preference
    assert (items.set_index("product_id").loc["zz_new"] == 0).all()
    assert np.abs(model.user_factors_[:-1]).sum(axis=1).min() > 0  # every customer with a history has factors
    assert spark_session.sparkContext.getCheckpointDir().startswith(f"file:{tmp_path / 'checkpoints'}")


@pytest.mark.spark
def test_spark_als_is_reproducible_and_recorded_as_a_spark_fit(fit_spark):
    matrix = build_interaction_matrix(planted_blocks())
    first, again, other = (fit_spark(matrix, random_state=seed) for seed in (11, 11, 12))
    np.testing.assert_array_equal(first.user_factors_, again.user_factors_)
    np.testing.assert_array_equal(first.item_factors_, again.item_factors_)
    assert not np.allclose(first.item_factors_, other.item_factors_)
    params = first.get_params()
    assert params == {"factors": 2, "regularization": 0.01, "alpha": 10.0, "iterations": 6, "random_state": 11,
                      "ml_engine": "spark"}
    local = ALSRecommender(**{k: v for k, v in params.items() if k != "ml_engine"}).fit(matrix)
    assert model_version(matrix, first.get_params()) != model_version(matrix, local.get_params())


@pytest.mark.spark
def test_the_serving_als_model_trains_on_spark_when_ml_engine_says_so(spark_session, tmp_path):
    """int_recommendation__als_factors.py on the DuckDB target (refs are DuckDB relations): with
    ml_engine spark it trains in the process's SparkSession (getOrCreate joins the running one)
    and records the fit as Spark's; the same input with ml_engine local is implicit's."""
    interactions = planted_blocks().assign(is_purchased=False, meets_min_activity=True)
    con = duckdb.connect()
    tables = {
        "int_interactions__latest": interactions,
        "int_recommendation__products": pd.DataFrame({"cutoff": "latest",
                                                      "product_id": sorted(interactions["product_id"].unique())}),
        "int_recommendation__customers": pd.DataFrame({"customer_key": sorted(interactions["customer_key"].unique())}),
        "int_recommendation__als_grid": pd.DataFrame([{"factors": 2, "regularization": 0.01, "alpha": 10.0,
                                                       "iterations": 6, "is_selected": True}]),
    }
    model = load_model("models/intermediate/recommendations/int_recommendation__als_factors.py")
    config = {"als": {"factors": 2, "regularization": 0.01, "alpha": 10.0, "iterations": 6, "random_state": 0},
              "spark_ml": {"checkpoint_dir": str(tmp_path / "checkpoints")}}
    results = {}
    for ml_engine in ("spark", "local"):
        dbt = FakeDbt(lambda name: con.from_df(tables[name]), config | {"ml_engine": ml_engine})
        results[ml_engine] = model(dbt, con).to_pandas()
    spark, local = results["spark"], results["local"]
    assert json.loads(spark["parameters"].iloc[0])["ml_engine"] == "spark"
    assert "ml_engine" not in json.loads(local["parameters"].iloc[0])
    assert spark["data_version"].iloc[0] == local["data_version"].iloc[0]  # the same training input
    assert spark["model_version"].iloc[0] != local["model_version"].iloc[0]  # trained by another engine
    assert len(spark) == len(local) == 120 + 40
