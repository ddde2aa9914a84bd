"""The privacy gates of an export: the PII salt must be a secret, and no exported text
column may hold a clear-text e-mail address."""

from __future__ import annotations

import re
from collections.abc import Mapping

import duckdb

from segrec.dbt_plugin import DEMO_SALT
from segrec.errors import SegrecError
from segrec.warehouse import quote_ident, sql_literal, table_columns

HASH_SALT_ENV = "SEGREC_HASH_SALT"
EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# Column types that cannot hold text; every other column (text, lists, structs, ...) is scanned.
_NON_TEXT_TYPE = re.compile(
    r"^(BOOLEAN|U?TINYINT|U?SMALLINT|U?INTEGER|U?BIGINT|U?HUGEINT|FLOAT|DOUBLE|DECIMAL\(.*\)"
    r"|DATE|TIME.*|TIMESTAMP.*|INTERVAL|UUID|BIT|BIGNUM|VARINT)$"
)


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
