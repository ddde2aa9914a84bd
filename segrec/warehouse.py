"""Reading a built warehouse from outside dbt: open it read-only, find its output tables, pick
the latest run. The bottom of the package: the exports, run log, report, results and run use it.

``dbt build`` holds a write lock on the DuckDB file while it runs; everything here opens it
``read_only=True`` and closes it as soon as it is done, so the next build is not blocked.
Tables the build did not produce (yet) are reported as absent, never as errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from segrec.errors import SegrecError

# Boolean columns a model sets on the rows of its latest run.
LATEST_FLAG_COLUMNS: tuple[str, ...] = ("is_latest_run", "is_latest")
# Columns that time-stamp one run of a model, most specific first: the latest run is the
# rows carrying the greatest value of the first one a table has.
RUN_TIME_COLUMNS: tuple[str, ...] = ("trained_at", "evaluated_at", "scored_at", "run_at", "created_at")


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (DuckDB and Hyper share the syntax)."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    """``text`` as a single-quoted SQL string literal (for paths in COPY, which takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


@contextmanager
def open_warehouse(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the DuckDB file at ``path``, closed on exit.

    A missing file or a file locked by a running ``dbt build`` becomes a SegrecError that
    says what to do (DuckDB's own message names the process holding the lock), and so does a
    DuckDB error while reading (e.g. a view whose source files are gone).
    """
    path = Path(path)
    if not path.is_file():
        raise SegrecError(f"no warehouse at {path}: run `dbt build` first")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        raise SegrecError(f"cannot open {path} read-only (is `dbt build` still running?): {exc}") from exc
    try:
        yield con
    except duckdb.Error as exc:
        raise SegrecError(f"reading {path}: {exc}") from exc
    finally:
        con.close()


def warehouse_tables(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> dict[str, str]:
    """``{table or view name: schema}`` of one database (default: the connection's own).

    A name present in several schemas maps to ``main`` if it is there, else to the first
    schema alphabetically, so lookups by bare name are deterministic.
    """
    catalog = catalog or con.sql("select current_database()").fetchall()[0][0]
    rows = con.execute(
        """
        select table_name, table_schema
        from information_schema.tables
        where table_catalog = ?
        order by table_name, table_schema <> 'main', table_schema
        """,
        [catalog],
    ).fetchall()
    tables: dict[str, str] = {}
    for name, schema in rows:
        tables.setdefault(name, schema)
    return tables


def table_columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    """``[(column, DuckDB type)]`` of a relation (any SQL the FROM clause takes), in order."""
    return [(row[0], row[1]) for row in con.sql(f"describe select * from {relation}").fetchall()]


def load_json(path: str | Path | None) -> dict | None:
    """A parsed JSON file (dbt's manifest or run results, a run log), or None when no path is
    given or the file is absent; a damaged file is a SegrecError naming it."""
    if path is None or not Path(path).is_file():
        return None
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise SegrecError(f"{path} is not valid JSON ({exc}): regenerate or delete it") from exc


def manifest_relation(node: Mapping) -> str:
    """The relation name of a manifest node: its alias, else its name."""
    return node.get("alias") or node["name"]


def output_tables(manifest: Mapping) -> set[str]:
    """Relation names of the tables the project publishes, read from a dbt manifest: the
    models under ``marts/`` (an fqn folder ``marts`` or a file under ``models/marts/``) and
    the models its exposures (``models/_exposures.yml``) depend on."""
    nodes = manifest.get("nodes", {})
    names = set()
    for node in nodes.values():
        if node.get("resource_type") != "model":
            continue
        in_marts_folder = "marts" in node.get("fqn", [])[1:-1]
        if in_marts_folder or node.get("original_file_path", "").startswith("models/marts/"):
            names.add(manifest_relation(node))
    for exposure in manifest.get("exposures", {}).values():
        for unique_id in exposure.get("depends_on", {}).get("nodes", []):
            if unique_id in nodes and nodes[unique_id].get("resource_type") == "model":
                names.add(manifest_relation(nodes[unique_id]))
    return names


def mart_tables(available: Iterable[str], manifest: Mapping | None) -> tuple[list[str], list[str]]:
    """The output tables (:func:`output_tables`) to publish, sorted, and notes on what was
    skipped: only tables present in ``available`` are returned, the others are named in the
    notes. Without a manifest there is no list to read: a SegrecError says to run ``dbt parse``."""
    if manifest is None:
        raise SegrecError(
            "no dbt manifest: the output tables are read from it; run `dbt parse` (or `dbt build`) first"
        )
    available = set(available)
    wanted = output_tables(manifest)
    missing = sorted(wanted - available)
    notes = [f"not in the warehouse, skipped: {', '.join(missing)}"] if missing else []
    return sorted(wanted & available), notes


def latest_run_filter(columns: Iterable[str], relation: str) -> str:
    """A WHERE clause keeping the rows of the latest run of ``relation`` ('' = every row).

    The latest run is the rows flagged by the first of :data:`LATEST_FLAG_COLUMNS` the table
    has; else the rows with the greatest value of the first of :data:`RUN_TIME_COLUMNS`; else
    the rows of the ``model_version`` written last (scan order); else the whole table.
    """
    columns = list(columns)
    flag = next((c for c in LATEST_FLAG_COLUMNS if c in columns), None)
    if flag is not None:
        return f"where {quote_ident(flag)}"
    time_column = next((c for c in RUN_TIME_COLUMNS if c in columns), None)
    if time_column is not None:
        col = quote_ident(time_column)
        return f"where {col} = (select max({col}) from {relation})"
    if "model_version" in columns:
        last = (
            f"select model_version from (select model_version, row_number() over () as position "
            f"from {relation}) order by position desc limit 1"
        )
        return f"where model_version = ({last})"
    return ""


def read_latest(con: duckdb.DuckDBPyConnection, table: str, tables: Mapping[str, str]) -> pd.DataFrame | None:
    """The latest run's rows of ``table`` (see :func:`latest_run_filter`), or None when the
    warehouse has no such table."""
    if table not in tables:
        return None
    relation = f"{quote_ident(tables[table])}.{quote_ident(table)}"
    columns = [name for name, _ in table_columns(con, relation)]
    return con.sql(f"select * from {relation} {latest_run_filter(columns, relation)}").df()


def read_table(con: duckdb.DuckDBPyConnection, table: str, tables: Mapping[str, str]) -> pd.DataFrame | None:
    """All rows of ``table``, or None when the warehouse has no such table."""
    if table not in tables:
        return None
    return con.sql(f"select * from {quote_ident(tables[table])}.{quote_ident(table)}").df()


def row_counts(con: duckdb.DuckDBPyConnection, names: Iterable[str], tables: Mapping[str, str]) -> dict[str, int]:
    """``{table: rows}`` for each of ``names`` present in the warehouse."""
    return {
        name: con.sql(f"select count(*) from {quote_ident(tables[name])}.{quote_ident(name)}").fetchall()[0][0]
        for name in names
        if name in tables
    }
