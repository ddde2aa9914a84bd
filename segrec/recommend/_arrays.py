"""Small array helpers shared by the recommenders: row-wise top-k and score scaling."""

from __future__ import annotations

import numpy as np


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
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
    above = scores > kth
    ties = scores == kth
    # Exactly k per row: everything above the k-th value, then the lowest-index ties.
    needed = k - above.sum(axis=1, keepdims=True)
    chosen = above | (ties & (np.cumsum(ties, axis=1) <= needed))
    cols = np.nonzero(chosen)[1].reshape(n_rows, k)
    values = np.take_along_axis(scores, cols, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(cols, order, axis=1), np.take_along_axis(values, order, axis=1)


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
