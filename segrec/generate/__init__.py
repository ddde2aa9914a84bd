"""Write deterministic synthetic raw data (the eight raw tables of DESIGN.md) and its ground
truth (personas, expected quarantine reasons, identities, experiment effects) to a folder.

Same arguments, byte-identical files: the output never depends on today's date.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from segrec.generate.dataset import DEFAULT_END_DATE, TRUTH_DIR, GeneratedData, generate, write

__all__ = ["GeneratedData", "add_arguments", "generate", "run", "summary", "write"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `segrec generate`."""
    parser.add_argument("--customers", type=int, default=2000, help="number of customers (default 2000)")
    parser.add_argument("--days", type=int, default=120, help="length of the simulated period (default 120)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (raw tables + _truth/)")
    parser.add_argument("--end-date", default=DEFAULT_END_DATE.isoformat(),
                        help=f"last simulated day, YYYY-MM-DD (default {DEFAULT_END_DATE.isoformat()})")


def summary(data: GeneratedData, out_dir: Path | str) -> str:
    """One paragraph: rows per table and injected dirt per kind."""
    counts = data.counts
    rows = ", ".join(f"{name} {len(frame):,}" for name, frame in data.tables.items())
    dirt = ", ".join(f"{name[len('dirt_'):]} {n:,}" for name, n in counts.items() if name.startswith("dirt_"))
    arguments = data.params["arguments"]
    return (
        f"Generated {arguments['customers']:,} customers over {arguments['days']} days ending "
        f"{arguments['end_date']} (seed {arguments['seed']}) into {out_dir}. Rows: {rows}. "
        f"Events expected in quarantine: {counts['rows_events_quarantine_expected']:,}; injected dirt "
        f"(rows): {dirt}. Customers: {counts['customers_missing']:,} with events but no record, "
        f"{counts['customers_duplicated']:,} listed twice; privacy requests: "
        f"{counts['privacy_delete_requests']:,} delete, {counts['privacy_opt_out_requests']:,} opt-out. "
        f"Ground truth in {Path(out_dir) / TRUTH_DIR}."
    )


def run(args: argparse.Namespace) -> int:
    """`segrec generate`: generate, write, print the summary."""
    data = generate(args.customers, args.days, args.seed, args.end_date)
    write(data, args.out)
    print(summary(data, args.out))
    return 0
