"""The package's defaults are the dbt project's: every parameter dbt_project.yml passes to the
Python code has the same default on the Python side, so calling the package directly behaves
as the build does."""

from __future__ import annotations

import inspect
from dataclasses import asdict, fields
from pathlib import Path

import pytest
import yaml

from segrec.clv import score_customers
from segrec.engine import ML_ENGINES, SPARK_ML_DEFAULTS
from segrec.experiments import analyze_experiment
from segrec.recommend import HybridRecommender
from segrec.recommend.als import ALS_DEFAULTS, ALSRecommender
from segrec.recommend.bias_rerank import RERANK_DEFAULTS
from segrec.recommend.candidates import CandidateConfig
from segrec.recommend.pipeline import holdout_metrics, tune_als
from segrec.recommend.ranker import CandidateRanker
from segrec.recommend.ranker_pipeline import CANDIDATE_KEYS, RANKER_DEFAULTS, RANKER_KEYS, ranker_lists
from segrec.recommend.tuning import DEFAULT_ALS_GRID
from segrec.segmentation.features import DEFAULT_LOG_COLUMNS
from segrec.segmentation.pipeline import SegmentationConfig

PROJECT = Path(__file__).resolve().parents[2] / "dbt_project.yml"


@pytest.fixture(scope="module")
def dbt_vars() -> dict:
    return yaml.safe_load(PROJECT.read_text())["vars"]


def defaults(function) -> dict:
    return {
        name: parameter.default for name, parameter in inspect.signature(function).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }


def test_segmentation_defaults_equal_the_dbt_var(dbt_vars):
    config = asdict(SegmentationConfig())  # nested: validation is a ValidationConfig
    assert dbt_vars["segmentation"] == {name: config[name] for name in dbt_vars["segmentation"]}
    assert list(DEFAULT_LOG_COLUMNS) == dbt_vars["clustering_log_features"]


def test_als_defaults_equal_the_dbt_vars(dbt_vars):
    assert dbt_vars["recommendation_als"] == ALS_DEFAULTS | {"random_state": defaults(ALSRecommender)["random_state"]}
    assert dbt_vars["recommendation_als_grid"] == {name: list(values) for name, values in DEFAULT_ALS_GRID.items()}
    assert {name: defaults(ALSRecommender)[name] for name in ALS_DEFAULTS} == ALS_DEFAULTS


def test_ml_engine_defaults_equal_the_dbt_vars(dbt_vars):
    # local by default: make demo needs no Spark
    assert dbt_vars["ml_engine"] == ML_ENGINES[0] == defaults(ALSRecommender)["ml_engine"] == "local"
    assert dbt_vars["spark_ml"] == SPARK_ML_DEFAULTS


def test_recommendation_defaults_equal_the_dbt_vars(dbt_vars):
    hybrid = defaults(HybridRecommender)
    assert hybrid["n"] == dbt_vars["recommendation_list_length"]
    assert hybrid["max_per_category"] == dbt_vars["recommendation_max_per_category"]
    assert hybrid["trending_window_days"] == dbt_vars["recommendation_trending_window_days"]
    evaluation_cap = dbt_vars["recommendation_evaluation_max_per_category"]
    assert defaults(tune_als)["max_per_category"] == defaults(holdout_metrics)["max_per_category"] == evaluation_cap
    bootstrap = defaults(holdout_metrics)
    assert dbt_vars["recommendation_bootstrap"] == {"n_resamples": bootstrap["n_resamples"],
                                                    "random_state": bootstrap["bootstrap_random_state"]}


def test_ranker_defaults_equal_the_dbt_var(dbt_vars):
    assert dbt_vars["recommendation_ranker"] == RANKER_DEFAULTS
    ranker, candidates = defaults(CandidateRanker), {f.name: f.default for f in fields(CandidateConfig)}
    assert {key: ranker[key] for key in (*RANKER_KEYS, "random_state")} == {
        key: RANKER_DEFAULTS[key] for key in (*RANKER_KEYS, "random_state")}
    assert {key: candidates[key] for key in CANDIDATE_KEYS} == {key: RANKER_DEFAULTS[key] for key in CANDIDATE_KEYS}


def test_rerank_defaults_equal_the_dbt_var(dbt_vars):
    assert dbt_vars["recommendation_rerank"] == RERANK_DEFAULTS
    assert defaults(ranker_lists)["rerank"] is None  # None: RERANK_DEFAULTS, the ranker's order


def test_customer_value_and_experiment_defaults_equal_the_dbt_vars(dbt_vars):
    value = defaults(score_customers)
    assert value["min_repeat_customers"] == dbt_vars["customer_value"]["min_repeat_customers"]
    assert list(value["churn_thresholds"]) == dbt_vars["customer_value"]["churn_thresholds"]
    experiments = defaults(analyze_experiment)
    assert {name: experiments[name] for name in ("confidence", "minimum_effect", "power", "srm_alpha")} == {
        name: dbt_vars["experiments"][name] for name in ("confidence", "minimum_effect", "power", "srm_alpha")
    }
