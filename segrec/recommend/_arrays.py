"""Small array helpers shared by the recommenders: row-wise top-k, score scaling and text
membership."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Cells of a rows x catalog array worked on at a time where one pass over a row block is followed
# by more (blend, mask, top-k): the block's arrays stay in the CPU cache between passes (with 6
# arrays blended and a top 50 taken, 3x faster than 2,000,000-cell passes; measured on 19,047
# products), and the temporaries of a selection (an index per cell) stay small.
CELLS_PER_BLOCK = 262_144


def row_blocks(n_rows: int, n_cols: int) -> list[slice]:
    """Consecutive row slices of about CELLS_PER_BLOCK cells each (at least one row)."""
    size = max(1, CELLS_PER_BLOCK // max(n_cols, 1))
    return [slice(i, min(i + size, n_rows)) for i in range(0, n_rows, size)]


def top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns and values of the ``k`` largest entries of each row, best first.

    Ties are broken by the lower column index, so the result does not depend on how the
    selection algorithm happens to order equal values. ``k`` is capped at the row length.
    """
    scores = np.asarray(scores)
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    if k <= 0 or n_rows == 0:
        return np.empty((n_rows, 0), dtype=np.int64), np.empty((n_rows, 0), dtype=scores.dtype)
    if k == n_cols:
        cols = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    else:
        # argpartition finds the k largest in one pass; it is exact unless the k-th value ties
        # with a column it left out, and only those rows take the tie-aware path.
        cols = np.sort(_k_largest_columns(scores, k), axis=1)
        kth = np.take_along_axis(scores, cols, axis=1).min(axis=1, keepdims=True)
        tied = np.flatnonzero((scores >= kth).sum(axis=1) != k)
        if len(tied):
            cols[tied] = _top_k_columns_with_ties(scores[tied], k)
    return ordered_rows(cols, np.take_along_axis(scores, cols, axis=1))


def top_k_entries(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` largest positive entries of each row of a sparse matrix given as (row, column,
    value) triples: their rows, columns and values, rows ascending, best first within a row,
    ties to the lower column. The entries :func:`top_k_rows` keeps above zero from the dense
    rows (entries not given count as zero), without making the rows dense."""
    positive = values > 0
    rows, cols, values = rows[positive], cols[positive], values[positive]
    if k <= 0 or len(rows) == 0:
        return rows[:0], cols[:0], values[:0]
    by_row = np.argsort(rows, kind="stable")
    rows, cols, values = rows[by_row], cols[by_row], values[by_row]
    # rows longer than k: only entries at least the row's k-th largest value can be chosen
    # (a partition per long row; sorting every entry costs more where rows hold thousands)
    bounds = np.flatnonzero(np.diff(rows, prepend=-1, append=-1))
    threshold = np.full(len(rows), -np.inf)
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        if stop - start > k:
            threshold[start:stop] = np.partition(values[start:stop], stop - start - k)[stop - start - k]
    near = values >= threshold
    rows, cols, values = rows[near], cols[near], values[near]
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    first = np.searchsorted(rows, rows, side="left")  # where each entry's row starts
    chosen = np.arange(len(rows)) - first < k
    return rows[chosen], cols[chosen], values[chosen]


def ordered_rows(items: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's items by descending value, padding (item -1) last; equal values keep their
    order in the row."""
    order = np.argsort(-np.where(items >= 0, values, -np.inf), axis=1, kind="stable")
    return np.take_along_axis(items, order, axis=1), np.take_along_axis(values, order, axis=1)


def _k_largest_columns(scores: np.ndarray, k: int) -> np.ndarray:
    """The columns of ``k`` largest entries of each row, in no order (ties: any of them).

    numpy's selection slows down several times on rows dominated by one repeated value (the zeros
    of a co-occurrence row, the -inf of masked items) when asked for the top end of the row, and
    not when asked for the k smallest of the negated row; on rows of distinct values it is the
    other way round. A sample of the first row decides: both give the same selection up to ties,
    which top_k_rows settles the same way.
    """
    n_cols = scores.shape[1]
    sample = scores[0, : min(n_cols, 1_000)]
    _, counts = np.unique(sample, return_counts=True)
    if k < n_cols // 2 and counts.max(initial=0) * 2 > len(sample):
        return np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return np.argpartition(scores, n_cols - k, axis=1)[:, n_cols - k :]


def _top_k_columns_with_ties(scores: np.ndarray, k: int) -> np.ndarray:
    """The columns of the ``k`` largest entries of each row, ascending, lowest-index ties first."""
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
    above = scores > kth
    ties = scores == kth
    needed = k - above.sum(axis=1, keepdims=True)
    chosen = above | (ties & (np.cumsum(ties, axis=1) <= needed))
    return np.nonzero(chosen)[1].reshape(len(scores), k)


def row_ranks(scores: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """1-based rank of each cell ``scores[rows[i], cols[i]]`` within its row, best first, ties
    by the lower column: its position in a stable sort of the row by descending score.

    Why not sort every row: a row of a whole catalog is sorted once by value (no indices),
    and only the asked cells are looked up; rows where an asked value is tied fall back to
    the full stable sort.
    """
    scores = np.asarray(scores)
    ranks = np.zeros(len(rows), dtype=np.int64)
    if len(rows) == 0:
        return ranks
    values = scores[rows, cols]
    order = np.argsort(rows, kind="stable")
    bounds = np.searchsorted(rows[order], np.arange(scores.shape[0] + 1))
    width = scores.shape[1]
    for r in np.unique(rows):
        chosen = order[bounds[r] : bounds[r + 1]]
        ordered = np.sort(scores[r])
        right = np.searchsorted(ordered, values[chosen], side="right")
        if (right - np.searchsorted(ordered, values[chosen], side="left") > 1).any():
            position = np.empty(width, dtype=np.int64)
            position[np.argsort(-scores[r], kind="stable")] = np.arange(width)
            ranks[chosen] = position[cols[chosen]] + 1
        else:
            ranks[chosen] = width - right + 1
    return ranks


def scale_rows(scores: np.ndarray) -> np.ndarray:
    """Positive part of each row (or a 1-D vector) divided by the row maximum, in [0, 1].

    Strategies score on different scales (dot products, counts, cosines); blending needs
    them comparable. Non-positive scores become 0 rather than a middle value: an item ALS
    knows nothing about (zero factors) must not gain from a customer's negative tail.
    """
    out = np.maximum(np.asarray(scores, dtype=np.float32), 0.0)
    if out.size == 0:
        return out
    top = out.max(axis=-1, keepdims=True)
    out *= np.divide(1.0, top, out=np.zeros_like(top), where=top > 0)
    return out


def text_in(values: pd.Series | np.ndarray, members: pa.Array | Iterable[str]) -> np.ndarray:
    """Whether each text value is one of ``members`` (a NumPy bool array; a missing value is
    not). Why not ``Series.isin``: on Arrow-backed text, pandas turns its argument into Python
    objects one by one on every call; the ranker's active-product filter (19,047 products, a
    call per batch of customers) took 37 s at 10M events. Pass ``members`` as an Arrow array to
    reuse it across calls."""
    if not isinstance(members, pa.Array):
        members = pa.array(list(members), type=pa.string())
    column = pa.array(values, type=pa.string(), from_pandas=True)
    return pc.fill_null(pc.is_in(column, value_set=members), False).to_numpy(zero_copy_only=False)
