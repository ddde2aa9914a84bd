"""Model tracking: the fits of a build, as the mart ``model_fits`` records them (one row per
segmentation refit, serving ALS, ranker and customer value fit), logged to MLflow.

The warehouse is the record that always exists; MLflow is optional (the ``tracking`` extra,
``mlflow-skinny``) and reached through ``SEGREC_MLFLOW_URI``. :func:`log_fits` is idempotent:
each MLflow run carries the fit's ``fit_id`` as the tag :data:`FIT_ID_TAG`, and a fit that has a
finished run already is skipped, so `segrec track` after every build logs only the new fits.
docs/tracking.md has the columns and how a fit is reproduced from them.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import duckdb
import pandas as pd

from segrec.errors import SegrecError
from segrec.warehouse import open_warehouse, quote_ident, sql_literal, warehouse_tables

MLFLOW_URI_ENV = "SEGREC_MLFLOW_URI"
EXPERIMENT = "segrec"
FIT_ID_TAG = "segrec.fit_id"
MODEL_KINDS: tuple[str, ...] = ("segmentation", "als", "ranker", "customer_value")
FITS_TABLE = "model_fits"
# The marts holding an ALS fit's factors (model_fits.artifact names them), written as Parquet artifacts.
FACTOR_TABLES: tuple[str, ...] = ("recommendation_user_factors", "recommendation_item_factors")
# MLflow refuses longer parameter values and other characters in names.
MAX_PARAM_LENGTH = 6000
_NAME_CHARACTERS = re.compile(r"[^\w\-. /:]")


@dataclass(frozen=True)
class ModelFit:
    """One row of ``model_fits`` with its JSON columns parsed."""

    fit_id: str
    model_kind: str
    model_version: str
    data_version: str
    parameters: dict[str, Any]
    metrics: dict[str, Any]
    artifact: dict[str, Any] | None
    fitted_at: pd.Timestamp

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ModelFit:
        artifact = record.get("artifact")
        return cls(
            fit_id=str(record["fit_id"]),
            model_kind=str(record["model_kind"]),
            model_version=str(record["model_version"]),
            data_version=str(record["data_version"]),
            parameters=json.loads(record["parameters"]),
            metrics=json.loads(record["metrics"]),
            artifact=None if artifact is None or pd.isna(artifact) else json.loads(artifact),
            fitted_at=pd.Timestamp(record["fitted_at"]),
        )

    def to_record(self) -> dict[str, Any]:
        """The fit as JSON-ready values (the ``fit.json`` artifact)."""
        return {
            "fit_id": self.fit_id, "model_kind": self.model_kind, "model_version": self.model_version,
            "data_version": self.data_version, "parameters": self.parameters, "metrics": self.metrics,
            "artifact": self.artifact, "fitted_at": self.fitted_at.isoformat(),
        }


def read_fits(con: duckdb.DuckDBPyConnection, model_kind: str | None = None) -> list[ModelFit]:
    """The fits of a built warehouse (or its published copy), oldest first."""
    if model_kind is not None and model_kind not in MODEL_KINDS:
        raise SegrecError(f"model_kind {model_kind!r} is not one of {', '.join(MODEL_KINDS)}")
    if FITS_TABLE not in warehouse_tables(con):
        raise SegrecError(f"no {FITS_TABLE} table: build it first (dbt build --select +{FITS_TABLE})")
    where = "" if model_kind is None else f" where model_kind = {sql_literal(model_kind)}"
    frame = con.sql(f"select * from {FITS_TABLE}{where} order by fitted_at, fit_id").df()
    return [ModelFit.from_record(row) for row in frame.to_dict("records")]


def flat_params(parameters: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``parameters`` as MLflow parameters: nested objects flattened to ``outer.inner`` names,
    every value as text (lists and null as JSON), cut to MLflow's longest value."""
    flat: dict[str, str] = {}
    for key, value in parameters.items():
        name = _NAME_CHARACTERS.sub("_", f"{prefix}{key}")
        if isinstance(value, Mapping):
            flat |= flat_params(value, f"{name}.")
        else:
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            flat[name] = text[:MAX_PARAM_LENGTH]
    return flat


