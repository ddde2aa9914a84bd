"""Write deterministic synthetic raw data (the eight raw tables of the raw contract,
docs/raw-contract.md) and its ground truth (personas, expected quarantine reasons,
identities, experiment effects) to a folder.

Same arguments, byte-identical files: the output never depends on today's date.
"""

from __future__ import annotations

from pathlib import Path

from segrec.generate.dataset import TRUTH_DIR, GeneratedData, generate, write

__all__ = ["GeneratedData", "generate", "summary", "write"]


def summary(data: GeneratedData, out_dir: Path | str) -> str:
    """One paragraph: rows per table and injected dirt per kind."""
    counts = data.counts
    rows = ", ".join(f"{name} {len(frame):,}" for name, frame in data.tables.items())
    dirt = ", ".join(f"{name[len('dirt_'):]} {n:,}" for name, n in counts.items() if name.startswith("dirt_"))
    arguments = data.params["arguments"]
    return (
        f"Generated {arguments['customers']:,} customers over {arguments['days']} days ending "
        f"{arguments['end_date']} (random_state {arguments['random_state']}) into {out_dir}. Rows: {rows}. "
        f"Events expected in quarantine: {counts['rows_events_quarantine_expected']:,}; injected dirt "
        f"(rows): {dirt}. Customers: {counts['customers_missing']:,} with events but no record, "
        f"{counts['customers_duplicated']:,} listed twice; privacy requests: "
        f"{counts['privacy_delete_requests']:,} delete, {counts['privacy_opt_out_requests']:,} opt-out. "
        f"Ground truth in {Path(out_dir) / TRUTH_DIR}."
    )
