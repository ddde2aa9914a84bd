"""Shared pytest fixtures: project paths, the public datasets, and running dbt on a raw folder."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).with_name("dbt")


def datasets_dir() -> Path:
    """The public datasets folder: SEGREC_DATASETS, else ../shared/datasets beside the project."""
    return Path(os.environ.get("SEGREC_DATASETS", PROJECT_ROOT.parent / "shared" / "datasets")).resolve()


@pytest.fixture(scope="session")
def datasets() -> Path:
    path = datasets_dir()
    if not path.is_dir():
        pytest.skip(f"public datasets not found at {path} (set SEGREC_DATASETS to run these tests)")
    return path


@dataclass
class DbtProject:
    """A private dbt target (database, target and log folders) reading one raw folder."""

    raw_dir: Path
    work_dir: Path
    project_dir: Path = PROJECT_ROOT

    @property
    def db_path(self) -> Path:
        return self.work_dir / "warehouse.duckdb"

    def run(self, *args: str, check: bool = True, vars: dict | None = None) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "SEGREC_RAW_DIR": str(self.raw_dir),
            "SEGREC_DUCKDB_PATH": str(self.db_path),
            "SEGREC_TARGET": "ci",
            "OPENBLAS_NUM_THREADS": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        command = [str(DBT), *args, "--log-path", str(self.work_dir / "logs")]
        if args and args[0] == "build" and "--select" in args:
            # only tests whose parents are all selected: a partial build runs no test on models it skipped
            command += ["--indirect-selection", "cautious"]
        if "--target-path" not in args:
            command += ["--target-path", str(self.work_dir / "target")]
        if vars:
            command += ["--vars", repr(vars).replace("'", '"')]
        result = subprocess.run(command, cwd=self.project_dir, env=env, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}")
        return result

    def query(self, sql: str) -> pd.DataFrame:
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.sql(sql).df()


@pytest.fixture
def dbt_project(tmp_path: Path):
    """A factory: dbt_project(raw_dir) -> DbtProject working in its own temporary folder."""

    def make(raw_dir: Path, name: str = "dbt") -> DbtProject:
        work = tmp_path / name
        work.mkdir(parents=True, exist_ok=True)
        return DbtProject(raw_dir=Path(raw_dir), work_dir=work)

    return make
