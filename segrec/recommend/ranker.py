"""A learned ranker over (customer, candidate) pairs, and the served list kinds built from it.

Why: whether a customer re-buys a product, and how own re-orders should be mixed with
discovery, differs per shop and per customer; a classifier trained on a past window
(features at its start, label = bought inside it) learns it from the data instead of a
global repeat switch. Lists are then sorted by the predicted purchase probability:

- ``buy_again``: only products the customer bought before;
- ``discover``: only products the customer never bought;
- ``blended``: all candidates together (what the ranker thinks is likeliest, own or new).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from segrec.errors import SegrecError
from segrec.io import require_columns
from segrec.recommend.bias_rerank import (
    RERANKED_LIST_TYPES,
    RerankSettings,
    category_mix,
    product_category_codes,
    rerank_candidates,
)
from segrec.recommend.candidates import FEATURE_COLUMNS
from segrec.segmentation.features import signed_log1p

LIST_TYPES: tuple[str, ...] = ("buy_again", "discover", "blended")
# Training pairs from which the default n_threads uses every core.
PARALLEL_PAIRS = 100_000
MODELS: tuple[str, ...] = ("hgb", "logistic", "ensemble")
# Subtracted from the scores of pairs outside the ensemble's shortlist: below any log-odds sum.
OUTSIDE_SHORTLIST = 1e6
# Pairs scored at a time by predict (each member's predictions do not depend on the chunks).
PREDICT_PAIRS = 65_536


def negative_sample(pairs: pd.DataFrame, labels: np.ndarray, max_negatives_per_positive: float | None,
                    random_state: int, salt: str = "") -> np.ndarray:
    """Mask keeping every positive and, of each customer's negatives, about
    ``max_negatives_per_positive`` per positive of that customer (None: keep everything).

    A customer without a positive keeps none: a list orders one customer's candidates, and a
    customer who bought nothing in the window says nothing about that order. A negative pair is
    kept when a hash of its (customer_key, product_id), keyed by ``random_state`` and ``salt``
    (the window), read as a number in [0, 1), falls below its customer's rate: whether a pair
    is kept does not depend on the pairs sampled beside it, so the training set is the same
    however the customers are batched. Rankings only need the order, not calibration, and a
    few negatives per positive teach it as well as all of them."""
    labels = np.asarray(labels)
    keep = labels == 1
    if max_negatives_per_positive is None:
        return np.ones(len(labels), dtype=bool)
    require_columns(pairs, "pairs", ("customer_key", "product_id"))
    customer, _ = pd.factorize(pairs["customer_key"])
    positives = np.bincount(customer, weights=keep, minlength=customer.max(initial=-1) + 1)
    negatives = np.bincount(customer, minlength=len(positives)) - positives
    rate = np.minimum(1.0, max_negatives_per_positive * positives / np.maximum(negatives, 1))[customer]
    candidates = ~keep & (rate > 0)
    keep[candidates] = _pair_uniform(pairs.loc[candidates, ["customer_key", "product_id"]], random_state,
                                     salt) < rate[candidates]
    return keep


def _pair_uniform(pairs: pd.DataFrame, random_state: int, salt: str) -> np.ndarray:
    """A number in [0, 1) per (customer_key, product_id) row, fixed by the pair, ``random_state``
    and ``salt`` (pandas' SipHash of both columns; the 16-byte key from the seed and salt)."""
    key = hashlib.blake2b(f"{random_state}\x1f{salt}".encode(), digest_size=8).hexdigest()
    hashed = pd.util.hash_pandas_object(pairs, index=False, hash_key=key).to_numpy()
    return (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class CandidateRanker:
    """Purchase-probability model over pair features (scikit-learn style fit / predict).

    Parameters
    ----------
    model : "hgb" (HistGradientBoostingClassifier; NaN-aware, learns interactions such as
        "own products only for frequent re-orderers"), "logistic" (LogisticRegression on
        signed-log, median-imputed, standardised features; transparent, robust on small shops)
        or "ensemble" (both, scores = sum of their log-odds: the trees add interactions, the
        linear model keeps small training windows from overfitting; the default: on three real
        wholesale datasets it was never worse than 0.01 NDCG@10 below the better member).
    features : the pair columns to learn from (default: candidates.FEATURE_COLUMNS).
    learning_rate, max_iter, max_leaf_nodes, min_samples_leaf, l2_regularization : HGB. 150
        rounds at 0.1 (not 300 at 0.05): half the fitting and scoring time, which grows with
        the shop (the served lists score every customer's candidates), for the same lists'
        quality on the real datasets of docs/results.md.
    C : inverse L2 strength of the logistic model.
    customer_weighting : when True, each customer's pairs weigh 1 / (its bought pairs), so
        every customer counts the same, as in the per-customer mean of NDCG; otherwise heavy
        buyers (many positives) dominate the loss.
    max_negatives_per_positive : each customer's negatives are subsampled to about this many per
        positive of that customer, none for a customer without one (None: all), to keep fitting
        fast; rankings only need the order, not calibration (:func:`negative_sample`).
    random_state : seed of the subsampling and of the model.
    shortlist : with the ensemble, only each customer's ``shortlist`` best pairs of each kind
        (own, new) by the logistic member are scored by the trees; the others keep the
        logistic order after every shortlisted pair (score: logistic log-odds - OUTSIDE_SHORTLIST;
        None: the trees score every pair). Why: scoring every candidate with 150 trees was the
        largest cost of the served lists and grows with the shop; a list of 10 to 20 is drawn
        from far fewer pairs than the ~300 candidates a customer has (docs/performance.md).
    n_threads : OpenMP threads of the gradient boosting (and BLAS of the linear model); None:
        one below ``PARALLEL_PAIRS`` training pairs (thread start-up costs more than it saves:
        300 rounds on 100 pairs took 8 s with two cores, 0.3 s with one), every core above
        (UCI Online Retail, ~1.7M pairs per cutoff: the ranker model 162 s instead of 180-220 s).
    """

    def __init__(
        self,
        model: str = "ensemble",
        features: Sequence[str] = FEATURE_COLUMNS,
        learning_rate: float = 0.1,
        max_iter: int = 150,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 50,
        l2_regularization: float = 1.0,
        C: float = 1.0,
        customer_weighting: bool = False,
        max_negatives_per_positive: float | None = 5.0,
        random_state: int = 0,
        shortlist: int | None = 50,
        n_threads: int | None = None,
    ) -> None:
        self.model = model
        self.features = tuple(features)
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.C = C
        self.customer_weighting = customer_weighting
        self.max_negatives_per_positive = max_negatives_per_positive
        self.random_state = random_state
        self.shortlist = shortlist
        self.n_threads = n_threads

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters (to record a run or build a model version)."""
        return {
            "model": self.model,
            "features": list(self.features),
            "learning_rate": self.learning_rate,
            "max_iter": self.max_iter,
            "max_leaf_nodes": self.max_leaf_nodes,
            "min_samples_leaf": self.min_samples_leaf,
            "l2_regularization": self.l2_regularization,
            "C": self.C,
            "customer_weighting": self.customer_weighting,
            "max_negatives_per_positive": self.max_negatives_per_positive,
            "random_state": self.random_state,
            "shortlist": self.shortlist,
            "n_threads": self.n_threads,
        }

    def _matrix(self, pairs: pd.DataFrame, rows: np.ndarray | None = None) -> np.ndarray:
        """The feature columns of ``pairs`` (of its ``rows``: default all) as floats; only those
        columns are gathered, not the pairs' keys and sources."""
        require_columns(pairs, "pairs", self.features)
        if rows is None:
            return pairs[list(self.features)].to_numpy(dtype=float)
        return pairs.iloc[rows, pairs.columns.get_indexer(self.features)].to_numpy(dtype=float)

    def _estimator(self, model: str | None = None) -> Any:
        model = model or self.model
        if model == "hgb":
            return HistGradientBoostingClassifier(
                learning_rate=self.learning_rate,
                max_iter=self.max_iter,
                max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf,
                l2_regularization=self.l2_regularization,
                early_stopping=False,
                random_state=self.random_state,
            )
        if model == "logistic":
            return make_pipeline(
                FunctionTransformer(signed_log1p),
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                StandardScaler(),
                LogisticRegression(C=self.C, max_iter=2000),
            )
        raise SegrecError(f"unknown ranker model {model!r}; use one of {list(MODELS)}")

    def fit(self, pairs: pd.DataFrame, labels: np.ndarray) -> CandidateRanker:
        """Learn P(bought in the window | pair features) from labelled ``pairs``."""
        labels = np.asarray(labels, dtype=int)
        if len(labels) != len(pairs):
            raise SegrecError(f"ranker: {len(pairs)} pairs but {len(labels)} labels")
        if labels.min(initial=1) == labels.max(initial=0):
            raise SegrecError("ranker: the training window needs both bought and not-bought pairs")
        X = self._matrix(pairs)
        keep = negative_sample(pairs, labels, self.max_negatives_per_positive, self.random_state)
        weights = None
        if self.customer_weighting:
            require_columns(pairs, "pairs", ("customer_key",))
            customer = pairs["customer_key"].to_numpy()
            positives = pd.Series(labels).groupby(customer).transform("sum").to_numpy(dtype=float)
            weights = 1.0 / np.maximum(positives, 1.0)
            weights = (weights / weights[keep].mean())[keep]
        if self.model not in MODELS:
            raise SegrecError(f"unknown ranker model {self.model!r}; use one of {list(MODELS)}")
        members = ("hgb", "logistic") if self.model == "ensemble" else (self.model,)
        # A feature never observed in the training window (e.g. re-order intervals in a shop of
        # one day) carries nothing to learn and breaks the trees' binning: leave it out.
        self.observed_ = ~np.isnan(X[keep]).all(axis=0)
        if not self.observed_.any():
            raise SegrecError("ranker: no feature is observed in the training window")
        X = X[:, self.observed_]
        self.estimators_ = []
        self.n_threads_ = self.n_threads or (1 if keep.sum() < PARALLEL_PAIRS else None)
        with threadpool_limits(self.n_threads_):
            self._fit_members(members, X, labels, keep, weights)
        self.estimator_ = self.estimators_[0]
        self.n_train_pairs_ = int(keep.sum())
        return self

    def _fit_members(self, members: Sequence[str], X: np.ndarray, labels: np.ndarray, keep: np.ndarray,
                     weights: np.ndarray | None) -> None:
        for member in members:
            estimator = self._estimator(member)
            if weights is None:
                estimator.fit(X[keep], labels[keep])
            elif member == "hgb":
                estimator.fit(X[keep], labels[keep], sample_weight=weights)
            else:
                estimator.fit(X[keep], labels[keep], logisticregression__sample_weight=weights)
            self.estimators_.append(estimator)

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        """Score of each pair: the predicted purchase probability (up to subsampling bias);
        for the ensemble, the sum of the members' log-odds (an order, not a probability); pairs
        outside the ``shortlist`` come after the others, in the logistic member's order."""
        if not hasattr(self, "estimators_"):
            raise SegrecError("ranker: call fit before predict")
        with threadpool_limits(self.n_threads_):
            if len(self.estimators_) == 1:
                return self._probability(self.estimators_[0], pairs)
            trees, linear = self.estimators_
            linear_logit = _logit(self._probability(linear, pairs))
            scores = linear_logit - OUTSIDE_SHORTLIST
            chosen = np.ones(len(pairs), dtype=bool) if self.shortlist is None else \
                shortlist_mask(pairs, linear_logit, self.shortlist)
            scores[chosen] = _logit(self._probability(trees, pairs, np.flatnonzero(chosen))) + linear_logit[chosen]
        return scores

    def _probability(self, estimator: Any, pairs: pd.DataFrame, rows: np.ndarray | None = None) -> np.ndarray:
        """``estimator``'s purchase probability of ``pairs`` (of its ``rows``: default all),
        :data:`PREDICT_PAIRS` at a time: the feature matrix and the logistic member's transformed
        copies of it exist for one chunk only (of a batch of 600,000 pairs: ~1 GB at once)."""
        rows = np.arange(len(pairs)) if rows is None else rows
        out = np.empty(len(rows), dtype=float)
        for start in range(0, len(rows), PREDICT_PAIRS):
            chunk = rows[start:start + PREDICT_PAIRS]
            out[start:start + len(chunk)] = _member_probability(
                estimator, self._matrix(pairs, chunk)[:, self.observed_])
        return out


def _member_probability(estimator: Any, X: np.ndarray) -> np.ndarray:
    """A fitted member's probability of "bought" per row of ``X``. The logistic pipeline's
    log-odds are summed row by row (einsum), not by BLAS: BLAS blocks a matrix product's sums by
    the matrix's shape, so a pair's score would change (by ~1e-16) with the pairs scored beside
    it. Its transformers work value by value; the trees read one row at a time."""
    if isinstance(estimator, Pipeline):
        logistic = estimator[-1]
        return expit(np.einsum("ij,j->i", _linear_inputs(estimator, X), logistic.coef_[0]) + logistic.intercept_[0])
    return estimator.predict_proba(X)[:, 1]


def _linear_inputs(pipeline: Pipeline, X: np.ndarray) -> np.ndarray:
    """What the logistic member's transformers make of ``X`` (signed log, median imputation with
    missing indicators, standardisation): the values ``pipeline[:-1].transform`` gives, computed
    in place on one copy. Why: scikit-learn's steps check and copy the matrix at each step and
    stack the indicators into yet another copy; on every candidate pair of the served lists that
    was half the logistic member's cost. Another pipeline goes through scikit-learn."""
    steps = [step for _, step in pipeline.steps[:-1]]
    # an infinite feature goes through scikit-learn too, which refuses it with its own error
    if [type(step) for step in steps] != [FunctionTransformer, SimpleImputer, StandardScaler] \
            or not (steps[2].with_mean and steps[2].with_std) or np.isinf(X).any():
        return np.asarray(pipeline[:-1].transform(X), dtype=float)
    function, imputer, scaler = steps
    values = np.asarray(function.transform(X), dtype=float)
    missing = np.isnan(values)
    np.copyto(values, imputer.statistics_, where=missing)
    if imputer.add_indicator:
        values = np.hstack([values, missing[:, imputer.indicator_.features_]])
    values -= scaler.mean_
    values /= scaler.scale_
    return values


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def shortlist_mask(pairs: pd.DataFrame, scores: np.ndarray, n: int) -> np.ndarray:
    """True for each customer's ``n`` best pairs by ``scores`` among own products (``is_own``)
    and ``n`` best among the others; ties go to the smaller product id, as in the lists."""
    require_columns(pairs, "pairs", ("customer_key", "product_id", "is_own"))
    if n < 1:
        raise SegrecError(f"ranker shortlist must be >= 1, got {n}")
    own = (pairs["is_own"].to_numpy() > 0).astype(np.int64)
    customers = pd.factorize(pairs["customer_key"])[0]
    order = best_first(customers, scores, pairs["product_id"], within=own)
    group = (customers * 2 + own)[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    place = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    mask = np.zeros(len(order), dtype=bool)
    mask[order[place < n]] = True
    return mask


def best_first(customers: np.ndarray | pd.Series, scores: np.ndarray, product_ids: pd.Series,
               within: np.ndarray | None = None) -> np.ndarray:
    """Row positions by customer (ascending), then ``within`` (ascending, when given), then
    score (descending, missing last), then product id (ascending): each customer's candidates
    best first, ties to the smaller product id: the order a sort of the text columns gives, by
    integer codes. In the shortlist it took half the time of a sort_values and a groupby over
    the text (on a whole frame of pairs pandas sorts as fast: ranked_lists keeps sort_values)."""
    customer_codes = pd.factorize(customers, sort=True)[0]
    product_codes = pd.factorize(product_ids, sort=True)[0]
    keys = [product_codes, -np.asarray(scores, dtype=float)]
    if within is not None:
        keys.append(within)
    return np.lexsort([*keys, customer_codes])


def ranked_lists(
    pairs: pd.DataFrame,
    scores: np.ndarray,
    *,
    k: int = 20,
    list_types: Sequence[str] = LIST_TYPES,
    categories: pd.Series | None = None,
    max_per_category: int | None = None,
    rerank: RerankSettings | None = None,
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The top ``k`` products per customer for each list kind, by descending score.

    Columns ``customer_key``, ``list_type``, ``rank`` (1-based), ``product_id``, ``score``,
    ``reason`` plus any other column of ``pairs``. Ties go to the smaller product id, so the
    lists are reproducible. ``buy_again`` keeps own products (``is_own`` = 1), ``discover``
    the others. With ``categories`` (category per product_id) and ``max_per_category``, a
    product beyond the cap of its category within a list comes after every product within
    its cap (the cap holds unless the candidates cannot fill the list otherwise); products
    without a category are not capped, and buy-again lists are not capped at all. ``rerank``
    re-orders the ``discover`` and ``blended`` candidates before the cap and the cut to ``k``
    (:mod:`segrec.recommend.bias_rerank`; ``calibrated`` needs ``categories``, and pulls toward the
    category mix of each customer's ``history`` (``customer_key``, ``product_id``: the products
    they used, each once), by default their own products in ``pairs``); ``score`` stays the ranker's.
    """
    require_columns(pairs, "pairs", ("customer_key", "product_id", "is_own"))
    unknown = set(list_types) - set(LIST_TYPES)
    if unknown:
        raise SegrecError(f"unknown list type(s) {sorted(unknown)}; use {list(LIST_TYPES)}")
    frame = pairs.assign(score=np.asarray(scores, dtype=float))
    frame = frame.sort_values(["customer_key", "score", "product_id"], ascending=[True, False, True], kind="stable")
    if "reason" not in frame:
        frame["reason"] = np.where(frame["is_own"] > 0, "bought before", "new for you")
    rerank = rerank or RerankSettings()
    calibrated = rerank.method == "calibrated" and not rerank.is_identity
    capped = categories is not None and max_per_category is not None
    if calibrated and categories is None:
        raise SegrecError("calibrated re-ranking needs the products' categories")
    # a category code per pair (-1: none), carried along when a re-rank re-orders the rows
    frame = frame.assign(_code=product_category_codes(frame["product_id"], categories))
    own = (frame["is_own"] > 0).to_numpy()
    target = None
    if calibrated:
        used = frame.loc[own, ["customer_key", "product_id"]] if history is None else history
        target = category_mix(used["customer_key"].to_numpy(), product_category_codes(used["product_id"], categories))
    out = []
    for list_type in list_types:
        keep = np.ones(len(frame), dtype=bool) if list_type == "blended" else own == (list_type == "buy_again")
        chosen = frame[keep]
        if list_type in RERANKED_LIST_TYPES:
            chosen = rerank_candidates(chosen, rerank, length=k, categories=chosen["_code"].to_numpy(), target=target)
        if capped and list_type != "buy_again":  # re-orders may all be of one category
            codes = chosen["_code"].to_numpy()
            within = chosen.groupby([chosen["customer_key"].to_numpy(), codes], sort=False).cumcount()
            chosen = chosen.assign(_over=((within >= max_per_category) & (codes >= 0)).to_numpy())
            chosen = chosen.sort_values(["customer_key", "_over"], kind="stable").drop(columns="_over")
        chosen = chosen.drop(columns="_code").groupby("customer_key", sort=False).head(k)
        out.append(chosen.assign(list_type=list_type,
                                 rank=chosen.groupby("customer_key", sort=False).cumcount() + 1))
    lists = pd.concat(out, ignore_index=True)
    first = ["customer_key", "list_type", "rank", "product_id", "score", "reason"]
    return lists[first + [c for c in pairs.columns if c not in first]]
