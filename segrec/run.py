"""Run the whole product on one public dataset: segrec run DATASET [--out runs/DATASET].

Ingests the dataset's files from the public datasets folder (``--datasets``, else the
environment variable SEGREC_DATASETS, else ``../shared/datasets`` beside the project) with
``segrec ingest``, builds and tests the dbt project on them into the dataset's own DuckDB
file, then writes the run log, the exports and the report, all under ``--out``::

    raw/               the raw contract tables and ingest_summary.json
    warehouse.duckdb   the dbt build (SEGREC_DUCKDB_PATH); target/ and logs/ are dbt's folders
    run_logs/          structured run log (segrec runlog)
    exports/           marts as Parquet, Tableau extract, audiences (segrec export)
    report.html        the segment report (segrec report)
    run.json           what ran: inputs, dbt vars, ingest summary, timings, dbt statuses

The default demo (target/segrec.duckdb, exports/) is never touched. ``--out`` holds copies
of public data, so it gets a ``.gitignore`` that keeps it out of git. Dataset-specific dbt
vars live in :data:`DATASETS`; ``segrec results`` turns the runs into docs/results.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from segrec.errors import SegrecError
from segrec.io import write_text_atomic

PROJECT_DIR = Path(__file__).resolve().parents[1]
DATASETS_ENV = "SEGREC_DATASETS"
RUN_FILE = "run.json"
WAREHOUSE_FILE = "warehouse.duckdb"


@dataclass(frozen=True)
class DatasetSpec:
    """How to run one public dataset: its adapter, its files, and the dbt vars it needs.

    ``paths`` are relative to the datasets folder. ``select`` limits the dbt build (None:
    everything); ``note`` says on the results page why a run differs from the full product.
    ``value_calibration`` = (calibration end, observation end): `segrec results` fits the
    customer-value models up to the first date and checks them on the purchases after it.
    """

    name: str
    source: str
    paths: tuple[str, ...]
    description: str
    vars: Mapping[str, object] = field(default_factory=dict)
    select: tuple[str, ...] | None = None
    note: str = ""
    value_calibration: tuple[str, str] | None = None


# Wholesale customers re-order every few weeks: judge lists on the last month and learn the
# ranker on the month before (two weeks hold too few orders per customer).
WHOLESALE_HOLDOUT: Mapping[str, object] = {"recommendation_test_days": 30, "recommendation_validation_days": 30}

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "online_retail", "online_retail",
            ("uci_online_retail_full/online_retail_II_sheet2009-2010.parquet",
             "uci_online_retail_full/online_retail.parquet"),
            "UCI Online Retail + Online Retail II 2009-2010 sheet, full (2009-12..2011-12, UK wholesaler)",
            vars=WHOLESALE_HOLDOUT,
            value_calibration=("2011-06-09", "2011-12-09"),
        ),
        DatasetSpec(
            "uci_online_retail", "online_retail", ("uci_online_retail_full/online_retail.parquet",),
            "UCI Online Retail alone, the full 541,909 invoice lines (2010-12..2011-12, UK wholesaler)",
            vars=WHOLESALE_HOLDOUT,
            value_calibration=("2011-06-09", "2011-12-09"),
        ),
        DatasetSpec(
            "online_retail_ii", "online_retail",
            ("uci_online_retail_ii_subset/online_retail_II_10countries.csv.gz",),
            "UCI Online Retail II, both sheets, 10 non-UK countries",
            vars=WHOLESALE_HOLDOUT,
            value_calibration=("2011-06-09", "2011-12-09"),
        ),
        DatasetSpec(
            "cdnow", "cdnow", ("cdnow_lifetimes/CDNOW_master.csv.gz",),
            "CDNOW master: the Q1-1997 cohort's orders to 1998-06 (order level, no products)",
            # Order-level purchases at midnight without product, device or country: every default
            # clustering feature is constant, and every customer is a buyer, so cluster on RFM.
            vars={"clustering_features": ["recency_days", "frequency", "monetary", "avg_order_value",
                                          "orders_per_month"]},
            # Fader, Hardie & Lee (2005): 39 calibration weeks, 39 hold-out weeks
            value_calibration=("1997-09-30", "1998-06-30"),
        ),
        DatasetSpec(
            "diginetica", "diginetica", ("diginetica_sample_srgnn/sample_train-item-views.csv.gz",),
            "DIGINETICA CIKM Cup 2016 item views, SR-GNN sample (views only, source sessions)",
            # Views only, no prices, categories or devices, times placed from midnight: cluster on
            # browsing volume and rhythm instead of the (constant) default features.
            # Nearly every visitor is an anonymous one-session customer: list and evaluate them too,
            # next-item style (the session so far predicts its last view), as in the SR-GNN papers.
            vars={"clustering_features": ["n_sessions", "n_product_views", "avg_session_minutes", "share_weekend"],
                  "recommendation_holdout_split": "last_event", "recommendation_include_anonymous": True},
        ),
        DatasetSpec(
            "rees46", "rees46", ("rees46_multicategory_oct2019_head/2019-Oct_head.csv.gz",),
            "REES46 multi-category store, first 3 hours of 2019-10 (views, carts, purchases, store sessions)",
            # Three hours fit in one test day: evaluate next-item style within the window instead.
            vars={"recommendation_holdout_split": "last_event"},
        ),
        DatasetSpec(
            "olist", "olist",
            ("olist_catalog_partial/olist_products_dataset.csv.gz",
             "olist_catalog_partial/product_category_name_translation.csv"),
            "Olist catalog only (products with English categories; the order tables are absent)",
            select=("stg_raw__products",),
            note="catalog only: no events, so only the products staging model is built and tested",
        ),
    )
}


def datasets_dir(explicit: str | Path | None = None) -> Path:
    """The public datasets folder: ``explicit``, else SEGREC_DATASETS, else ../shared/datasets."""
    chosen = explicit or os.environ.get(DATASETS_ENV) or PROJECT_DIR.parent / "shared" / "datasets"
    return Path(chosen).resolve()


def dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name``; a clear error for an unknown one."""
    if name not in DATASETS:
        raise SegrecError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    return DATASETS[name]


