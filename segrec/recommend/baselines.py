"""Baseline scorers: popularity, segment popularity, trending, item co-occurrence, content.

Each returns plain arrays aligned to the columns of one interaction matrix, so the hybrid
can blend them and the evaluation can rank by any one of them alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from segrec.errors import SegrecError
from segrec.io import require_columns
from segrec.recommend._arrays import top_k_entries, top_k_rows
from segrec.recommend.data import PATH_SEPARATOR, is_text, path_levels

# Weight of each product attribute in the content vector. Every level of the category
# path is a token, so products that share a deeper level are more alike.
CONTENT_WEIGHTS: dict[str, float] = {"category_path": 1.0, "brand": 1.0, "color": 0.5, "price_band": 0.5}
# Similarities are computed for this many matrix cells at a time (about 32 MB of float64).
CELLS_PER_BATCH = 4_000_000


def popularity_scores(binary: sp.csr_matrix) -> np.ndarray:
    """Global popularity: the number of distinct customers who interacted with each product."""
    return np.bincount(binary.indices, minlength=binary.shape[1]).astype(np.float64)


def segment_indicator(segment_codes: np.ndarray, n_segments: int) -> sp.csr_matrix:
    """A segments x users 0/1 matrix from per-user segment codes (-1: no segment)."""
    users = np.flatnonzero(segment_codes >= 0)
    return sp.csr_matrix(
        (np.ones(len(users), dtype=np.float32), (segment_codes[users], users)),
        shape=(n_segments, len(segment_codes)),
    )


def segment_popularity_scores(
    binary: sp.csr_matrix, segment_codes: np.ndarray, n_segments: int, *, prior_strength: float = 10.0
) -> np.ndarray:
    """Share of a segment's active customers who interacted with each product.

    Row ``s`` holds segment ``s``; the last row holds the global shares, used for customers
    without a segment. A small segment is shrunk toward the global shares as if it had
    ``prior_strength`` extra customers behaving like everybody:
    ``(count_s(i) + m * global(i)) / (active_s + m)``. Active customers are those with at
    least one interaction.
    """
    if prior_strength < 0:
        raise SegrecError(f"prior_strength must be >= 0, got {prior_strength}")
    active = (np.diff(binary.indptr) > 0).astype(np.float64)
    global_share = popularity_scores(binary) / max(active.sum(), 1.0)
    indicator = segment_indicator(segment_codes, n_segments)
    counts = np.asarray((indicator @ binary).todense(), dtype=np.float64)
    sizes = indicator @ active
    denominator = np.maximum(sizes + prior_strength, 1e-12)[:, None]
    shares = (counts + prior_strength * global_share) / denominator
    return np.vstack([shares, global_share])


def trending_scores(
    events: pd.DataFrame,
    product_ids: np.ndarray,
    *,
    as_of: pd.Timestamp | None = None,
    window_days: float = 7.0,
    smoothing: float = 5.0,
    min_recent: int = 2,
) -> np.ndarray:
    """Recent growth per product: ``max(0, (recent + s) / (previous + s) - 1)``.

    ``recent`` counts distinct customers with an event on the product in the last
    ``window_days`` up to ``as_of`` (default: the latest event), ``previous`` in the window
    before it; counting customers rather than events keeps one heavy user from making a
    trend. ``smoothing`` (s) damps growth on tiny counts; products with fewer than
    ``min_recent`` recent customers score 0.
    """
    require_columns(events, "events", ("customer_key", "product_id", "event_time"))
    if window_days <= 0 or smoothing <= 0:
        raise SegrecError("trending: window_days and smoothing must be positive")
    times = pd.to_datetime(events["event_time"])
    scores = np.zeros(len(product_ids), dtype=np.float64)
    if times.notna().sum() == 0:
        return scores
    end = times.max() if as_of is None else pd.Timestamp(as_of)
    window = pd.Timedelta(days=window_days)
    columns = pd.Index(product_ids).get_indexer(pd.Index(events["product_id"].to_numpy(dtype=object)))

    def distinct_customers(start: pd.Timestamp, stop: pd.Timestamp) -> np.ndarray:
        inside = ((times > start) & (times <= stop)).to_numpy() & (columns >= 0)
        pairs = pd.DataFrame({"col": columns[inside], "customer": events["customer_key"].to_numpy()[inside]})
        counts = pairs.drop_duplicates().groupby("col").size()
        out = np.zeros(len(product_ids))
        out[counts.index.to_numpy()] = counts.to_numpy()
        return out

    recent = distinct_customers(end - window, end)
    previous = distinct_customers(end - 2 * window, end - window)
    growth = (recent + smoothing) / (previous + smoothing) - 1.0
    scores[:] = np.where(recent >= min_recent, np.maximum(growth, 0.0), 0.0)
    return scores


def top_k_neighbors(
    row_similarity: Callable[[np.ndarray], np.ndarray],
    n_items: int,
    k: int,
    *,
    allowed: np.ndarray | None = None,
    batch_size: int | None = None,
) -> sp.csr_matrix:
    """Keep the ``k`` most similar other items per item, positive similarities only.

    ``row_similarity(rows)`` returns the dense similarity of the given items to all items;
    it is called on batches so that a large catalog never needs a dense items x items array.
    ``allowed`` (bool per item) limits which items may be neighbours, e.g. active ones.
    """
    batch = batch_size or max(1, CELLS_PER_BATCH // max(n_items, 1))
    rows, cols, values = [], [], []
    for start in range(0, n_items, batch):
        idx = np.arange(start, min(start + batch, n_items))
        similarity = np.array(row_similarity(idx), dtype=np.float64)
        similarity[np.arange(len(idx)), idx] = -np.inf  # an item is not its own neighbour
        if allowed is not None:
            similarity[:, ~allowed] = -np.inf
        top_cols, top_values = top_k_rows(similarity, k)
        keep = top_values > 0
        rows.append(np.broadcast_to(idx[:, None], top_cols.shape)[keep])
        cols.append(top_cols[keep])
        values.append(top_values[keep])
    if not rows:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(values).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_items, n_items),
    )


def cooccurrence_similarity(
    binary: sp.csr_matrix, k: int = 50, *, allowed: np.ndarray | None = None
) -> sp.csr_matrix:
    """Item-item cosine similarity of who interacted with what, top ``k`` per item.

    sim(i, j) = |U_i & U_j| / sqrt(|U_i| |U_j|), with U_i the customers of item i.
    ``allowed`` restricts the neighbours (see :func:`top_k_neighbors`; the same neighbours,
    ties to the lower index). Computed on the co-occurring pairs only, a batch of items at a
    time: most item pairs share no customer, and a dense row of a large catalog is mostly
    zeros, slow to select from (10 and 17 s for the interactions and the purchases at 10M
    events and 19,047 products, 4.5 and 0.3 s this way).
    """
    norms = np.sqrt(popularity_scores(binary))
    items_users = binary.T.tocsr()
    n_items = binary.shape[1]
    batch = max(1, CELLS_PER_BATCH // max(n_items, 1))
    rows, cols, values = [], [], []
    for start in range(0, n_items, batch):
        together = (items_users[start:start + batch] @ binary).tocoo()
        row, col = together.row.astype(np.int64) + start, together.col.astype(np.int64)
        denominator = norms[row] * norms[col]
        cosine = np.divide(together.data.astype(np.float64), denominator,
                           out=np.zeros(len(row)), where=denominator > 0)
        keep = (row != col) if allowed is None else (row != col) & allowed[col]
        top = top_k_entries(row[keep], col[keep], cosine[keep], k)
        rows.append(top[0])
        cols.append(top[1])
        values.append(top[2])
    if not rows:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(values).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_items, n_items),
    )


def _path_tokens(products: pd.DataFrame) -> list[list[str]]:
    """Every prefix of each product's category path (category > subcategory when no path)."""
    tokens = []
    for path, category, subcategory in zip(
        products["category_path"], products["category"], products["subcategory"], strict=True
    ):
        levels = path_levels(path) or [level for level in (category, subcategory) if is_text(level)]
        tokens.append([PATH_SEPARATOR.join(levels[: i + 1]) for i in range(len(levels))])
    return tokens


