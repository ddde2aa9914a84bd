"""The re-ranking control's section of docs/results.md, from ``bench/results/rerank/<name>.json``
(written by ``make bench-rerank``, bench/bench_rerank.py): per warehouse and list, NDCG@10 against
long-tail share@10 and the other bias metrics at each setting of var recommendation_rerank."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from segrec.results.markdown import markdown_table

CURVE_K = 10
# NDCG first (the cost), then the bias metrics the control moves (segrec.recommend.evaluation).
CURVE_METRICS: tuple[str, ...] = ("ndcg", "long_tail_share", "exposure_gini", "popularity_lift", "category_kl")
CURVE_HEADER: tuple[str, ...] = ("method", "weight", "NDCG@10", "NDCG cost", "long-tail share@10",
                                 "exposure Gini@10", "popularity lift@10", "category KL@10")


def read_curves(folder: str | Path | None) -> list[dict]:
    """Every ``<folder>/*.json`` of the bench, the sample first; none when the folder is absent."""
    if folder is None or not Path(folder).is_dir():
        return []
    curves = [json.loads(path.read_text()) for path in sorted(Path(folder).glob("*.json"))]
    return sorted(curves, key=lambda c: (c["dataset"] != "sample", c["dataset"]))


def cost(value: float, reference: float) -> str:
    """NDCG lost against the ranker's order, relative (``-`` at the reference itself)."""
    if value == reference or not reference:
        return "-"
    return f"{(value - reference) / reference:+.1%}"


def curve_rows(settings: Sequence[Mapping], strategy: str) -> list[list[object]]:
    """One row per setting of one list (``ranker_<list_type>``), the ranker's order first."""
    chosen = [s for s in settings if s["strategy"] == strategy]
    reference = next(s["ndcg"] for s in chosen if s["method"] == "none")
    return [[s["method"], f"{s['weight']:.2f}", s["ndcg"], cost(s["ndcg"], reference),
             *(s.get(metric) for metric in CURVE_METRICS[1:])] for s in chosen]


def curve_chart(settings: Sequence[Mapping], strategy: str, method: str = "long_tail") -> list[str]:
    """NDCG@10 against long-tail share@10 of one list as a Mermaid line chart (GitHub draws it):
    the ranker's order, then ``method`` by weight; the x labels are the long-tail shares (evenly
    spaced, not to scale)."""
    points = [s for s in settings if s["strategy"] == strategy and s["method"] in ("none", method)]
    points = sorted(points, key=lambda s: s["weight"])
    shares = ", ".join(f'"{s["long_tail_share"]:.3f}"' for s in points)
    return ["```mermaid", "xychart-beta",
            f'    title "{strategy}, {method} weight {points[0]["weight"]:g} to {points[-1]["weight"]:g}"',
            f'    x-axis "long-tail share@{CURVE_K}" [{shares}]', f'    y-axis "NDCG@{CURVE_K}"',
            "    line [" + ", ".join(f"{s['ndcg']:.4f}" for s in points) + "]", "```"]


def rerank_section(curves: Sequence[Mapping]) -> list[str]:
    """The page section; nothing without bench results."""
    if not curves:
        return []
    lines = [
        "## Re-ranking control: accuracy against popularity bias",
        "",
        "Var `recommendation_rerank` re-orders the ranker's `discover` and `blended` lists before the category "
        "cap (`segrec.recommend.bias_rerank`): `long_tail` = score - weight x popularity, both scaled within each "
        "customer's best `pool` candidates; `calibrated` = Steck's greedy pull toward the customer's category mix. "
        "Weight 0 is the ranker's order (= `recommendation_metrics`). Each warehouse's test-cutoff candidates are "
        "scored once and re-ranked at every setting, judged on the same temporal hold-out (`make bench-rerank`, "
        "bench/bench_rerank.py); NDCG cost is relative to weight 0. Bias metrics as in `recommendation_metrics`: "
        "long-tail share (listed items outside the head that makes 80% of interactions), exposure Gini (0 = even "
        "exposure), popularity lift (list popularity over the customer's history's), category KL (0 = the list "
        "mirrors the customer's category mix).",
    ]
    for curve in curves:
        categories = "" if curve["has_categories"] else (
            " The catalog has no categories: `calibrated` would be the ranker's order (left out) and category KL is "
            "undefined.")
        lines += ["", f"### {curve['dataset']}", "",
                  f"{curve['customers']:,} evaluated customers, lists of {curve['list_length']} judged at "
                  f"k = {curve['k']}, category cap {curve['max_per_category']}.{categories}"]
        for strategy in sorted({s["strategy"] for s in curve["settings"]}):
            lines += ["", f"`{strategy}`:", "", markdown_table(CURVE_HEADER, curve_rows(curve["settings"], strategy)),
                      "", *curve_chart(curve["settings"], strategy)]
    return lines
