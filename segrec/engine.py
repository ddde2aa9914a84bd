"""Where the dbt Python models meet their engine: refs in, results out, on DuckDB or Spark.

A model's ``dbt.ref(...)`` is a DuckDB relation under dbt-duckdb and a Spark DataFrame under
dbt-spark and dbt-databricks; a model returns what its engine accepts (an Arrow table or pandas
on DuckDB, a Spark or pandas DataFrame on Spark). The models call these functions instead of
either engine's own methods, so the same model file runs on both (issue 14, docs/spark.md).
Filters stay the engines' own ``relation.filter("sql condition")``: both take the SQL text.

The learning that has a Spark version (dbt var ``ml_engine: spark``) runs in
:func:`spark_session_for`: the model's own session on a Spark target, a local one otherwise.
pyspark is optional (the ``spark`` extra): it is imported inside the functions that need it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from segrec.errors import SegrecError
from segrec.schemas import stacked_tables

# dbt var spark_ml: the local session ml_engine spark starts on a target that is not Spark, and
# the checkpoint folder of Spark ALS (relative paths resolve where dbt runs: the project root).
# ``clustering``: the pyspark.ml clusterer of the segmentation (kmeans or bisecting_kmeans,
# segrec.segmentation.spark_cluster).
SPARK_ML_DEFAULTS: dict[str, str] = {
    "master": "local[2]", "driver_memory": "1g", "checkpoint_dir": "target/spark-checkpoints",
    "clustering": "kmeans",
}
# Where the learning of the dbt Python models runs (dbt var ml_engine): in this process, or
# pyspark.ml in :func:`spark_session_for` (ALS, the segmentation's K-Means and its explaining trees).
ML_ENGINES: tuple[str, ...] = ("local", "spark")


def _is_spark(relation: Any) -> bool:
    return hasattr(relation, "toPandas") and hasattr(relation, "sparkSession")


def is_spark_session(session: Any) -> bool:
    """True for a SparkSession (a dbt model's ``session`` on Spark), False for DuckDB's connection."""
    return hasattr(session, "createDataFrame")


def to_arrow(relation: Any) -> pa.Table:
    """The rows of a ref (DuckDB relation, Spark DataFrame, pandas or Arrow) as an Arrow table."""
    if isinstance(relation, pa.Table):
        return relation
    if isinstance(relation, pd.DataFrame):
        return pa.Table.from_pandas(relation, preserve_index=False)
    if hasattr(relation, "to_arrow_table"):  # DuckDB
        return relation.to_arrow_table()
    if _is_spark(relation):
        return _naive_utc(relation.toArrow() if hasattr(relation, "toArrow") else pa.Table.from_pandas(
            relation.toPandas(), preserve_index=False))
    raise SegrecError(f"to_arrow: cannot read a {type(relation).__name__} (expected a DuckDB relation, "
                      "a Spark DataFrame, pandas or Arrow)")


def _naive_utc(table: pa.Table) -> pa.Table:
    """Spark's timestamps as DuckDB's: Spark gives Arrow timestamps in the session's time zone, a
    DuckDB ``timestamp`` is naive. Arrow keeps UTC instants, so dropping the zone gives UTC wall
    clock, which is what segrec's naive timestamps are (both sessions run in UTC)."""
    fields = [field.with_type(pa.timestamp(field.type.unit))
              if pa.types.is_timestamp(field.type) and field.type.tz is not None else field
              for field in table.schema]
    return table.cast(pa.schema(fields)) if fields != list(table.schema) else table


def to_pandas(relation: Any) -> pd.DataFrame:
    """The rows of a ref as pandas. A Spark DataFrame goes through Arrow (toArrow), as DuckDB's
    relations do: the same pandas types on both engines (Spark's own toPandas without Arrow
    converts row by row, into Python dates and Decimals)."""
    if isinstance(relation, pd.DataFrame):
        return relation
    if hasattr(relation, "df") and hasattr(relation, "to_arrow_table"):  # DuckDB
        return relation.df()
    return to_arrow(relation).to_pandas()


def select(relation: Any, columns: Sequence[str]) -> Any:
    """Only ``columns`` of a ref (SQL expressions: names, or e.g. ``'latest' as cutoff``), still
    lazy: read by the engine, not in Python."""
    if hasattr(relation, "project"):  # DuckDB
        return relation.project(", ".join(columns))
    if hasattr(relation, "selectExpr"):  # Spark
        return relation.selectExpr(*columns)
    raise SegrecError(f"select: cannot select columns of a {type(relation).__name__}")


def query(session: Any, sql: str) -> pa.Table:
    """The result of ``sql`` in the model's session (DuckDB connection or SparkSession)."""
    return to_arrow(session.sql(sql))


def to_output(result: pa.Table | pd.DataFrame, session: Any) -> Any:
    """A model's result as its engine accepts it: as it is on DuckDB (Arrow or pandas), a Spark
    DataFrame on Spark. Spark gets Arrow (pyspark 4 reads a ``pyarrow.Table``), which keeps the
    column types: lists stay arrays and lists of structs arrays of structs (through pandas they
    would be inferred from Python objects, structs as maps); naive timestamps become Spark
    timestamps of the same wall-clock time in the session's time zone (UTC, the profile)."""
    if not is_spark_session(session):  # DuckDB
        return result
    return session.createDataFrame(to_arrow(result))


def to_output_batches(tables: Iterable[pa.Table], schema: pa.Schema, session: Any) -> Any:
    """A model's result made a batch at a time (``tables``, each of ``schema``), as its engine
    takes it without ever holding all of it in Python. On DuckDB each batch goes to a Parquet
    file in DuckDB's ``temp_directory`` as it comes, and the model returns a stream over that
    file: DuckDB reads it into the model's table, and the file is removed once read. (A stream
    of the batches themselves cannot work: code run while DuckDB reads the stream cannot query
    the model's connection, and the batches need refs.) A 10M-event shop's hybrid candidates are
    11M rows, ~1 GB as one Arrow table and several as pandas. Spark gets one Arrow table."""
    if is_spark_session(session):
        return to_output(stacked_tables(list(tables), schema), session)
    setting = query(session, "select current_setting('temp_directory') as folder").column("folder")[0].as_py()
    folder = Path(setting or tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="segrec-output-", suffix=".parquet", dir=folder)
    os.close(handle)
    try:
        with pq.ParquetWriter(name, schema) as writer:
            for table in tables:
                writer.write_table(table.cast(schema))
    except BaseException:
        os.unlink(name)
        raise
    return pa.RecordBatchReader.from_batches(pq.ParquetFile(name).schema_arrow, _read_once(Path(name)))


def _read_once(path: Path) -> Iterator[pa.RecordBatch]:
    """The batches of a spooled Parquet file; the file is removed when they have been read."""
    try:
        yield from pq.ParquetFile(path).iter_batches()
    finally:
        path.unlink(missing_ok=True)


def spark_unavailable() -> str | None:
    """Why a Spark session cannot start here (None: it can): pyspark comes with the optional
    ``spark`` extra, and Spark needs a Java runtime (17 or 21)."""
    try:
        found = importlib.util.find_spec("pyspark") is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        return 'pyspark is not installed (pip install -e ".[spark]")'
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and (Path(java_home) / "bin" / "java").exists()):
        return "no Java runtime (java not on PATH and no JAVA_HOME): Spark needs Java 17 or 21"
    return None


