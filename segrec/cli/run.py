"""`segrec run DATASET`: ingest one public dataset, then build, export and report it into its own
folder (see :mod:`segrec.run`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from segrec import run as run_module
from segrec.run import DATASETS, DATASETS_ENV, run_dataset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = run_module.__doc__  # what a run writes where
    parser.epilog = "datasets:\n" + "\n".join(f"  {s.name:<17} {s.description}" for s in DATASETS.values())
    parser.add_argument("dataset", choices=list(DATASETS), help="which public dataset to run")
    parser.add_argument("--out", type=Path, help="folder for everything the run writes (default runs/DATASET)")
    parser.add_argument(
        "--datasets", type=Path, help=f"the public datasets folder (default ${DATASETS_ENV} or ../shared/datasets)"
    )
    parser.add_argument(
        "--allow-demo-salt", action="store_true", help="export although SEGREC_HASH_SALT is unset (as `make demo`)"
    )
    parser.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from scratch")


def run(args: argparse.Namespace) -> int:
    out = args.out or Path("runs") / args.dataset
    document = run_dataset(args.dataset, out, datasets=args.datasets, allow_demo_salt=args.allow_demo_salt,
                           full_refresh=args.full_refresh)
    print(
        f"segrec run {args.dataset}: built in {document['build_seconds']:.0f} s "
        f"({', '.join(f'{n} {s}' for s, n in document['build_statuses'].items())}); "
        f"outputs in {Path(out).resolve()}"
    )
    return 0