def dataset_inputs(spec: DatasetSpec, root: Path) -> list[Path]:
    """The input files of ``spec`` under ``root``; a clear error naming any that is missing."""
    paths = [root / relative for relative in spec.paths]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise SegrecError(
            f"dataset {spec.name}: missing input file(s) {', '.join(missing)} "
            f"(set --datasets or {DATASETS_ENV} to the public datasets folder)"
        )
    return paths


def ingest_dataset(spec: DatasetSpec, inputs: Sequence[Path], raw_dir: Path) -> dict:
    """Run the dataset's adapter and (re)write its raw folder; returns the ingest summary."""
    from segrec.ingest import ingest  # the adapters import pandas-heavy code: load only when used
    from segrec.ingest.common import write_result

    result = ingest(spec.source, inputs)
    write_result(result, raw_dir, overwrite=True)
    print(result.summary.format())
    return result.summary.to_dict()


def dbt_environment(raw_dir: Path, db_path: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a dbt build that reads ``raw_dir`` and writes ``db_path``."""
    return {
        **(os.environ if base is None else base),
        "SEGREC_RAW_DIR": str(raw_dir),
        "SEGREC_DUCKDB_PATH": str(db_path),
        "SEGREC_TARGET": "dev",
        "OPENBLAS_NUM_THREADS": "1",  # implicit's BLAS threads fight dbt's own threads
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def dbt_build_command(spec: DatasetSpec, out: Path, *, full_refresh: bool = False) -> list[str]:
    """``dbt build`` with the run's own target and log folders and the dataset's vars."""
    command = [str(Path(sys.executable).with_name("dbt")), "build", "--target-path", str(out / "target"),
               "--log-path", str(out / "logs")]
    if spec.select:
        command += ["--select", *spec.select]
    if spec.vars:
        command += ["--vars", json.dumps(dict(spec.vars), sort_keys=True)]
    if full_refresh:
        command.append("--full-refresh")
    return command


def check_unlocked(db_path: Path) -> None:
    """Fail before building when another process holds the DuckDB file (dbt would fail later)."""
    if not db_path.exists():
        return
    try:
        duckdb.connect(str(db_path)).close()
    except duckdb.IOException as exc:
        raise SegrecError(f"cannot build into {db_path}, another process holds it: {exc}") from exc


def build_statuses(run_results: Mapping | None) -> dict[str, int]:
    """``{status: nodes}`` of a dbt ``run_results.json`` ({} when absent)."""
    counts: dict[str, int] = {}
    for result in (run_results or {}).get("results", []):
        counts[str(result.get("status"))] = counts.get(str(result.get("status")), 0) + 1
    return dict(sorted(counts.items()))


def write_outputs(out: Path, *, allow_demo_salt: bool) -> None:
    """The run log, the exports and the report of the build in ``out`` (as `make demo` does)."""
    from segrec import report, runlog
    from segrec.exports import HASH_SALT_ENV, export_warehouse
    from segrec.warehouse import load_json, open_warehouse

    db_path, target = out / WAREHOUSE_FILE, out / "target"
    run_results, manifest = load_json(target / "run_results.json"), load_json(target / "manifest.json")
    with open_warehouse(db_path) as con:
        log = runlog.build_run_log(con, run_results or {}, manifest, runlog.read_latest_log(out / "run_logs"))
        html = report.build_report(con, source=str(db_path), run_results=run_results)
    runlog.write_run_log(log, out / "run_logs")
    report.write_report(html, out / "report.html")
    export_warehouse(db_path, out / "exports", manifest, salt=os.environ.get(HASH_SALT_ENV),
                     allow_demo_salt=allow_demo_salt)


def write_json(document: Mapping, path: Path) -> None:
    """Write ``document`` as indented JSON through a temporary file (readers never see half)."""
    write_text_atomic(path, json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")


def run_dataset(
    name: str,
    out: str | Path,
    *,
    datasets: str | Path | None = None,
    allow_demo_salt: bool = False,
    full_refresh: bool = False,
    project_dir: Path = PROJECT_DIR,
) -> dict:
    """Ingest, build, log, export and report one dataset into ``out``; returns ``run.json``.

    A failed ``dbt build`` is recorded in ``run.json`` (so ``segrec results`` shows it) and
    then raised as a SegrecError; the exports and the report need a successful build.
    """
    from segrec.exports import HASH_SALT_ENV, check_salt
    from segrec.warehouse import load_json

    spec = dataset_spec(name)
    if not (project_dir / "dbt_project.yml").is_file():
        raise SegrecError(f"no dbt project at {project_dir}: segrec run needs the project checkout (pip install -e)")
    root = datasets_dir(datasets)
    inputs = dataset_inputs(spec, root)
    check_salt(os.environ.get(HASH_SALT_ENV), allow_demo_salt)  # before the long part, not after
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / ".gitignore").write_text("# copies of public datasets and builds on them: never committed\n*\n")
    db_path = out / WAREHOUSE_FILE
    check_unlocked(db_path)

    started_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    started = time.perf_counter()
    ingest_summary = ingest_dataset(spec, inputs, out / "raw")
    ingest_seconds = time.perf_counter() - started
    command = dbt_build_command(spec, out, full_refresh=full_refresh)
    print(f"segrec run {name}: {' '.join(command[1:])}", flush=True)
    build_started = time.perf_counter()
    completed = subprocess.run(command, cwd=project_dir, env=dbt_environment(out / "raw", db_path), check=False)
    build_seconds = time.perf_counter() - build_started
    document = {
        "dataset": name,
        "description": spec.description,
        "note": spec.note,
        "source": spec.source,
        "inputs": [str(path.relative_to(root)) for path in inputs],
        "dbt_vars": dict(spec.vars),
        "dbt_select": list(spec.select) if spec.select else None,
        "started_at": started_at,
        "ingest": ingest_summary,
        "ingest_seconds": round(ingest_seconds, 1),
        "build_seconds": round(build_seconds, 1),
        "build_returncode": completed.returncode,
        "build_statuses": build_statuses(load_json(out / "target" / "run_results.json")),
    }
    write_json(document, out / RUN_FILE)
    if completed.returncode != 0:
        raise SegrecError(
            f"dbt build failed for {name} ({document['build_statuses']}); see {out / 'logs' / 'dbt.log'}"
        )
    outputs_started = time.perf_counter()
    write_outputs(out, allow_demo_salt=allow_demo_salt)
    document["outputs_seconds"] = round(time.perf_counter() - outputs_started, 1)
    document["total_seconds"] = round(time.perf_counter() - started, 1)
    write_json(document, out / RUN_FILE)
    return document
