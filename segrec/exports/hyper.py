"""The Tableau extract: every output table in schema "Extract" of one ``.hyper`` file,
loaded from Parquet and read back to check its row counts."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb

from segrec.errors import SegrecError
from segrec.warehouse import quote_ident, sql_literal, table_columns

HYPER_PATH = Path("tableau") / "segrec.hyper"
EXTRACT_SCHEMA = "Extract"
# Hyper (database version 0, which every Tableau opens) stores these DuckDB types as they are;
# the others are widened or, when nested or exotic, written as text.
_HYPER_TYPES = frozenset(
    {"BOOLEAN", "SMALLINT", "INTEGER", "BIGINT", "DOUBLE", "VARCHAR", "DATE", "TIME", "TIMESTAMP",
     "TIMESTAMP WITH TIME ZONE"}
)
_HYPER_WIDENED = {
    "TINYINT": "SMALLINT", "UTINYINT": "SMALLINT", "USMALLINT": "INTEGER", "UINTEGER": "BIGINT",
    "UBIGINT": "DOUBLE", "HUGEINT": "DOUBLE", "UHUGEINT": "DOUBLE", "FLOAT": "DOUBLE",
    "TIMESTAMP_S": "TIMESTAMP", "TIMESTAMP_MS": "TIMESTAMP", "TIMESTAMP_NS": "TIMESTAMP",
}
_HYPER_MAX_DECIMAL_PRECISION = 18  # 128-bit numerics need a newer Hyper database version


def hyper_cast(duckdb_type: str) -> str | None:
    """The DuckDB type to cast a column to before Hyper reads it, or None to keep it."""
    upper = duckdb_type.upper()
    if upper in _HYPER_TYPES:
        return None
    decimal = re.fullmatch(r"DECIMAL\((\d+),\s*\d+\)", upper)
    if decimal:
        return None if int(decimal.group(1)) <= _HYPER_MAX_DECIMAL_PRECISION else "DOUBLE"
    return _HYPER_WIDENED.get(upper, "VARCHAR")


def stage_for_hyper(con: duckdb.DuckDBPyConnection, marts: list[str], folder: Path) -> dict[str, Path]:
    """Each mart as a Parquet file Hyper can load (types cast by :func:`hyper_cast`)."""
    staged = {}
    for name in marts:
        relation = f"main.{quote_ident(name)}"
        select_list = ", ".join(
            quote_ident(column) if (cast := hyper_cast(dtype)) is None
            else f"{quote_ident(column)}::{cast} as {quote_ident(column)}"
            for column, dtype in table_columns(con, relation)
        )
        staged[name] = folder / f"{name}.parquet"
        con.execute(f"copy (select {select_list} from {relation}) to {sql_literal(str(staged[name]))} (format parquet)")
    return staged


@contextmanager
def hyper_process(log_dir: Path) -> Iterator[object]:
    """A local Hyper server that sends no telemetry and logs into ``log_dir``."""
    from tableauhyperapi import HyperException, HyperProcess, Telemetry

    log_dir.mkdir(parents=True, exist_ok=True)  # hyperd will not create it
    try:
        with HyperProcess(
            telemetry=Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_dir": str(log_dir)}
        ) as hyper:
            yield hyper
    except HyperException as exc:
        raise SegrecError(f"Tableau Hyper failed: {exc}") from exc


def write_hyper(parquet_files: Mapping[str, Path], path: Path, log_dir: Path) -> None:
    """A ``.hyper`` file with one table per entry, ``"Extract"."<name>"``, loaded from Parquet."""
    from tableauhyperapi import Connection, CreateMode, TableName, escape_string_literal

    with hyper_process(log_dir) as hyper:
        with Connection(hyper.endpoint, str(path), CreateMode.CREATE_AND_REPLACE) as con:
            con.catalog.create_schema(EXTRACT_SCHEMA)
            for name, parquet in parquet_files.items():
                con.execute_command(
                    f"create table {TableName(EXTRACT_SCHEMA, name)} as "
                    f"(select * from external({escape_string_literal(str(parquet))}))"
                )


def hyper_row_counts(path: Path, log_dir: Path) -> dict[str, int]:
    """``{table: rows}`` of every table in schema ``Extract`` of a ``.hyper`` file."""
    from tableauhyperapi import Connection, CreateMode

    with hyper_process(log_dir) as hyper, Connection(hyper.endpoint, str(path), CreateMode.NONE) as con:
        return {
            table.name.unescaped: con.execute_scalar_query(f"select count(*) from {table}")
            for table in con.catalog.get_table_names(EXTRACT_SCHEMA)
        }


def check_counts(expected: Mapping[str, int], actual: Mapping[str, int], what: str) -> None:
    """Raise unless ``actual`` has exactly the tables and row counts of ``expected``."""
    problems = [
        f"{name}: {actual.get(name, 'missing')} rows, expected {rows}"
        for name, rows in sorted(expected.items())
        if actual.get(name) != rows
    ] + [f"{name}: unexpected table" for name in sorted(set(actual) - set(expected))]
    if problems:
        raise SegrecError(f"{what} does not match the warehouse: {'; '.join(problems)}")
