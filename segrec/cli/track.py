"""`segrec track`: log the fits of a build (mart model_fits) to MLflow, each once (see
:mod:`segrec.model_fits` and docs/tracking.md)."""

from __future__ import annotations

import argparse
import os

from segrec.model_fits import EXPERIMENT, MLFLOW_URI_ENV, log_fits, read_fits
from segrec.warehouse import open_warehouse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="target/segrec.duckdb",
                        help="the DuckDB file after dbt build, or its published copy exports/segrec_published.duckdb")
    parser.add_argument("--uri", default=None,
                        help=f"MLflow tracking URI or a local folder (default: ${MLFLOW_URI_ENV})")
    parser.add_argument("--experiment", default=EXPERIMENT, help="MLflow experiment name")


def run(args: argparse.Namespace) -> int:
    uri = args.uri or os.environ.get(MLFLOW_URI_ENV)
    if not uri:
        with open_warehouse(args.db) as con:
            n = len(read_fits(con))
        print(f"segrec track: {MLFLOW_URI_ENV} is not set and no --uri given: the {n} fit(s) stay in "
              f"model_fits only, nothing logged to MLflow")
        return 0
    result = log_fits(args.db, uri, args.experiment)
    print(f"segrec track: {len(result.logged)} fit(s) logged to MLflow experiment {args.experiment!r}, "
          f"{len(result.already_logged)} already there")
    for fit_id in result.logged:
        print(f"  logged {fit_id}")
    return 0

