"""Rows of a mart grouped by a key, held as column arrays: one dict lookup and a slice per
request, without one Python object per row (a 100k-customer build has millions of list rows)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class GroupedRows:
    """``columns`` of a table sorted by its key, and ``{key: (start, stop)}`` into them."""

    columns: dict[str, np.ndarray]
    spans: dict[Hashable, tuple[int, int]]

    def __contains__(self, key: Hashable) -> bool:
        return key in self.spans

    def __len__(self) -> int:
        return len(self.spans)

    def rows(self, key: Hashable, names: Sequence[str] | None = None) -> list[dict]:
        """The rows of ``key`` in sort order, as dicts of ``names`` (default: every column)."""
        span = self.spans.get(key)
        if span is None:
            return []
        start, stop = span
        names = list(self.columns) if names is None else names
        return [{name: _plain(self.columns[name][i]) for name in names} for i in range(start, stop)]


def _plain(value: object) -> object:
    """A numpy scalar as the Python value JSON can carry (NaN as None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def group_rows(table: pa.Table, keys: Sequence[str], order: Sequence[str] = ()) -> GroupedRows:
    """Group ``table`` by ``keys`` (a tuple key when several, else the value), rows of one
    group sorted by ``order``."""
    table = table.sort_by([(name, "ascending") for name in (*keys, *order)])
    columns = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    key_values = list(zip(*(columns[k].tolist() for k in keys), strict=True))
    spans: dict[Hashable, tuple[int, int]] = {}
    start = 0
    for i in range(1, len(key_values) + 1):
        if i == len(key_values) or key_values[i] != key_values[start]:
            key = key_values[start] if len(keys) > 1 else key_values[start][0]
            spans[key] = (start, i)
            start = i
    return GroupedRows(columns=columns, spans=spans)