def content_features(products: pd.DataFrame, weights: Mapping[str, float] = CONTENT_WEIGHTS) -> sp.csr_matrix:
    """Items x attribute-tokens matrix with L2-normalized rows (products without data: zero rows).

    ``products`` is the aligned side table of :func:`segrec.recommend.data.align_products`.
    The dot product of two rows is the cosine content similarity of the two products.
    """
    unknown = sorted(set(weights) - set(CONTENT_WEIGHTS))
    if unknown:
        raise SegrecError(f"content weights: unknown attribute(s) {unknown}; use {sorted(CONTENT_WEIGHTS)}")
    items, tokens, values = [], [], []
    if weights.get("category_path", 0) > 0:
        for item, path_tokens in enumerate(_path_tokens(products)):
            for token in path_tokens:
                items.append(item)
                tokens.append(f"category_path={token}")
                values.append(weights["category_path"])
    for column in ("brand", "color", "price_band"):
        if weights.get(column, 0) <= 0:
            continue
        for item, value in enumerate(products[column]):
            if is_text(value):
                items.append(item)
                tokens.append(f"{column}={value}")
                values.append(weights[column])
    vocabulary = sorted(set(tokens))
    columns = pd.Index(vocabulary).get_indexer(pd.Index(tokens, dtype=object))
    features = sp.csr_matrix(
        (np.asarray(values, dtype=np.float64), (np.asarray(items, dtype=np.int64), columns)),
        shape=(len(products), len(vocabulary)),
    )
    return normalize_rows(features)


def normalize_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Scale each sparse row to unit L2 norm; zero rows stay zero."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale) @ matrix)


def content_similarity(
    features: sp.csr_matrix, k: int = 50, *, allowed: np.ndarray | None = None
) -> sp.csr_matrix:
    """Item-item cosine similarity of content vectors, top ``k`` per item."""
    features_t = features.T.tocsr()
    return top_k_neighbors(
        lambda idx: (features[idx] @ features_t).toarray(), features.shape[0], k, allowed=allowed
    )


def content_profile_scores(weights: sp.csr_matrix, features: sp.csr_matrix) -> np.ndarray:
    """Cosine of each row's taste profile with every product.

    A profile is the interaction-weighted sum of the content vectors of the products in a
    row of ``weights`` (customers or segments x items).
    """
    profiles = normalize_rows(sp.csr_matrix(weights, dtype=np.float64) @ features)
    # sparse items x tokens times dense tokens x rows: no sparse rows x items intermediate; turned
    # back to rows x items in row order, as the arrays it is blended with (mixed orders cost passes)
    return np.array((features @ profiles.toarray().T).T, dtype=np.float32, order="C")
