"""`segrec docs`: write docs/architecture-dag.md, the dbt DAG by layer and domain as a Mermaid
flowchart, from dbt's manifest (run `dbt parse` first; nothing is built)."""

from __future__ import annotations

import argparse

from segrec.docs import write_architecture
from segrec.errors import SegrecError
from segrec.warehouse import load_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", default="target/manifest.json", help="dbt's manifest.json (`dbt parse`)")
    parser.add_argument("--out", default="docs/architecture-dag.md", help="the Markdown page to write")


def run(args: argparse.Namespace) -> int:
    manifest = load_json(args.manifest)
    if manifest is None:
        raise SegrecError(f"no dbt manifest at {args.manifest}: run `dbt parse` first, then `segrec docs`")
    path = write_architecture(manifest, args.out)
    print(f"architecture {path}")
    return 0
