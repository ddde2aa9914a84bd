"""Write docs/results.md from the per-dataset runs: segrec results [--runs runs] [--out docs/results.md].

Reads every ``<runs>/<dataset>/`` written by ``segrec run`` (its ``run.json`` and its
``warehouse.duckdb``, opened read-only) and renders one Markdown page: per dataset the raw,
clean and quarantined rows (by reason), sessions and, where the source has its own session
ids, how well our sessions reproduce them, the segments found with their quality metrics
and profiles, the recommendation metrics of every strategy against popularity, the
customer-value model (and a calibration / hold-out check where the dataset has one, with
the published CDNOW figures), and the build time. Then the re-ranking control's trade-off
curves, when ``make bench-rerank`` has written them (:mod:`segrec.results.rerank`).
"""

from __future__ import annotations

from pathlib import Path

from segrec.errors import SegrecError
from segrec.io import write_text_atomic
from segrec.results.markdown import render
from segrec.results.measure import build_failures, collect
from segrec.results.rerank import read_curves, rerank_section
from segrec.run import DATASETS, RUN_FILE, datasets_dir

__all__ = ["build_failures", "collect", "render", "write_results"]


def write_results(runs_dir: str | Path, out: str | Path, datasets: str | Path | None = None,
                  rerank_dir: str | Path | None = None) -> tuple[Path, list[str]]:
    """Collect every run under ``runs_dir`` (in :data:`DATASETS` order), and the re-ranking
    curves in ``rerank_dir`` (bench/results/rerank), and write the page."""
    runs_dir, root = Path(runs_dir), datasets_dir(datasets)
    present = [name for name in DATASETS if (runs_dir / name / RUN_FILE).is_file()]
    if not present:
        raise SegrecError(f"no dataset runs in {runs_dir}: run `segrec run <dataset>` first")
    results = [collect(runs_dir / name, root) for name in present]
    missing = [name for name in DATASETS if name not in present]
    section = rerank_section(read_curves(rerank_dir))
    page = render(results, missing, str(runs_dir)) + ("\n" + "\n".join(section) + "\n" if section else "")
    return write_text_atomic(out, page), present