def spark_ml_settings(settings: Mapping[str, Any] | None) -> dict[str, str]:
    """The dbt var ``spark_ml`` checked: :data:`SPARK_ML_DEFAULTS` with the keys it sets."""
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(SPARK_ML_DEFAULTS))
    if unknown:
        raise SegrecError(f"var spark_ml: unknown key(s) {unknown}; expected {sorted(SPARK_ML_DEFAULTS)}")
    merged = SPARK_ML_DEFAULTS | settings
    empty = sorted(key for key, value in merged.items() if not isinstance(value, str) or not value.strip())
    if empty:
        raise SegrecError(f"var spark_ml: {empty} must be non-empty text")
    return merged


def spark_session_for(session: Any, settings: Mapping[str, Any] | None = None) -> Any:
    """The SparkSession pyspark.ml trains in: the dbt model's own ``session`` on a Spark target,
    else the process's local session (getOrCreate: started once, ~13 s, then shared by every
    model of the build) with var ``spark_ml``'s master and driver memory. A SegrecError says
    why when pyspark or Java is missing."""
    if is_spark_session(session):
        return session
    chosen = spark_ml_settings(settings)
    reason = spark_unavailable()
    if reason:
        raise SegrecError(f"ml_engine spark: {reason}")
    from pyspark.sql import SparkSession

    local = (
        SparkSession.builder.master(chosen["master"])
        .appName("segrec-ml")
        .config("spark.driver.memory", chosen["driver_memory"])
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.sources.default", "parquet")  # Delta needs jars the local session has not
        .config("spark.sql.shuffle.partitions", "4")  # the default 200 makes small fits slow
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # checkpoint files of finished fits are removed once Spark no longer references them
        .config("spark.cleaner.referenceTracking.cleanCheckpoints", "true")
        .getOrCreate()
    )
    local.sparkContext.setLogLevel("ERROR")
    return local


def ml_spark_session(ml_engine: str, session: Any = None,
                     spark_ml: Mapping[str, Any] | None = None) -> tuple[Any, dict[str, str]] | None:
    """What the dbt var ``ml_engine`` says about Spark: None for ``local`` (learn in this
    process), for ``spark`` the SparkSession to learn in (:func:`spark_session_for`) and the
    checked var ``spark_ml``; a SegrecError for anything else. The var spark_ml is checked
    before Spark starts."""
    if ml_engine == "local":
        return None
    if ml_engine == "spark":
        settings = spark_ml_settings(spark_ml)
        return spark_session_for(session, settings), settings
    raise SegrecError(f"var ml_engine: expected one of {list(ML_ENGINES)}, got {ml_engine!r}")
