"""`segrec ingest SOURCE PATH... --out RAW_DIR`: turn a public e-commerce dataset into the raw
contract (see :mod:`segrec.ingest`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from segrec import ingest as ingest_package
from segrec.ingest import SOURCES, ingest
from segrec.ingest.common import write_result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = ingest_package.__doc__  # the sources and their mapping rules
    parser.epilog = "sources:\n" + "\n".join(f"  {s.name:<14} {s.description}" for s in SOURCES.values())
    parser.add_argument("source", choices=list(SOURCES), help="which dataset format PATH is in")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="input file(s) or a directory")
    parser.add_argument(
        "--out", required=True, type=Path, help="raw folder to write (e.g. target/raw/online_retail)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the raw tables already in --out (else refuse)"
    )


def run(args: argparse.Namespace) -> int:
    result = ingest(args.source, args.paths)
    write_result(result, args.out, overwrite=args.overwrite)
    print(result.summary.format())
    print(f"  raw tables written to {args.out}")
    return 0
