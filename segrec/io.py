"""Small I/O helpers every layer shares: atomic file writes and required-column checks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa

from segrec.errors import SegrecError


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block succeeds and removed
    when it fails, so readers see the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)  # DuckDB's write-ahead log


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` (folders created) through :func:`atomic_path`."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def require_columns(frame: object, table: str, columns: Iterable[str]) -> None:
    """Raise :class:`SegrecError` naming ``table`` when ``frame`` (pandas or Arrow) lacks any of
    ``columns``."""
    if isinstance(frame, pd.DataFrame):
        present = list(frame.columns)
    elif isinstance(frame, pa.Table):
        present = frame.column_names
    else:
        raise SegrecError(f"{table}: expected a pandas DataFrame or an Arrow table, got {type(frame).__name__}")
    missing = [c for c in columns if c not in present]
    if missing:
        raise SegrecError(
            f"{table}: missing column(s) {', '.join(map(str, missing))} (has: {', '.join(map(str, present))})"
        )
