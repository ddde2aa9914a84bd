"""Write the static segment report: ONE self-contained HTML file (inline CSS and SVG, no
JavaScript, nothing fetched over the network) with build facts, segment sizes and profiles,
the PCA scatter, silhouette by k, an RFM heatmap, segment transitions, recommendation
metrics and experiment results. A section whose table is absent says so.
"""

from segrec.report.page import build_facts, build_report, render_page, rfm_counts, write_report

__all__ = ["build_facts", "build_report", "render_page", "rfm_counts", "write_report"]
