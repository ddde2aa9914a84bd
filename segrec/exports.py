"""Publish a built warehouse: marts as Parquet, a Tableau extract, a read-only DuckDB copy,
marketing audience files and a manifest, so BI and marketing tools never hold the file
``dbt build`` writes.

Layout under ``--out`` (default ``exports/``)::

    marts/<table>.parquet           every mart
    tableau/segrec.hyper            every mart as a table in schema "Extract" (read back and counted)
    segrec_published.duckdb         the marts, for tools that want SQL
    audiences/<audience>.csv|.parquet   one file pair per marketing audience, hashed ids only
    manifest.json                   generated_at, per file rows / sha256 / columns, model versions

Privacy gates, checked before anything is written: the PII salt must not be the public demo
salt (unless ``--allow-demo-salt``), and no exported text column may hold a clear-text e-mail
address. Every file is written to a temporary name and renamed into place, and files of marts
or audiences that no longer exist are removed, so a deleted customer leaves no stale file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from segrec.dbt_plugin import DEMO_SALT
from segrec.errors import SegrecError
from segrec.report.warehouse import (
    load_json,
    mart_tables,
    quote_ident,
    row_counts,
    sql_literal,
    table_columns,
    warehouse_tables,
)

HASH_SALT_ENV = "SEGREC_HASH_SALT"
PUBLISHED_NAME = "segrec_published.duckdb"
HYPER_PATH = Path("tableau") / "segrec.hyper"
EXTRACT_SCHEMA = "Extract"
AUDIENCE_TABLE = "marketing_audiences"
AUDIENCE_COLUMN = "audience"
# Audience files identify people only through salted SHA-256 columns named hashed_*; these
# columns are dropped from them (customer_key is an unsalted md5 of the source id).
HASHED_PREFIX = "hashed_"
IDENTIFYING_COLUMNS: tuple[str, ...] = (
    "customer_key", "customer_id", "anonymous_id", "email", "name", "first_name", "last_name", "phone",
)
# Set by the build on marketing_audiences rows hashed with the demo salt: the salt gate then
# holds even when SEGREC_HASH_SALT differs between `dbt build` and the export.
DEMO_SALT_FLAG = "hashed_with_demo_salt"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# Column types that cannot hold text; every other column (text, lists, structs, ...) is scanned.
_NON_TEXT_TYPE = re.compile(
    r"^(BOOLEAN|U?TINYINT|U?SMALLINT|U?INTEGER|U?BIGINT|U?HUGEINT|FLOAT|DOUBLE|DECIMAL\(.*\)"
    r"|DATE|TIME.*|TIMESTAMP.*|INTERVAL|UUID|BIT|BIGNUM|VARINT)$"
)
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
_SOURCE = "segrec_source"  # alias of the attached warehouse


# ---------------------------------------------------------------------------- privacy gates
def check_salt(salt: str | None, allow_demo_salt: bool = False) -> None:
    """Refuse to export when the PII salt is unset or the public demo salt, unless allowed.

    Hashes made with a published salt can be reversed by hashing candidate e-mails.
    """
    if allow_demo_salt or (salt and salt != DEMO_SALT):
        return
    problem = "is not set" if not salt else f"is the public demo salt {DEMO_SALT!r}"
    raise SegrecError(
        f"{HASH_SALT_ENV} {problem}: audience hashes would be reversible. Set a secret {HASH_SALT_ENV}, "
        "rebuild with `dbt build`, and export again (or pass --allow-demo-salt for the demo)"
    )


def is_text_like(duckdb_type: str) -> bool:
    """Whether a column of this DuckDB type can hold text (nested types can)."""
    return not _NON_TEXT_TYPE.match(duckdb_type.upper())


def find_emails(con: duckdb.DuckDBPyConnection, relations: Mapping[str, str]) -> dict[str, int]:
    """``{"table.column": rows holding an e-mail address}`` over every text-like column of
    ``relations`` (``{table: SQL relation}``); columns without any are left out."""
    found: dict[str, int] = {}
    for table, relation in relations.items():
        columns = [name for name, dtype in table_columns(con, relation) if is_text_like(dtype)]
        if not columns:
            continue
        pattern = sql_literal(EMAIL_PATTERN)
        counts = con.sql(
            "select "
            + ", ".join(f"count(*) filter (regexp_matches({quote_ident(c)}::varchar, {pattern}))" for c in columns)
            + f" from {relation}"
        ).fetchall()[0]
        found |= {f"{table}.{column}": n for column, n in zip(columns, counts, strict=True) if n}
    return found


def check_no_emails(con: duckdb.DuckDBPyConnection, relations: Mapping[str, str]) -> None:
    """Raise, naming the columns but never the addresses, if any text column holds an e-mail."""
    found = find_emails(con, relations)
    if found:
        where = ", ".join(f"{column} ({n} rows)" for column, n in sorted(found.items()))
        raise SegrecError(
            f"clear-text e-mail addresses in {where}: refusing to export; hash or drop these columns in the model"
        )


def audience_columns(columns: list[tuple[str, str]]) -> list[str]:
    """The columns of ``marketing_audiences`` that go into audience files: all but the
    identifying ones; at least one salted ``hashed_*`` id must remain."""
    names = [name for name, _ in columns]
    if AUDIENCE_COLUMN not in names:
        raise SegrecError(f"{AUDIENCE_TABLE} has no column {AUDIENCE_COLUMN!r}: cannot split audiences")
    kept = [name for name in names if name not in (*IDENTIFYING_COLUMNS, DEMO_SALT_FLAG)]
    if not any(name.startswith(HASHED_PREFIX) for name in kept):
        raise SegrecError(
            f"{AUDIENCE_TABLE} has no {HASHED_PREFIX}* column: audience files need a salted hashed id"
        )
    return kept


def check_build_salt(con: duckdb.DuckDBPyConnection, marts: list[str], allow_demo_salt: bool = False) -> None:
    """Refuse when ``marketing_audiences`` says its hashes were made with the demo salt."""
    if allow_demo_salt or AUDIENCE_TABLE not in marts:
        return
    relation = f"main.{quote_ident(AUDIENCE_TABLE)}"
    if DEMO_SALT_FLAG not in (name for name, _ in table_columns(con, relation)):
        return
    flagged = con.sql(f"select count(*) from {relation} where {DEMO_SALT_FLAG}").fetchall()[0][0]
    if flagged:
        raise SegrecError(
            f"{AUDIENCE_TABLE}.{DEMO_SALT_FLAG}: {flagged} rows were hashed with the public demo salt at build time; "
            f"rebuild with a secret {HASH_SALT_ENV} (or pass --allow-demo-salt for the demo)"
        )


def check_hashed_values(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> None:
    """Every non-null value of every ``hashed_*`` column must be a lower-case SHA-256 hex digest."""
    for column in (c for c in columns if c.startswith(HASHED_PREFIX)):
        bad = con.sql(
            f"select count(*) from {relation} where {quote_ident(column)} is not null "
            f"and not regexp_full_match({quote_ident(column)}::varchar, {sql_literal(SHA256_PATTERN)})"
        ).fetchall()[0][0]
        if bad:
            raise SegrecError(f"{AUDIENCE_TABLE}.{column}: {bad} values are not SHA-256 hex digests")


def audience_slug(audience: str) -> str:
    """A file name for an audience: lower case, runs of other characters as ``_``."""
    slug = re.sub(r"[^a-z0-9]+", "_", str(audience).strip().lower()).strip("_")
    if not slug:
        raise SegrecError(f"{AUDIENCE_TABLE}.{AUDIENCE_COLUMN}: {audience!r} cannot be a file name")
    return slug


# ---------------------------------------------------------------------------- files
@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block succeeds and removed
    when it fails, so readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)


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


# ---------------------------------------------------------------------------- steps
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


def write_audiences(con: duckdb.DuckDBPyConnection, marts: list[str], folder: Path) -> dict[Path, dict]:
    """One CSV and one Parquet file per ``audience`` of ``marketing_audiences``, with the
    identifying columns dropped; returns ``{path: manifest entry}`` ({} without the table)."""
    if AUDIENCE_TABLE not in marts:
        return {}
    relation = f"main.{quote_ident(AUDIENCE_TABLE)}"
    columns = audience_columns(table_columns(con, relation))
    check_hashed_values(con, relation, columns)
    audiences = [row[0] for row in con.sql(f"select distinct {AUDIENCE_COLUMN} from {relation} order by 1").fetchall()]
    if None in audiences:
        raise SegrecError(f"{AUDIENCE_TABLE}.{AUDIENCE_COLUMN} is null in some rows: every row needs an audience")
    slugs = {audience: audience_slug(audience) for audience in audiences}
    if len(set(slugs.values())) < len(slugs):
        raise SegrecError(f"{AUDIENCE_TABLE}: audiences {audiences} do not map to distinct file names")
    select_list = ", ".join(quote_ident(c) for c in columns)
    entries = {}
    for audience, slug in slugs.items():
        query = f"select {select_list} from {relation} where {AUDIENCE_COLUMN} = {sql_literal(audience)}"
        for file_format in ("csv", "parquet"):
            path = folder / f"{slug}.{file_format}"
            copy_to_file(con, query, path, file_format)
            entries[path] = file_entry(con, query, path, "audience") | {"audience": audience}
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


# ---------------------------------------------------------------------------- Tableau
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


# ---------------------------------------------------------------------------- the export
def export_warehouse(
    db_path: str | Path,
    out_dir: str | Path,
    manifest: Mapping | None = None,
    *,
    salt: str | None,
    allow_demo_salt: bool = False,
) -> dict:
    """Write every export of the warehouse at ``db_path`` under ``out_dir``; returns the
    manifest document (also written as ``out_dir/manifest.json``).

    ``manifest`` is the parsed dbt manifest that names the marts (None: DESIGN.md's list);
    ``salt`` is the PII salt the build used (SEGREC_HASH_SALT), checked by :func:`check_salt`.
    """
    check_salt(salt, allow_demo_salt)
    db_path, out_dir = Path(db_path), Path(out_dir)
    files: dict[Path, dict] = {}
    with (
        atomic_path(out_dir / PUBLISHED_NAME) as published,
        tempfile.TemporaryDirectory(prefix="segrec-export-") as scratch,
    ):
        # The published copy is the snapshot every other file is written from.
        with duckdb.connect(str(published)) as con:
            marts, notes = snapshot_marts(con, db_path, manifest)
            check_build_salt(con, marts, allow_demo_salt)
            counts = row_counts(con, marts, {name: "main" for name in marts})
            files |= write_marts(con, marts, out_dir / "marts")
            files |= write_audiences(con, marts, out_dir / "audiences")
            if AUDIENCE_TABLE not in marts:
                notes.append(f"{AUDIENCE_TABLE} absent: no audience files")
            versions = model_versions(con, marts)
            staged = stage_for_hyper(con, marts, Path(scratch))
        hyper_path = out_dir / HYPER_PATH
        with atomic_path(hyper_path) as tmp_hyper:
            write_hyper(staged, tmp_hyper, Path(scratch) / "hyper_logs")
            check_counts(counts, hyper_row_counts(tmp_hyper, Path(scratch) / "hyper_logs"), f"{hyper_path}")
    files[hyper_path] = {"kind": "tableau", "tables": counts, "sha256": sha256_file(hyper_path)}
    files[out_dir / PUBLISHED_NAME] = {
        "kind": "warehouse", "tables": counts, "sha256": sha256_file(out_dir / PUBLISHED_NAME)
    }
    removed = prune_stale(out_dir / "marts", set(files), (".parquet",))
    removed += prune_stale(out_dir / "audiences", set(files), (".csv", ".parquet"))
    notes += [f"removed stale {path.relative_to(out_dir).as_posix()}" for path in removed]
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "source": str(db_path),
        "demo_salt": not salt or salt == DEMO_SALT,
        "model_versions": versions,
        "notes": notes,
        "files": {path.relative_to(out_dir).as_posix(): entry for path, entry in sorted(files.items())},
    }
    with atomic_path(out_dir / "manifest.json") as tmp:
        tmp.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return document


# ---------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="target/segrec.duckdb", help="the DuckDB file dbt built")
    parser.add_argument("--out", default="exports", help="folder to write the exports into")
    parser.add_argument(
        "--manifest", default="target/manifest.json",
        help="dbt manifest naming the marts (if absent: DESIGN.md's output tables)",
    )
    parser.add_argument(
        "--allow-demo-salt", action="store_true",
        help=f"export even though {HASH_SALT_ENV} is unset or the public demo salt (demo only)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        document = export_warehouse(
            args.db, args.out, load_json(args.manifest),
            salt=os.environ.get(HASH_SALT_ENV), allow_demo_salt=args.allow_demo_salt,
        )
    except duckdb.Error as exc:  # e.g. a mart that is a view over files that are gone
        raise SegrecError(f"exporting {args.db}: {exc}") from exc
    for name, entry in document["files"].items():
        size = f"{entry['rows']:>10,} rows" if "rows" in entry else f"{len(entry['tables']):>10} tables"
        print(f"{size}  {Path(args.out) / name}")
    for note in document["notes"]:
        print(f"note: {note}")
    return 0
