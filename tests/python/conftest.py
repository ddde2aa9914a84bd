"""Shared pytest fixtures and hooks. The harness they use (DbtProject, paths) is dbt_harness.py."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from segrec.generate import generate, write

from .dbt_harness import (
    SAMPLE,
    SAMPLE_MARTS,
    SAMPLE_VARS,
    DbtProject,
    built_once,
    datasets_dir,
    run_tmp,
    spark_unavailable,
    use_parse_cache,
)


@pytest.fixture(scope="session", autouse=True)
def dbt_parse_cache(tmp_path_factory, request):
    """A folder of dbt's partial-parse files, shared by every DbtProject of the run (and by the
    pytest-xdist workers of one run), so that only the first dbt command of a project folder and
    --vars parses the whole project (about 10 s); the others start from that parse. dbt itself
    checks the file against the project files, vars, profile and environment and parses again
    what changed, so a stale entry costs time, never correctness."""
    folder = run_tmp(tmp_path_factory, request.config) / "dbt-parse-cache"
    folder.mkdir(exist_ok=True)
    use_parse_cache(folder)
    yield folder
    use_parse_cache(None)


@pytest.fixture(scope="session")
def sample_marts(tmp_path_factory, request) -> DbtProject:
    """SAMPLE_MARTS built on the committed sample with SAMPLE_VARS, once per test run: by the
    first pytest-xdist worker that asks, while the others wait. Read-only: tests work on a
    DbtProject.copy of it (test_dbt_activation as it is, test_privacy as its first build)."""
    root = run_tmp(tmp_path_factory, request.config) / "sample-marts"
    project = DbtProject(raw_dir=SAMPLE, work_dir=root / "build")
    built_once(root, lambda: project.run("build", "--select", *SAMPLE_MARTS,
                                         "--exclude-resource-type", "test", "unit_test", vars=SAMPLE_VARS))
    return project


@pytest.fixture(scope="session")
def generated_build(tmp_path_factory, request) -> Callable[..., DbtProject]:
    """A factory: generated_build(customers, days, random_state, select=[...]) -> a DbtProject whose
    ``dbt build --select *select`` (data tests included) ran on segrec.generate's data of that
    shape; its raw_dir holds the raw tables and their _truth/. Each data shape is generated, and
    each (shape, selection) built, once per test run: by the first pytest-xdist worker that asks,
    while the others wait. Read-only: tests query it, or DbtProject.copy it."""
    root = run_tmp(tmp_path_factory, request.config) / "generated"

    def build(customers: int, days: int, random_state: int, *, select: Sequence[str]) -> DbtProject:
        data = root / f"customers{customers}-days{days}-random_state{random_state}"
        raw = data / "raw"
        built_once(data, lambda: write(generate(n_customers=customers, days=days, random_state=random_state), raw))
        selection = hashlib.sha256("\n".join(select).encode()).hexdigest()[:12]
        project = DbtProject(raw_dir=raw, work_dir=data / f"build-{selection}")
        built_once(project.work_dir, lambda: project.run("build", "--select", *select))
        return project

    return build


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test`: one test file per worker at a time, in collection order),
    start the files that build the dbt project first, so the many quick files fill the tail."""
    if not hasattr(config, "workerinput"):
        return
    dbt_files = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("dbt")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in dbt_files)  # stable: files stay whole


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory):
    """One local SparkSession for the whole test run (local[2]: about 13 s to start, 370 MB),
    skipped with the reason when pyspark, dbt-spark or Java is missing. dbt run in this process
    (dbtRunner) on the profile's spark target joins it: dbt-spark's session method calls
    getOrCreate and applies the profile's runtime settings (time zone, shuffle partitions, salt);
    the JVM settings are the ones here. Derby, the metastore, admits one JVM: keep the Spark tests
    in one file (one pytest-xdist worker under --dist loadfile)."""
    reason = spark_unavailable()
    if reason:
        pytest.skip(reason)
    from pyspark.sql import SparkSession

    folder = tmp_path_factory.mktemp("spark")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("segrec-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.warehouse.dir", str(folder / "warehouse"))
        .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                f"jdbc:derby:;databaseName={folder / 'metastore'};create=true")
        .config("spark.driver.extraJavaOptions",
                f"-Dderby.system.home={folder} -Dderby.stream.error.file={folder / 'derby.log'}")
        .enableHiveSupport()
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def datasets() -> Path:
    path = datasets_dir()
    if not path.is_dir():
        pytest.skip(f"public datasets not found at {path} (set SEGREC_DATASETS to run these tests)")
    return path


@pytest.fixture
def dbt_project(tmp_path: Path):
    """A factory: dbt_project(raw_dir) -> DbtProject working in its own temporary folder."""

    def make(raw_dir: Path, name: str = "dbt") -> DbtProject:
        work = tmp_path / name
        work.mkdir(parents=True, exist_ok=True)
        return DbtProject(raw_dir=Path(raw_dir), work_dir=work)

    return make
