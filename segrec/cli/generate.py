"""`segrec generate`: write deterministic synthetic raw data with known truth (see :mod:`segrec.generate`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from segrec.generate import generate, summary, write
from segrec.generate.dataset import DEFAULT_END_DATE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `segrec generate`."""
    parser.add_argument("--customers", type=int, default=2000, help="number of customers (default 2000)")
    parser.add_argument("--days", type=int, default=120, help="length of the simulated period (default 120)")
    parser.add_argument("--random-state", type=int, default=42, help="seed of every random draw (default 42)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (raw tables + _truth/)")
    parser.add_argument("--end-date", default=DEFAULT_END_DATE.isoformat(),
                        help=f"last simulated day, YYYY-MM-DD (default {DEFAULT_END_DATE.isoformat()})")


def run(args: argparse.Namespace) -> int:
    """`segrec generate`: generate, write, print the summary."""
    data = generate(args.customers, args.days, args.random_state, args.end_date)
    write(data, args.out)
    print(summary(data, args.out))
    return 0
