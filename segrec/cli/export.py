"""`segrec export`: publish a built warehouse's output tables as Parquet, a Tableau extract,
a read-only DuckDB copy, marketing audience files and a manifest (see :mod:`segrec.exports`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import duckdb

from segrec.errors import SegrecError
from segrec.exports import HASH_SALT_ENV, export_warehouse
from segrec.warehouse import load_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="target/segrec.duckdb", help="the DuckDB file dbt built")
    parser.add_argument("--out", default="exports", help="folder to write the exports into")
    parser.add_argument(
        "--manifest", default="target/manifest.json",
        help="dbt manifest naming the output tables (marts and exposure inputs); `dbt parse` writes it",
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
