"""Turn a public e-commerce dataset into the raw contract: segrec ingest SOURCE PATH... --out RAW_DIR.

Sources: online_retail (UCI Online Retail / Online Retail II), cdnow, diginetica, rees46,
olist. PATH is one or more files, or a directory of them. The command writes the raw
tables (events, products, customers as the source allows) and ingest_summary.json into
RAW_DIR, and prints how every source row was written or deliberately dropped. The
mapping rules of each source are in the docstring of its module, segrec/ingest/<source>.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from segrec.errors import SegrecError
from segrec.ingest import cdnow, diginetica, olist, online_retail, rees46
from segrec.ingest.common import IngestResult, IngestSummary, Source

__all__ = ["SOURCES", "IngestResult", "IngestSummary", "Source", "ingest"]

SOURCES: dict[str, Source] = {
    s.name: s for s in (online_retail.SOURCE, cdnow.SOURCE, diginetica.SOURCE, rees46.SOURCE, olist.SOURCE)
}


def ingest(source: str, paths: Sequence[str | Path]) -> IngestResult:
    """Read ``paths`` as ``source`` and map them to raw contract tables (nothing written)."""
    if source not in SOURCES:
        raise SegrecError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    return SOURCES[source].ingest(paths)
