"""One way to declare the tables the package returns to dbt: an Arrow schema per table
(``pa.schema([(column, type), ...])``), applied by :func:`typed_table` (Arrow results) or
:func:`typed_frame` (pandas results). Typed explicitly because an empty result has no values
to infer types from, and the contracted marts over these tables need fixed column types."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pyarrow as pa

from segrec.errors import SegrecError

# Text that repeats a few values on many rows (a cutoff, a strategy, a run's settings):
# dictionary-encoded in Arrow, so millions of rows do not copy it; DuckDB stores it as VARCHAR.
REPEATED_TEXT = pa.dictionary(pa.int32(), pa.string())
# pandas dtypes of the Arrow types used (nullable where pandas has a nullable dtype).
_PANDAS_DTYPES: dict[pa.DataType, str] = {
    pa.string(): "string", pa.int64(): "int64", pa.float64(): "float64", pa.bool_(): "boolean",
}


def pandas_dtypes(schema: pa.Schema) -> dict[str, str]:
    """``{column: pandas dtype}`` of ``schema`` (timestamps keep their unit)."""
    dtypes = {}
    for field in schema:
        if pa.types.is_timestamp(field.type):
            dtypes[field.name] = f"datetime64[{field.type.unit}]"
        elif field.type in _PANDAS_DTYPES:
            dtypes[field.name] = _PANDAS_DTYPES[field.type]
        else:
            raise SegrecError(f"schema column {field.name}: no pandas dtype for Arrow type {field.type}")
    return dtypes


def _require_schema_columns(frame: pd.DataFrame, schema: pa.Schema) -> None:
    missing = [name for name in schema.names if name not in frame.columns]
    if missing:
        raise SegrecError(f"output is missing column(s) {', '.join(missing)}")


def typed_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """``frame``'s columns of ``schema`` as an Arrow table of exactly that schema."""
    _require_schema_columns(frame, schema)
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


def stacked_tables(tables: Sequence[pa.Table], schema: pa.Schema) -> pa.Table:
    """``tables`` (each of exactly ``schema``, e.g. from :func:`typed_table`) one after another,
    without copying their buffers; an empty table of ``schema`` for none. Dictionary columns get
    one shared dictionary, as one table made at once would have. Joins the batches of a result made
    a batch of customers at a time where one table is needed (Spark, tests); DuckDB reads them as
    they come (:func:`segrec.engine.to_output_batches`)."""
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables).unify_dictionaries()


def plain_frame(table: pa.Table) -> pd.DataFrame:
    """``table`` as pandas, :data:`REPEATED_TEXT` (dictionary) columns as plain text: pandas
    would make categoricals of them, which sort and compare by their dictionary's order."""
    plain = pa.schema([f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in table.schema])
    return table.cast(plain).to_pandas()


def typed_frame(frame: pd.DataFrame, schema: pa.Schema) -> pd.DataFrame:
    """``frame``'s columns of ``schema``, in its order, cast to its pandas dtypes."""
    _require_schema_columns(frame, schema)
    return frame[schema.names].astype(pandas_dtypes(schema))


def empty_frame(schema: pa.Schema) -> pd.DataFrame:
    """A frame without rows with the columns and pandas dtypes of ``schema``."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in pandas_dtypes(schema).items()})
