"""Where the dbt Python models meet their engine: refs in, results out, on DuckDB or Spark.

A model's ``dbt.ref(...)`` is a DuckDB relation under dbt-duckdb and a Spark DataFrame under
dbt-spark and dbt-databricks; a model returns what its engine accepts (an Arrow table or pandas
on DuckDB, a Spark or pandas DataFrame on Spark). The models call these functions instead of
either engine's own methods, so the same model file runs on both (issue 14, docs/spark.md).
Filters stay the engines' own ``relation.filter("sql condition")``: both take the SQL text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa

from segrec.errors import SegrecError


def _is_spark(relation: Any) -> bool:
    return hasattr(relation, "toPandas") and hasattr(relation, "sparkSession")


def to_arrow(relation: Any) -> pa.Table:
    """The rows of a ref (DuckDB relation, Spark DataFrame, pandas or Arrow) as an Arrow table."""
    if isinstance(relation, pa.Table):
        return relation
    if isinstance(relation, pd.DataFrame):
        return pa.Table.from_pandas(relation, preserve_index=False)
    if hasattr(relation, "to_arrow_table"):  # DuckDB
        return relation.to_arrow_table()
    if _is_spark(relation):
        return relation.toArrow() if hasattr(relation, "toArrow") else pa.Table.from_pandas(
            relation.toPandas(), preserve_index=False)
    raise SegrecError(f"to_arrow: cannot read a {type(relation).__name__} (expected a DuckDB relation, "
                      "a Spark DataFrame, pandas or Arrow)")


def to_pandas(relation: Any) -> pd.DataFrame:
    """The rows of a ref as pandas."""
    if isinstance(relation, pd.DataFrame):
        return relation
    if hasattr(relation, "df") and hasattr(relation, "to_arrow_table"):  # DuckDB
        return relation.df()
    if _is_spark(relation):
        return relation.toPandas()
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
    DataFrame on Spark."""
    if not hasattr(session, "createDataFrame"):  # DuckDB
        return result
    frame = result.to_pandas() if isinstance(result, pa.Table) else result
    return session.createDataFrame(frame)
