"""`segrec summary`: print what a build produced (see :mod:`segrec.summary`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

from segrec.errors import SegrecError
from segrec.summary import format_summary, warehouse_summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="target/segrec.duckdb", help="the DuckDB file dbt built")


def run(args: argparse.Namespace) -> int:
    path = Path(args.db)
    if not path.is_file():
        raise SegrecError(f"no warehouse at {path}: run `dbt build` first")
    with duckdb.connect(str(path), read_only=True) as con:
        print(format_summary(warehouse_summary(con)))
    return 0
