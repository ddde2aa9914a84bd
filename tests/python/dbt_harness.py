"""The dbt test harness: project paths, the public datasets, and running dbt on a raw folder in a
private target (DbtProject). The fixtures that use it are in conftest.py."""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from segrec.engine import spark_unavailable as engine_spark_unavailable

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT = Path(sys.executable).with_name("dbt")
PARSE_FILE = "partial_parse.msgpack"
SAMPLE = PROJECT_ROOT / "data" / "sample"
# The committed sample's activation marts and all they need (seeds and models; data tests are
# run where they are checked), built once per test run (conftest.sample_marts).
SAMPLE_MARTS = ["+experiment_results", "+recommendation_feedback", "+strategy_allocations", "+strategy_assignments",
                "+marketing_audiences",
                "+fct_events", "+build_history"]
# Without the recommender (slow to train): build_history leaves its metrics out, and
# test_dbt_activation plants an NDCG history instead.
SAMPLE_VARS = {"monitoring": yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())["vars"]["monitoring"]
               | {"recommendation_metrics": False}}
# Where DbtProject keeps one parsed project per (project folder, --vars): set by
# conftest.dbt_parse_cache through use_parse_cache.
_parse_cache_dir: Path | None = None


def use_parse_cache(folder: Path | None) -> None:
    """Share dbt's partial-parse files through ``folder`` from now on (None: no sharing)."""
    global _parse_cache_dir
    _parse_cache_dir = folder


def run_tmp(tmp_path_factory, config) -> Path:
    """The temporary folder of this test run, shared by its pytest-xdist workers."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if hasattr(config, "workerinput") else base  # a worker's is basetemp/popen-gwN


def built_once(folder: Path, build: Callable[[], object]) -> None:
    """Run ``build`` unless it already succeeded for ``folder`` in this test run: the first
    pytest-xdist worker that asks builds, while the others wait on a file lock in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (folder / "built").exists():
                build()
                (folder / "built").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def spark_unavailable() -> str | None:
    """Why the Spark tests cannot run here (None: they can): pyspark and a Java runtime (as the
    package checks them, segrec.engine.spark_unavailable) and dbt-spark, all from the optional
    `spark` extra (pip install -e ".[dev,spark]")."""
    reason = engine_spark_unavailable()
    if reason:
        return reason
    try:
        found = importlib.util.find_spec("dbt.adapters.spark") is not None
    except ModuleNotFoundError:
        found = False
    return None if found else 'dbt-spark is not installed (pip install -e ".[dev,spark]")'


def load_model(path: str):
    """A dbt Python model file's ``model`` function (the file needs no dbt to import)."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, PROJECT_ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.model


class FakeConfig:
    """A model's ``dbt.config``: called to set materialization (nothing to do here), read with get."""

    def __init__(self, values: dict) -> None:
        self.get = values.get

    def __call__(self, **settings) -> None:
        pass


class FakeDbt:
    """What a model's body uses of dbt: ref (here a read function) and config."""

    def __init__(self, read, config: dict) -> None:
        self.ref, self.config = read, FakeConfig(config)


def datasets_dir() -> Path:
    """The public datasets folder: SEGREC_DATASETS, else ../shared/datasets beside the project."""
    return Path(os.environ.get("SEGREC_DATASETS", PROJECT_ROOT.parent / "shared" / "datasets")).resolve()


def _file_state(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


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
        raw_dir = Path(self.raw_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "SEGREC_RAW_DIR": str(raw_dir if raw_dir.is_absolute() else self.project_dir / raw_dir),
            # relative to the working folder (dbt runs in work_dir): the profile, and so dbt's parse,
            # is then the same for every DbtProject (see conftest.dbt_parse_cache)
            "SEGREC_DUCKDB_PATH": self.db_path.name,
            "SEGREC_TARGET": "ci",
            "OPENBLAS_NUM_THREADS": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        project = str(self.project_dir)
        command = [str(DBT), *args, "--project-dir", project, "--profiles-dir", project,
                   "--log-path", str(self.work_dir / "logs")]
        if args and args[0] == "build" and "--select" in args:
            # only tests whose parents are all selected: a partial build runs no test on models it skipped
            command += ["--indirect-selection", "cautious"]
        if "--target-path" in args:
            target = Path(args[args.index("--target-path") + 1])
        else:
            target = self.work_dir / "target"
            command += ["--target-path", str(target)]
        if vars:
            command += ["--vars", repr(vars).replace("'", '"')]
        cached = self._cached_parse(vars)
        parse_file = target / PARSE_FILE
        if cached is not None and cached.exists():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cached, parse_file)
        before = _file_state(parse_file)
        result = subprocess.run(command, cwd=self.work_dir, env=env, capture_output=True, text=True)
        if cached is not None and _file_state(parse_file) not in (None, before):  # dbt (re)parsed
            partial = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
            shutil.copyfile(parse_file, partial)
            os.replace(partial, cached)
        if check and result.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}")
        return result

    def _cached_parse(self, vars: dict | None) -> Path | None:
        """The shared partial-parse file for this project folder and --vars (None: no cache)."""
        if _parse_cache_dir is None:
            return None
        key = f"{Path(self.project_dir).resolve()}\n{json.dumps(vars or {}, sort_keys=True)}"
        return _parse_cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.msgpack"

    def copy(self, work_dir: Path, raw_dir: Path | None = None) -> DbtProject:
        """This build (database and dbt target folder) in another folder, reading raw_dir (default:
        the same raw folder) from its next dbt command on."""
        work_dir.mkdir(parents=True, exist_ok=True)
        for path in self.work_dir.glob(f"{self.db_path.name}*"):  # the database and any WAL file
            shutil.copy(path, work_dir / path.name)
        shutil.copytree(self.work_dir / "target", work_dir / "target")
        return DbtProject(raw_dir=raw_dir or self.raw_dir, work_dir=work_dir, project_dir=self.project_dir)

    def query(self, sql: str) -> pd.DataFrame:
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.sql(sql).df()