def numeric_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of ``metrics`` as MLflow metrics (null and NaN are left out)."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            continue
        out[_NAME_CHARACTERS.sub("_", key)] = float(value)
    return out


def write_artifacts(con: duckdb.DuckDBPyConnection, fit: ModelFit, folder: Path) -> list[Path]:
    """The files logged with ``fit`` into ``folder``: ``fit.json`` (the whole record, the
    segmentation centroids included) and, for ALS, its factor marts as Parquet files."""
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / "fit.json"
    record.write_text(json.dumps(fit.to_record(), indent=2, sort_keys=True))
    files = [record]
    if fit.model_kind == "als":
        present = warehouse_tables(con)
        for table in (fit.artifact or {}).get("tables", []):
            if table not in FACTOR_TABLES:
                raise SegrecError(f"fit {fit.fit_id}: unknown artifact table {table!r}")
            if table not in present:
                raise SegrecError(f"fit {fit.fit_id}: its artifact table {table} is missing: build it "
                                  f"(dbt build --select +{FITS_TABLE})")
            path = folder / f"{table}.parquet"
            con.sql(f"select * from {quote_ident(table)} where model_version = {sql_literal(fit.model_version)}") \
                .write_parquet(str(path))
            files.append(path)
    return files


@dataclass(frozen=True)
class TrackResult:
    """What :func:`log_fits` did: the fit_ids it logged and those MLflow had already."""

    logged: list[str] = field(default_factory=list)
    already_logged: list[str] = field(default_factory=list)


def mlflow_unavailable() -> str | None:
    """Why MLflow cannot be used here (None: it can): the ``tracking`` extra is optional."""
    try:
        import mlflow  # noqa: F401
    except ImportError as exc:
        return f'mlflow is not installed: pip install -e ".[tracking]" ({exc})'
    return None


def tracking_uri(uri: str) -> str:
    """``uri`` as MLflow takes it: a plain folder becomes a ``file:`` URI. A local file store is
    what the tests and a laptop use; MLflow 3 keeps it behind MLFLOW_ALLOW_FILE_STORE, set here
    unless already set, since choosing a folder is the opt-in."""
    if not urlparse(uri).scheme and uri.split("-")[0] != "databricks":  # "databricks" is a URI of its own
        uri = Path(uri).resolve().as_uri()
    if uri.startswith("file:"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return uri


def log_fits(db: str | Path, uri: str, experiment: str = EXPERIMENT) -> TrackResult:
    """Log every fit of the warehouse ``db`` that MLflow at ``uri`` has no finished run of into
    ``experiment``: tags (fit_id, model kind and version, data version), parameters (plus
    ``data_version``), metrics and artifacts, the run's start time being ``fitted_at``."""
    reason = mlflow_unavailable()
    if reason:
        raise SegrecError(reason)
    from mlflow.entities import Metric, Param, RunStatus
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri(uri))
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    result = TrackResult()
    with open_warehouse(db) as con:
        for fit in read_fits(con):
            finished = client.search_runs(
                [experiment_id], max_results=1,
                filter_string=f"tags.`{FIT_ID_TAG}` = {sql_literal(fit.fit_id)} and attributes.status = 'FINISHED'",
            )
            if finished:
                result.already_logged.append(fit.fit_id)
                continue
            start = int(fit.fitted_at.timestamp() * 1000)
            run = client.create_run(experiment_id, start_time=start, run_name=fit.fit_id, tags={
                FIT_ID_TAG: fit.fit_id, "segrec.model_kind": fit.model_kind,
                "segrec.model_version": fit.model_version, "segrec.data_version": fit.data_version,
            })
            run_id = run.info.run_id
            try:
                params = flat_params(fit.parameters) | {"data_version": fit.data_version}
                metrics = numeric_metrics(fit.metrics)
                client.log_batch(
                    run_id,
                    params=[Param(k, v) for k, v in params.items()],
                    metrics=[Metric(k, v, start, 0) for k, v in metrics.items()],
                )
                with tempfile.TemporaryDirectory() as folder:
                    write_artifacts(con, fit, Path(folder))
                    client.log_artifacts(run_id, folder)
            except Exception:
                client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
                raise
            client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
            result.logged.append(fit.fit_id)
    return result
