"""Rows of a mart grouped by a key, held as column arrays: one dict lookup and a slice per
request, without one Python object per row (a 100k-customer build has millions of list rows)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_SLICE = 65_536  # rows converted to Python objects at a time (see group_rows)


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
    columns = {name: _to_numpy(table.column(name)) for name in table.column_names}
    n_rows = table.num_rows
    if n_rows == 0:
        return GroupedRows(columns=columns, spans={})
    # A group starts where any key differs from the row before, found by Arrow's kernels (which
    # release the GIL) and turned into the dict in slices: a reload of a build of millions of rows
    # in the background then delays requests by milliseconds, not by the whole conversion.
    starts_here = np.zeros(n_rows, dtype=bool)
    starts_here[0] = True
    for key in keys:
        column = table.column(key).combine_chunks()
        after, before = column.slice(1), column.slice(0, n_rows - 1)
        differs = pc.or_kleene(pc.not_equal(after, before), pc.not_equal(pc.is_null(after), pc.is_null(before)))
        starts_here[1:] |= pc.fill_null(differs, False).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(starts_here)
    stops = np.append(starts[1:], n_rows)
    spans: dict[Hashable, tuple[int, int]] = {}
    for low in range(0, len(starts), _SLICE):
        rows = starts[low:low + _SLICE]
        values = [columns[key][rows].tolist() for key in keys]
        group_keys = zip(*values, strict=True) if len(keys) > 1 else values[0]
        spans.update(zip(group_keys, zip(rows.tolist(), stops[low:low + _SLICE].tolist(), strict=True), strict=True))
    return GroupedRows(columns=columns, spans=spans)


def _to_numpy(column: pa.ChunkedArray, rows: int = _SLICE) -> np.ndarray:
    """The column as numpy, converted ``rows`` at a time: turning millions of strings into Python
    objects holds the GIL, and in slices a reload in the background delays requests by a few
    milliseconds instead of a few hundred."""
    if column.type in (pa.string(), pa.large_string()) and len(column) > rows:
        return np.concatenate([column.slice(start, rows).to_numpy(zero_copy_only=False)
                               for start in range(0, len(column), rows)])
    return column.to_numpy(zero_copy_only=False)
