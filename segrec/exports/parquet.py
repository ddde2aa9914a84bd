"""The output tables as Parquet: snapshot them from the warehouse (after the e-mail scan),
write one file each with its manifest entry, and remove files of tables that are gone."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import duckdb

from segrec.errors import SegrecError
from segrec.exports.privacy import check_no_emails
from segrec.io import atomic_path
from segrec.warehouse import mart_tables, quote_ident, sql_literal, table_columns, warehouse_tables

_SOURCE = "segrec_source"  # alias of the attached warehouse


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_to_file(con: duckdb.DuckDBPyConnection, query: str, path: Path, file_format: str) -> None:
    """Write a query's result to ``path`` atomically as ``parquet`` or ``csv``."""
    options = "format parquet, compression zstd" if file_format == "parquet" else "format csv, header true"
    with atomic_path(path) as tmp:
        con.execute(f"copy ({query}) to {sql_literal(str(tmp))} ({options})")


def file_entry(con: duckdb.DuckDBPyConnection, query: str, path: Path, kind: str) -> dict:
    """The manifest entry of a file written from ``query``: kind, rows, sha256, columns."""
    return {
        "kind": kind,
        "rows": con.sql(f"select count(*) from ({query})").fetchall()[0][0],
        "sha256": sha256_file(path),
        "columns": [{"name": name, "type": dtype} for name, dtype in table_columns(con, f"({query})")],
    }


def prune_stale(folder: Path, keep: set[Path], suffixes: tuple[str, ...]) -> list[Path]:
    """Delete files in ``folder`` with one of ``suffixes`` that are not in ``keep``."""
    if not folder.is_dir():
        return []
    stale = sorted(p for p in folder.iterdir() if p.suffix in suffixes and p not in keep)
    for path in stale:
        path.unlink()
    return stale


def snapshot_marts(
    con: duckdb.DuckDBPyConnection, db_path: Path, manifest: Mapping | None
) -> tuple[list[str], list[str]]:
    """Copy the warehouse's marts into ``con``'s database (sorted, so equal input gives equal
    files) after the e-mail scan; the warehouse is attached read-only only meanwhile."""
    if not db_path.is_file():
        raise SegrecError(f"no warehouse at {db_path}: run `dbt build` first")
    try:
        con.execute(f"attach {sql_literal(str(db_path))} as {_SOURCE} (read_only)")
    except duckdb.IOException as exc:
        raise SegrecError(f"cannot open {db_path} read-only (is `dbt build` still running?): {exc}") from exc
    try:
        tables = warehouse_tables(con, _SOURCE)
        marts, notes = mart_tables(tables, manifest)
        sources = {name: f"{_SOURCE}.{quote_ident(tables[name])}.{quote_ident(name)}" for name in marts}
        check_no_emails(con, sources)
        for name, source in sources.items():
            con.execute(f"create table main.{quote_ident(name)} as select * from {source} order by all")
    finally:
        con.execute(f"detach {_SOURCE}")
    return marts, notes


def write_marts(con: duckdb.DuckDBPyConnection, marts: list[str], folder: Path) -> dict[Path, dict]:
    """Every mart as ``folder/<mart>.parquet``; returns ``{path: manifest entry}``."""
    entries = {}
    for name in marts:
        path, query = folder / f"{name}.parquet", f"select * from main.{quote_ident(name)}"
        copy_to_file(con, query, path, "parquet")
        entries[path] = file_entry(con, query, path, "mart")
    return entries


def model_versions(con: duckdb.DuckDBPyConnection, marts: list[str]) -> dict[str, list[str]]:
    """``{mart: sorted distinct model_version values}`` for the marts with that column."""
    versions = {}
    for name in marts:
        relation = f"main.{quote_ident(name)}"
        if "model_version" in (c for c, _ in table_columns(con, relation)):
            rows = con.sql(
                f"select distinct model_version::varchar from {relation} where model_version is not null order by 1"
            ).fetchall()
            versions[name] = [row[0] for row in rows]
    return versions
