"""Model tracking (segrec.model_fits, `segrec track`): the rows of the mart model_fits read
back, turned into MLflow parameters and metrics, logged once to a local MLflow file store (when
the tracking extra is installed) and the data versions of the fits. The fits of a real build
and their reproduction are tested in test_dbt_recommendations.py, which builds model_fits."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from segrec import model_fits
from segrec.cli import main
from segrec.clv.scoring import summary_data_version
from segrec.errors import SegrecError
from segrec.model_fits import FIT_ID_TAG, ModelFit, flat_params, log_fits, numeric_metrics, read_fits
from segrec.segmentation.fit import data_version, model_version

FITS = pd.DataFrame({
    "fit_id": ["segmentation:s1", "als:a1", "ranker:r1", "customer_value:c1"],
    "model_kind": ["segmentation", "als", "ranker", "customer_value"],
    "model_version": ["s1", "a1", "r1", "c1"],
    "data_version": ["ds", "da", "dr", "dc"],
    "parameters": [json.dumps({"algorithm": "kmeans", "k_range": [2, 3], "n_clusters": 3}),
                   json.dumps({"factors": 2, "alpha": 1.0, "random_state": 0}),
                   json.dumps({"model": "ensemble", "shortlist": None, "cutoff": "test"}),
                   json.dumps({"r": 0.5, "penalizer": 0.0})],
    "metrics": [json.dumps({"silhouette": 0.41, "stability_vs_previous": None, "n_clusters": 3}),
                json.dumps({"validation_ndcg_at_10": float("nan"), "validation_users": 12}),
                json.dumps({"ranker_blended.ndcg_at_10": 0.2}), json.dumps({"n_scored_customers": 40})],
    "artifact": [json.dumps({"feature_names": ["x", "y"], "centroid_segment_ids": [1, 2],
                             "centroids": [[0.0, 1.0], [1.0, 0.0]]}),
                 json.dumps({"tables": ["recommendation_user_factors", "recommendation_item_factors"]}), None, None],
    "fitted_at": pd.to_datetime(["2026-06-01 10:00", "2026-06-02 10:00", "2026-06-02 10:00", "2026-06-02 10:00"]),
})


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """A warehouse holding model_fits and the ALS factor marts of one fit (and one of another)."""
    path = tmp_path / "warehouse.duckdb"
    factors = pd.DataFrame({"model_version": ["a1", "a1", "old"], "factors": [[0.1, 0.2], [0.3, 0.4], [9.0, 9.0]]})
    with duckdb.connect(str(path)) as con:
        con.register("fits", FITS)
        con.sql("create table model_fits as select * from fits")
        for table, key in (("recommendation_user_factors", "customer_key"), ("recommendation_item_factors",
                                                                              "product_id")):
            con.register("factors", factors.assign(**{key: ["k1", "k2", "k3"]}))
            con.sql(f"create table {table} as select * from factors")
    return path


def test_read_fits_parses_the_json_columns(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        fits = read_fits(con)
        assert [f.fit_id for f in fits] == ["segmentation:s1", "als:a1", "customer_value:c1", "ranker:r1"]
        segmentation = fits[0]
        assert segmentation.parameters["k_range"] == [2, 3] and segmentation.artifact["centroid_segment_ids"] == [1, 2]
        assert fits[-1].artifact is None
        assert [f.fit_id for f in read_fits(con, "als")] == ["als:a1"]
        with pytest.raises(SegrecError, match="model_kind 'lda'"):
            read_fits(con, "lda")
    with duckdb.connect() as empty, pytest.raises(SegrecError, match="no model_fits table"):
        read_fits(empty)


def test_parameters_and_metrics_become_mlflow_names_and_values():
    assert flat_params({"als": {"factors": 2, "grid": [1, 2]}, "shortlist": None, "name": "x", "a@b": 1.5}) == {
        "als.factors": "2", "als.grid": "[1, 2]", "shortlist": "null", "name": "x", "a_b": "1.5"}
    assert len(flat_params({"long": "x" * 10_000})["long"]) == model_fits.MAX_PARAM_LENGTH
    # null, NaN and text are not metrics; whole numbers are
    metrics = {"a": 0.5, "b": None, "c": float("nan"), "d": 3, "e": "x", "f": True}
    assert numeric_metrics(metrics) == {"a": 0.5, "d": 3.0}


def test_track_without_a_uri_says_so_and_logs_nothing(warehouse, monkeypatch, capsys):
    monkeypatch.delenv(model_fits.MLFLOW_URI_ENV, raising=False)
    assert main(["track", "--db", str(warehouse)]) == 0
    assert "SEGREC_MLFLOW_URI is not set" in capsys.readouterr().out


def test_track_with_a_uri_but_without_mlflow_is_an_error(warehouse, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(model_fits, "mlflow_unavailable", lambda: "mlflow is not installed: pip install ...")
    assert main(["track", "--db", str(warehouse), "--uri", str(tmp_path / "mlruns")]) == 2
    assert "mlflow is not installed" in capsys.readouterr().err


def test_a_folder_is_a_file_store_and_a_uri_stays_as_it_is(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "")  # so that monkeypatch restores it afterwards
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    assert model_fits.tracking_uri(str(tmp_path / "mlruns")) == (tmp_path / "mlruns").as_uri()
    assert model_fits.os.environ["MLFLOW_ALLOW_FILE_STORE"] == "true"  # naming a folder is the opt-in
    for uri in ("http://127.0.0.1:5000", "databricks", "file:///tmp/mlruns"):
        assert model_fits.tracking_uri(uri) == uri


def mlflow_client(uri: str):
    """An MlflowClient on ``uri``; skips the test without the tracking extra."""
    reason = model_fits.mlflow_unavailable()
    if reason:
        pytest.skip(f"{reason}: the tracking extra is optional (make test installs it)")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=model_fits.tracking_uri(uri))


def test_log_fits_logs_each_fit_once_with_its_artifacts(warehouse, tmp_path, capsys):
    store = str(tmp_path / "mlruns")
    client = mlflow_client(store)
    first = log_fits(warehouse, store)
    assert sorted(first.logged) == sorted(FITS["fit_id"]) and first.already_logged == []
    again = log_fits(warehouse, store)  # idempotent: the fit_id tag says what is there
    assert again.logged == [] and sorted(again.already_logged) == sorted(FITS["fit_id"])
    assert main(["track", "--db", str(warehouse), "--uri", store]) == 0
    assert "0 fit(s) logged" in capsys.readouterr().out

    experiment = client.get_experiment_by_name(model_fits.EXPERIMENT).experiment_id
    runs = {run.data.tags[FIT_ID_TAG]: run for run in client.search_runs([experiment])}
    assert sorted(runs) == sorted(FITS["fit_id"])
    als = runs["als:a1"]
    assert als.data.params["factors"] == "2" and als.data.params["data_version"] == "da"
    assert als.data.metrics == {"validation_users": 12.0}  # the untried NaN score is left out
    assert als.data.tags["segrec.model_kind"] == "als" and als.info.status == "FINISHED"
    assert runs["segmentation:s1"].data.metrics == {"silhouette": 0.41, "n_clusters": 3.0}
    assert runs["segmentation:s1"].info.start_time == int(pd.Timestamp("2026-06-01 10:00").timestamp() * 1000)

    folder = Path(client.download_artifacts(als.info.run_id, "", str(tmp_path / "als")))
    assert sorted(p.name for p in folder.iterdir()) == [
        "fit.json", "recommendation_item_factors.parquet", "recommendation_user_factors.parquet"]
    user = pd.read_parquet(folder / "recommendation_user_factors.parquet")
    assert user["customer_key"].tolist() == ["k1", "k2"]  # this fit's factors only
    record = json.loads((folder / "fit.json").read_text())
    assert record["data_version"] == "da" and record["parameters"]["random_state"] == 0
    centroids = Path(client.download_artifacts(runs["segmentation:s1"].info.run_id, "fit.json", str(tmp_path / "s")))
    assert json.loads(centroids.read_text())["artifact"]["centroids"] == [[0.0, 1.0], [1.0, 0.0]]


def test_a_failed_log_is_marked_failed_and_logged_again(warehouse, tmp_path, monkeypatch):
    store = str(tmp_path / "mlruns")
    client = mlflow_client(store)

    def broken(con, fit: ModelFit, folder: Path):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(model_fits, "write_artifacts", broken)
        with pytest.raises(OSError, match="disk full"):
            log_fits(warehouse, store)
    assert len(log_fits(warehouse, store).logged) == len(FITS)  # the failed run does not count
    experiment = client.get_experiment_by_name(model_fits.EXPERIMENT).experiment_id
    statuses = sorted(run.info.status for run in client.search_runs([experiment]))
    assert statuses == ["FAILED"] + ["FINISHED"] * len(FITS)


def test_segmentation_data_version_is_the_matrix_alone():
    matrix = pd.DataFrame({"x": [0.0, 1.0, 2.0], "y": [1.0, 0.5, 0.0]}, index=["a", "b", "c"])
    params = {"algorithm": "kmeans", "n_clusters": 2}
    assert data_version(matrix) == data_version(matrix.copy())
    assert model_version(matrix, params) != model_version(matrix, params | {"n_clusters": 3})
    changed = matrix.copy()
    changed.iloc[0, 0] = 0.5
    assert data_version(changed) != data_version(matrix)
    assert data_version(matrix.rename(index={"a": "z"})) != data_version(matrix)  # another customer
    assert data_version(matrix + 1e-12) == data_version(matrix)  # the last bits of a parallel sum


def test_customer_value_data_version_is_the_summary_in_customer_order():
    summary = pd.DataFrame({"customer_key": ["b", "a"], "frequency": [1.0, 0.0], "recency": [3.0, 0.0],
                            "T": [10.0, 4.0], "monetary_value": [5.0, 0.0]})
    version = summary_data_version(summary)
    assert version == summary_data_version(summary.iloc[::-1])
    assert version != summary_data_version(summary.assign(T=[10.0, 5.0]))
    assert len(version) == 16 and np.issubdtype(summary["T"].dtype, np.floating)
