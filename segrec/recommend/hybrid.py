"""The hybrid recommender: blends strategies by how much we know of each customer.

Every strategy scores all products for a batch of customers; scores are scaled to [0, 1]
per customer and blended. Personal strategies (ALS, co-occurrence, own-history content)
weigh in with the confidence ``c = n / (n + confidence_half)``, ``n`` being the number of
products the customer interacted with; group strategies (segment popularity, segment
taste content) with ``1 - c``. So a cold-start customer gets segment popularity and
content picks, and a new product with no interactions still reaches lists through content
similarity. Context (usual device, daypart, region) and segment policies then re-rank,
and the business rules pick the final top ``n``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from segrec.errors import SegrecError
from segrec.recommend._arrays import row_blocks, scale_rows
from segrec.recommend.als import ALSFactory, ALSRecommender
from segrec.recommend.baselines import (
    CONTENT_WEIGHTS,
    content_features,
    content_profile_scores,
    content_similarity,
    cooccurrence_similarity,
    popularity_scores,
    segment_indicator,
    segment_popularity_scores,
    top_k_neighbors,
    trending_scores,
)
from segrec.recommend.data import RecData
from segrec.recommend.reasons import anchor_items, reason_texts
from segrec.recommend.rerank import (
    SEGMENT_POLICIES,
    category_codes,
    context_index,
    eligible_items,
    fit_context_lifts,
    policy_flags,
    premium_affinity,
    select_top_n,
)

# List generators that can be asked for alone (for evaluation) or blended ("hybrid").
STRATEGIES: tuple[str, ...] = (
    "popularity", "segment_popularity", "trending", "cooccurrence", "content", "segment_content", "als",
    "hybrid",
)
PERSONAL: tuple[str, ...] = ("als", "cooccurrence", "content")
GROUP: tuple[str, ...] = ("segment_popularity", "segment_content")
# Measured on generated data and UCI Online Retail: ALS carries most of the signal for
# customers with a history, the others mostly break its ties and diversify.
DEFAULT_WEIGHTS: dict[str, float] = {
    "als": 1.0,
    "cooccurrence": 0.25,
    "content": 0.1,
    "segment_popularity": 1.0,
    "segment_content": 0.25,
    "trending": 0.05,
}
# Values of the ``strategy`` column: what put a product on a list (the hybrid labels each row
# with its largest contribution; a list of one strategy carries that strategy's name).
ROW_STRATEGIES: tuple[str, ...] = (
    "als", "cooccurrence", "content", "segment_popularity", "segment_content", "popularity", "trending",
    "new_arrival", "premium", "complement",
)
SIMILARITY_METHODS: tuple[str, ...] = ("cooccurrence", "content", "als")
OUTPUT_COLUMNS: tuple[str, ...] = (
    "customer_key", "rank", "product_id", "score", "strategy", "reason", "segment_name",
)
# Dense score cells per batch of customers (a few of these arrays live at once).
CELLS_PER_BATCH = 2_000_000


class HybridRecommender:
    """Blend of ALS, co-occurrence, content, segment popularity and trending, re-ranked.

    Parameters
    ----------
    n : list length per customer.
    max_per_category : diversity cap per top-level category (None: no cap).
    weights : blend weight per strategy (keys of :data:`DEFAULT_WEIGHTS`; missing keys keep
        their default).
    confidence_half : interactions at which personal and group strategies weigh the same.
    context_weight : weight of the context log-lift (usual device, daypart, region).
    policy_weight : weight of the segment policy boosts (premium, complements, discovery).
    segment_policies : rule segment -> policy (default :data:`SEGMENT_POLICIES`).
    neighbors : neighbours kept per item for co-occurrence and complements.
    prior_strength : shrinkage of segment and context shares toward the global shares.
    content_weights : attribute weights of the content vectors (None: the defaults).
    trending_window_days : length of the recent and the previous trending windows.
    als_params : ALS parameters (keys of :data:`segrec.recommend.als.ALS_DEFAULTS` plus ``num_threads``).
    random_state : seed of ALS.
    als_factory : what trains ALS (default implicit; segrec.recommend.pipeline.als_factory_for).
    batch_size : customers scored at once (None: sized to the catalog).
    """

    def __init__(
        self,
        *,
        n: int = 10,
        max_per_category: int | None = 3,
        weights: Mapping[str, float] | None = None,
        confidence_half: float = 2.0,
        context_weight: float = 0.1,
        policy_weight: float = 0.5,
        segment_policies: Mapping[str, str] | None = None,
        neighbors: int = 50,
        prior_strength: float = 10.0,
        content_weights: Mapping[str, float] | None = None,
        trending_window_days: float = 7.0,
        als_params: Mapping[str, Any] | None = None,
        random_state: int = 0,
        batch_size: int | None = None,
        als_factory: ALSFactory = ALSRecommender,
    ) -> None:
        self.n = n
        self.max_per_category = max_per_category
        self.weights = weights
        self.confidence_half = confidence_half
        self.context_weight = context_weight
        self.policy_weight = policy_weight
        self.segment_policies = segment_policies
        self.neighbors = neighbors
        self.prior_strength = prior_strength
        self.content_weights = content_weights
        self.trending_window_days = trending_window_days
        self.als_params = als_params
        self.random_state = random_state
        self.batch_size = batch_size
        self.als_factory = als_factory

    # ------------------------------------------------------------------ fitting
    def fit(
        self, data: RecData, events: pd.DataFrame | None = None, *, als: ALSRecommender | None = None
    ) -> HybridRecommender:
        """Fit every strategy on ``data``; ``events`` (optional) feed trending.

        ``als`` is an already fitted ALS on the same matrix (e.g. restored from its stored
        factors) to use instead of training one, so ALS is trained once per model version.
        """
        unknown = sorted(set(self.weights or {}) - set(DEFAULT_WEIGHTS))
        if unknown:
            raise SegrecError(f"hybrid weights: unknown strategy {unknown}; use {sorted(DEFAULT_WEIGHTS)}")
        if self.confidence_half <= 0:
            raise SegrecError(f"confidence_half must be positive, got {self.confidence_half}")
        self.weights_ = DEFAULT_WEIGHTS | dict(self.weights or {})
        products, customers = data.products, data.customers
        binary = data.interactions.binary()
        active = products["is_active"].to_numpy(dtype=bool)

        self.data_ = data
        if als is None:
            als = self.als_factory(**dict(self.als_params or {}), random_state=self.random_state).fit(data.interactions)
        elif not (
            np.array_equal(als.customer_keys_, data.interactions.customer_keys)
            and np.array_equal(als.product_ids_, data.interactions.product_ids)
        ):
            raise SegrecError("hybrid: the given ALS was fitted on other customers or products than the data")
        self.als_ = als
        self.popularity_ = popularity_scores(binary)
        self.segment_codes_, segments = pd.factorize(customers["segment_name"], sort=True)
        n_segments = len(segments)
        self.segment_popularity_ = segment_popularity_scores(
            binary, self.segment_codes_, n_segments, prior_strength=self.prior_strength
        )
        self.trending_ = np.zeros(binary.shape[1], dtype=np.float32)
        if events is not None:
            self.trending_ = trending_scores(
                events, data.interactions.product_ids, window_days=self.trending_window_days
            )
        self.cooccurrence_ = cooccurrence_similarity(binary, self.neighbors, allowed=active)
        self.complements_ = (
            cooccurrence_similarity(data.purchased, self.neighbors, allowed=active)
            if data.purchased.nnz
            else self.cooccurrence_
        )
        self.features_ = content_features(products, self.content_weights or CONTENT_WEIGHTS)
        # Segment taste: the summed interactions of a segment's customers (last row: everybody).
        weights = data.interactions.matrix
        group_weights = sp.vstack(
            [segment_indicator(self.segment_codes_, n_segments) @ weights, sp.csr_matrix(weights.sum(axis=0))]
        ).tocsr()
        self.segment_content_ = content_profile_scores(group_weights, self.features_)
        self.scaled_group_scores_ = {
            "segment_popularity": scale_rows(self.segment_popularity_),
            "segment_content": scale_rows(self.segment_content_),
        }
        self.context_ = fit_context_lifts(binary, customers, prior_strength=self.prior_strength)
        self.context_table_, self.context_rows_ = context_index(self.context_, customers)
        self.flags_ = policy_flags(customers["rule_segments"], self.segment_policies or SEGMENT_POLICIES)
        self.premium_ = premium_affinity(products).astype(np.float32)
        self.is_new_ = products["is_new"].to_numpy(dtype=np.float32)
        # read once: converting a column per batch costs a pass over every customer or product
        self.n_interacted_ = data.n_interacted
        self.segment_names_ = customers["segment_name"].to_numpy(dtype=object)
        self.product_names_ = products["name"].to_numpy(dtype=object)
        self.leaf_categories_ = products["leaf_category"].to_numpy(dtype=object)
        self.categories_ = category_codes(products)
        return self

    # ------------------------------------------------------------------ scoring
    def _group_rows(self, user_rows: np.ndarray) -> np.ndarray:
        codes = self.segment_codes_[user_rows]
        return np.where(codes >= 0, codes, len(self.segment_popularity_) - 1)

    def raw_scores(self, strategy: str, user_rows: np.ndarray) -> np.ndarray:
        """One strategy's own scores for the given matrix rows (rows x items)."""
        matrix = self.data_.interactions.matrix
        if strategy == "als":
            return self.als_.score(user_rows)
        if strategy == "cooccurrence":
            return (matrix[user_rows] @ self.cooccurrence_).toarray()
        if strategy == "complement":
            return (self.data_.purchased[user_rows] @ self.complements_).toarray()
        if strategy == "content":
            return content_profile_scores(matrix[user_rows], self.features_)
        if strategy == "segment_popularity":
            return self.segment_popularity_[self._group_rows(user_rows)]
        if strategy == "segment_content":
            return self.segment_content_[self._group_rows(user_rows)]
        if strategy in ("popularity", "trending"):
            vector = self.popularity_ if strategy == "popularity" else self.trending_
            return np.broadcast_to(vector, (len(user_rows), matrix.shape[1]))
        raise SegrecError(f"unknown strategy {strategy!r}; use one of {list(STRATEGIES)}")

    def component_scores(self, strategy: str, user_rows: np.ndarray) -> np.ndarray:
        """One strategy's scores scaled to [0, 1] per row (see :func:`scale_rows`), for blending."""
        if strategy in GROUP:  # a row per segment, scaled once in fit
            return self.scaled_group_scores_[strategy][self._group_rows(user_rows)]
        return scale_rows(self.raw_scores(strategy, user_rows))

    def hybrid_scores(self, user_rows: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Blended scores and each strategy's contribution to them (rows x items each)."""
        w = self.weights_
        known = self.n_interacted_[user_rows].astype(np.float32)[:, None]
        confidence = known / (known + self.confidence_half)
        scaled = {s: self.component_scores(s, user_rows) for s in PERSONAL + GROUP}
        # New arrivals for browsers, the better they match the customer's (or segment's) taste; the
        # taste only at the new products' columns (elsewhere the contribution is 0 whatever it is)
        new = np.flatnonzero(self.is_new_)
        taste = confidence * scaled["content"][:, new] + (1 - confidence) * scaled["segment_content"][:, new]
        # weighted in place: the scaled arrays are this batch's own, and a catalog-wide array less
        # per strategy is a pass less over memory
        contributions = {s: np.multiply(scaled[s], confidence * w[s], out=scaled[s]) for s in PERSONAL}
        for s in GROUP:
            contributions[s] = np.multiply(scaled[s], (1 - confidence) * w[s], out=scaled[s])
        policy = {name: flags[user_rows].astype(np.float32)[:, None] for name, flags in self.flags_.items()}
        boost = self.policy_weight
        discovery = boost * policy["discovery"]
        contributions["trending"] = (w["trending"] + 0.5 * discovery) * scale_rows(self.trending_)
        contributions["new_arrival"] = np.zeros(scaled["content"].shape, dtype=np.float32)
        contributions["new_arrival"][:, new] = discovery * self.is_new_[new] * (0.5 + 0.5 * taste)
        contributions["premium"] = boost * policy["premium"] * self.premium_
        if policy["complements"].any():
            contributions["complement"] = boost * policy["complements"] * self.component_scores(
                "complement", user_rows
            )
        parts = iter(contributions.values())
        total = next(parts) + 0.0  # a new array, as sum() starts from 0 (-0.0 becomes 0.0 alike)
        for part in parts:
            total += part
        if self.context_weight:
            total += self.context_weight * self.context_table_[self.context_rows_[user_rows]]
        return total, contributions

    # ------------------------------------------------------------------ lists
    def _batches(self, user_rows: np.ndarray) -> list[np.ndarray]:
        size = self.batch_size or max(1, CELLS_PER_BATCH // max(self.data_.interactions.n_items, 1))
        return [user_rows[i : i + size] for i in range(0, len(user_rows), size)]

    def recommend(
        self,
        customer_keys: Sequence[object] | None = None,
        *,
        strategy: str = "hybrid",
        n: int | None = None,
        explain: bool = True,
    ) -> pd.DataFrame:
        """Top ``n`` products per customer under the business rules, with reasons.

        ``customer_keys`` default to every customer the data knows; ``strategy`` picks the
        hybrid or one strategy alone; ``n`` overrides the list length (e.g. for evaluation at
        several k). Returns the ``customer_recommendations`` columns
        (:data:`OUTPUT_COLUMNS`); for the hybrid, ``strategy`` names the strategy that
        contributed most to each row. ``explain=False`` leaves ``reason`` empty and skips
        finding the anchor products behind it (offline evaluation needs only the lists).
        """
        frames = list(self.recommend_batches(customer_keys, strategy=strategy, n=n, explain=explain))
        if not frames:
            empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in OUTPUT_COLUMNS})
            return empty.astype({"rank": np.int64, "score": np.float64})
        return pd.concat(frames, ignore_index=True)

    def recommend_batches(
        self,
        customer_keys: Sequence[object] | None = None,
        *,
        strategy: str = "hybrid",
        n: int | None = None,
        explain: bool = True,
    ) -> Iterator[pd.DataFrame]:
        """:meth:`recommend`'s rows a batch of customers at a time (none without customers), so
        a caller that stores the lists in another form never holds all of them as pandas."""
        if strategy not in STRATEGIES:
            raise SegrecError(f"unknown strategy {strategy!r}; use one of {list(STRATEGIES)}")
        data = self.data_
        if customer_keys is None:
            user_rows = np.arange(data.interactions.n_users)
        else:
            user_rows = data.interactions.user_rows(customer_keys)
            if (user_rows < 0).any():
                missing = np.asarray(list(customer_keys), dtype=object)[user_rows < 0]
                raise SegrecError(
                    f"recommend: {len(missing)} customer_key(s) unknown to the fitted data, "
                    f"e.g. {missing[0]!r}"
                )
        length = self.n if n is None else n
        for rows in self._batches(user_rows):
            yield self._recommend_batch(rows, strategy, length, explain)

    def _recommend_batch(self, user_rows: np.ndarray, strategy: str, n: int, explain: bool) -> pd.DataFrame:
        data = self.data_
        # scored and selected a block of rows at a time (see row_blocks)
        blocks = [self._select_block(user_rows[block], strategy, n)
                  for block in row_blocks(len(user_rows), data.interactions.n_items)]
        items = np.concatenate([b[0] for b in blocks])
        values = np.concatenate([b[1] for b in blocks])
        label_codes = np.concatenate([b[2] for b in blocks])
        batch_row, position = np.nonzero(items >= 0)
        item = items[batch_row, position]
        labels = np.asarray(ROW_STRATEGIES, dtype=object)[label_codes[batch_row, position]]
        lists = pd.DataFrame(
            {
                "customer_key": data.interactions.customer_keys[user_rows[batch_row]],
                "rank": (position + 1).astype(np.int64),
                "product_id": data.interactions.product_ids[item],
                "score": values[batch_row, position].astype(np.float64),
                "strategy": labels,
                "reason": None,
                "segment_name": self.segment_names_[user_rows[batch_row]],
            }
        )
        if explain:
            lists["reason"] = self._reasons(user_rows, batch_row, item, labels).to_numpy(dtype=object)
        return lists

    def _select_block(self, user_rows: np.ndarray, strategy: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The top ``n`` items, their scores and, per pick, the position in :data:`ROW_STRATEGIES`
        of what put it there (for the hybrid, the largest contribution) for one block of rows."""
        if strategy == "hybrid":
            scores, contributions = self.hybrid_scores(user_rows)
        else:
            scores, contributions = self.raw_scores(strategy, user_rows), {}
        eligible = eligible_items(self.data_, user_rows)
        items, values = select_top_n(scores, eligible, self.categories_, n, self.max_per_category)
        if not contributions:
            return items, values, np.full(items.shape, ROW_STRATEGIES.index(strategy))
        picked = np.maximum(items, 0)  # padding (-1) reads column 0; its label is never used
        stacked = np.stack([np.take_along_axis(np.broadcast_to(contributions[s], scores.shape), picked, axis=1)
                            for s in contributions])
        best = np.argmax(stacked, axis=0)
        return items, values, np.asarray([ROW_STRATEGIES.index(s) for s in contributions])[best]

    def _reasons(
        self, user_rows: np.ndarray, batch_row: np.ndarray, item: np.ndarray, labels: np.ndarray
    ) -> pd.Series:
        """The reason of each (row, item) pick, from its strategy label and anchor product."""
        data = self.data_
        anchors = self._anchors(user_rows, batch_row, item, labels)
        purchased = data.purchased[user_rows]
        has_anchor = anchors >= 0
        anchor_bought = np.zeros(len(item), dtype=bool)
        anchor_bought[has_anchor] = _pairs(purchased, batch_row[has_anchor], anchors[has_anchor]) > 0
        rows = pd.DataFrame(
            {
                "strategy": labels,
                "anchor_name": self.product_names_[np.where(has_anchor, anchors, 0)],
                "has_anchor": has_anchor,
                "anchor_bought": anchor_bought,
                "already_bought": _pairs(purchased, batch_row, item) > 0,
                "is_new": self.is_new_[item] > 0,
                "leaf_category": self.leaf_categories_[item],
            }
        )
        rows.loc[~has_anchor, "anchor_name"] = None
        return reason_texts(rows)

    def _anchors(
        self, user_rows: np.ndarray, batch_row: np.ndarray, item: np.ndarray, labels: np.ndarray
    ) -> np.ndarray:
        """Anchor product per row for the strategies that explain a pick by the customer's history."""
        data = self.data_
        features = self.features_
        history = data.interactions.matrix[user_rows]
        similarity = {
            "als": (history, self.als_.item_similarity),
            "cooccurrence": (history, lambda rec, past: _pairs(self.cooccurrence_, past, rec)),
            "content": (history, lambda rec, past: _row_dots(features, rec, past)),
            "complement": (data.purchased[user_rows], lambda rec, past: _pairs(self.complements_, past, rec)),
        }
        anchors = np.full(len(item), -1, dtype=np.int64)
        for label, (past, pair_similarity) in similarity.items():
            chosen = np.flatnonzero(labels == label)
            if len(chosen):
                anchors[chosen] = anchor_items(past, batch_row[chosen], item[chosen], pair_similarity)
        return anchors

    # ------------------------------------------------------------------ artifacts
    def item_similarities(self, method: str, top_n: int = 20) -> pd.DataFrame:
        """The ``item_similarities`` long table for one method (see :func:`item_similarity_table`)."""
        return item_similarity_table(self.data_, method, als=self.als_, top_n=top_n, features=self.features_)

    def user_factors_frame(self) -> pd.DataFrame:
        """ALS user factors keyed by ``customer_key`` (a model artifact)."""
        return self.als_.user_factors_frame()

    def item_factors_frame(self) -> pd.DataFrame:
        """ALS item factors keyed by ``product_id`` (a model artifact)."""
        return self.als_.item_factors_frame()


def item_similarity_table(
    data: RecData,
    method: str,
    *,
    als: ALSRecommender | None = None,
    top_n: int = 20,
    features: sp.csr_matrix | None = None,
) -> pd.DataFrame:
    """The ``item_similarities`` long table for one method: ``product_id``,
    ``similar_product_id``, ``score``, ``method``; the top ``top_n`` positive similarities per
    product, best first, similar products active only.

    ``cooccurrence`` is the cosine of who interacted with both products, ``content`` the cosine
    of the content vectors (``features``, default :func:`content_features` of the products),
    ``als`` the cosine of the item factors of the fitted ``als``.
    """
    active = data.products["is_active"].to_numpy(dtype=bool)
    n_items = data.interactions.n_items
    if method == "cooccurrence":
        similar = cooccurrence_similarity(data.interactions.binary(), top_n, allowed=active)
    elif method == "content":
        content = content_features(data.products) if features is None else features
        similar = content_similarity(content, top_n, allowed=active)
    elif method == "als":
        if als is None:
            raise SegrecError("item similarities: method 'als' needs a fitted ALS")
        similar = top_k_neighbors(als.item_similarity_rows, n_items, top_n, allowed=active)
    else:
        raise SegrecError(f"unknown similarity method {method!r}; use one of {list(SIMILARITY_METHODS)}")
    pairs = similar.tocoo()
    frame = pd.DataFrame(
        {
            "product_id": data.interactions.product_ids[pairs.row],
            "similar_product_id": data.interactions.product_ids[pairs.col],
            "score": pairs.data.astype(np.float64),
            "method": method,
            "_row": pairs.row,
            "_col": pairs.col,
        }
    )
    frame = frame.sort_values(["_row", "score", "_col"], ascending=[True, False, True])
    return frame.drop(columns=["_row", "_col"]).reset_index(drop=True)


def _pairs(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Entries ``matrix[rows[i], cols[i]]`` as a flat array."""
    if len(rows) == 0:
        return np.zeros(0)
    return np.asarray(matrix[rows, cols]).ravel()


def _row_dots(features: sp.csr_matrix, rows: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Dot products ``features[rows[i]] . features[others[i]]`` as a flat array."""
    if len(rows) == 0:
        return np.zeros(0)
    return np.asarray(features[rows].multiply(features[others]).sum(axis=1)).ravel()
