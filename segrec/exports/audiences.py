"""Marketing audience files: one CSV and one Parquet file per audience of
``marketing_audiences``, identifying people only through salted ``hashed_*`` ids."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from segrec.errors import SegrecError
from segrec.exports.parquet import copy_to_file, file_entry
from segrec.exports.privacy import HASH_SALT_ENV
from segrec.warehouse import quote_ident, sql_literal, table_columns

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
