"""`segrec results`: regenerate docs/results.md from the per-dataset runs (see :mod:`segrec.results`)."""

from __future__ import annotations

import argparse

from segrec.results import write_results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", default="runs", help="folder of the per-dataset runs (default runs/)")
    parser.add_argument("--out", default="docs/results.md", help="the Markdown page to write")
    parser.add_argument("--datasets", help="the public datasets folder (for the CDNOW sample customers)")
    parser.add_argument("--rerank", default="bench/results/rerank",
                        help="the re-ranking bench's results (make bench-rerank; default bench/results/rerank)")


def run(args: argparse.Namespace) -> int:
    path, present = write_results(args.runs, args.out, args.datasets, args.rerank)
    print(f"results {path} ({', '.join(present)})")
    return 0
