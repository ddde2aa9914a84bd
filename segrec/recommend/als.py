"""Implicit-feedback matrix factorization (ALS) with ``implicit``, deterministic and artifact-friendly."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
import pandas as pd
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from segrec.errors import SegrecError
from segrec.recommend.interactions import InteractionMatrix

# The ALS parameters with their types and defaults: the one list the recommenders, the grid
# search, the dbt var ``recommendation_als`` (plus ``random_state``) and its grid
# ``recommendation_als_grid`` use. The defaults equal dbt_project.yml (a test checks it).
ALS_DEFAULTS: dict[str, Any] = {"factors": 16, "regularization": 0.1, "alpha": 5.0, "iterations": 15}
ALS_TYPES: dict[str, type] = {"factors": int, "regularization": float, "alpha": float, "iterations": int}
ALS_PARAMETERS: tuple[str, ...] = tuple(ALS_DEFAULTS)
# Where ALS trains (dbt var ml_engine, segrec.engine.ML_ENGINES): implicit in this process, or
# pyspark.ml on a SparkSession (segrec.recommend.spark_als.SparkALS). Both give an ALSRecommender.


class ALSEstimator(Protocol):
    """Anything that trains ALS factors on an interaction matrix into a fitted ALSRecommender."""

    def fit(self, interactions: InteractionMatrix) -> ALSRecommender: ...


# What the recommenders train ALS with: called with the ALS parameters and ``random_state``, it
# gives an unfitted ALSEstimator. ALSRecommender itself is one (implicit); SparkALS bound to a
# session the other (segrec.recommend.pipeline.als_factory_for picks by ml_engine).
ALSFactory = Callable[..., ALSEstimator]


def typed_als_params(values: Mapping[str, Any], source: str = "ALS parameters") -> dict[str, Any]:
    """The four ALS parameters of ``values`` (extra keys ignored), each cast to its type;
    a SegrecError naming ``source`` when one is missing."""
    missing = [name for name in ALS_PARAMETERS if name not in values]
    if missing:
        raise SegrecError(f"{source}: missing ALS parameter(s) {missing}; expected {list(ALS_PARAMETERS)}")
    return {name: ALS_TYPES[name](values[name]) for name in ALS_PARAMETERS}


def model_params(estimator: Any) -> dict[str, Any]:
    """An ALS estimator's model parameters (:data:`ALS_PARAMETERS` and ``random_state``), the
    same keys whichever engine trains it."""
    return {name: getattr(estimator, name) for name in (*ALS_PARAMETERS, "random_state")}


def check_als_ranges(params: Mapping[str, Any]) -> None:
    """A SegrecError when an ALS parameter is out of range (the same rule for every engine)."""
    if (params["factors"] < 1 or params["iterations"] < 1 or params["regularization"] < 0
            or params["alpha"] <= 0):
        raise SegrecError(f"ALS parameters out of range: {dict(params)}")


class ALSRecommender:
    """Alternating least squares on a customers x products confidence matrix.

    Parameters
    ----------
    factors : latent dimensions.
    regularization : L2 penalty on the factors.
    alpha : confidence scale: implicit multiplies the interaction weights by it.
    iterations : ALS sweeps.
    random_state : seed of the factor initialisation; the same seed and matrix give the
        same factors (implicit solves each row independently, so the thread count does not
        change the result).
    num_threads : implicit's solver threads (0: all cores). BLAS itself is held at one
        thread, because implicit parallelises over rows and nested BLAS threads only contend.
    ml_engine : what trained the factors: ``local`` (``fit``, implicit) or ``spark`` (factors
        from SparkALS, given to :meth:`from_factors`). Recorded by ``get_params`` only when not
        local, so local fits keep the parameters and model versions they always had, and a
        Spark fit of the same matrix and parameters gets another version.
    """

    def __init__(
        self,
        factors: int = ALS_DEFAULTS["factors"],
        regularization: float = ALS_DEFAULTS["regularization"],
        alpha: float = ALS_DEFAULTS["alpha"],
        iterations: int = ALS_DEFAULTS["iterations"],
        random_state: int = 0,
        num_threads: int = 0,
        ml_engine: str = "local",
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state
        self.num_threads = num_threads
        self.ml_engine = ml_engine

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, e.g. to record a run or build a ``model_version``
        (``ml_engine`` only when not local)."""
        params = model_params(self)
        return params if self.ml_engine == "local" else params | {"ml_engine": self.ml_engine}

    def fit(self, interactions: InteractionMatrix) -> ALSRecommender:
        """Learn user and item factors from ``interactions`` (weights are the raw confidence)."""
        if self.ml_engine != "local":
            raise SegrecError(
                f"ALSRecommender.fit trains with implicit (ml_engine local); ml_engine {self.ml_engine!r} "
                "factors come from its own estimator (spark: segrec.recommend.spark_als.SparkALS)"
            )
        check_als_ranges(self.get_params())
        if interactions.matrix.nnz == 0:
            # Nothing to learn from (e.g. a catalog without events yet, or a hold-out window that
            # holds all the data): zero factors give every strategy "no preference" instead of
            # failing the build; implicit itself cannot fit an empty matrix.
            self.model_ = None
            return self._set_factors(
                interactions,
                np.zeros((interactions.n_users, self.factors), dtype=np.float32),
                np.zeros((interactions.n_items, self.factors), dtype=np.float32),
            )
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.random_state,
                num_threads=self.num_threads,
            )
            model.fit(interactions.matrix, show_progress=False)
        user_factors = np.array(model.user_factors, dtype=np.float32)
        # A customer without interactions has no evidence: give no preference rather than
        # whatever the solver left from the random start.
        user_factors[np.diff(interactions.matrix.indptr) == 0] = 0.0
        self.model_ = model
        return self._set_factors(interactions, user_factors, np.array(model.item_factors, dtype=np.float32))

    @classmethod
    def from_factors(
        cls,
        interactions: InteractionMatrix,
        user_factors: np.ndarray,
        item_factors: np.ndarray,
        **params: Any,
    ) -> ALSRecommender:
        """A fitted recommender from stored factors (a model artifact), without training.

        ``user_factors`` and ``item_factors`` follow the rows and columns of ``interactions``;
        ``params`` are the constructor parameters they were trained with (for the record).
        """
        user_factors = np.asarray(user_factors, dtype=np.float32)
        item_factors = np.asarray(item_factors, dtype=np.float32)
        if user_factors.shape[0] != interactions.n_users or item_factors.shape[0] != interactions.n_items:
            raise SegrecError(
                f"ALS factors: {user_factors.shape[0]} user and {item_factors.shape[0]} item rows do not "
                f"match the {interactions.n_users} x {interactions.n_items} interaction matrix"
            )
        if user_factors.shape[1] != item_factors.shape[1]:
            raise SegrecError("ALS factors: user and item factors differ in width")
        return cls(**{"factors": item_factors.shape[1]} | params)._set_factors(interactions, user_factors, item_factors)

    def _set_factors(
        self, interactions: InteractionMatrix, user_factors: np.ndarray, item_factors: np.ndarray
    ) -> ALSRecommender:
        self.user_factors_ = user_factors
        self.item_factors_ = item_factors
        # converted once: the hybrid scores a few rows at a time, and converting the catalog's
        # factors per call cost more than the product
        self._item_factors_t64 = item_factors.T.astype(np.float64)
        norms = np.linalg.norm(item_factors, axis=1, keepdims=True)
        self.unit_item_factors_ = np.divide(item_factors, norms, out=np.zeros_like(item_factors), where=norms > 0)
        self.customer_keys_ = interactions.customer_keys
        self.product_ids_ = interactions.product_ids
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        """Predicted preference of the given matrix rows for every item (rows x items).

        Multiplied in float64 (exact products of the float32 factors) and rounded back: a
        row's scores then do not depend on how many rows are scored with it (BLAS blocks
        float32 sums by matrix shape), so lists made batch by batch equal lists made at once."""
        scores = self.user_factors_[user_rows].astype(np.float64) @ self._item_factors_t64
        return scores.astype(self.item_factors_.dtype)

    def item_similarity(self, items: np.ndarray, others: np.ndarray) -> np.ndarray:
        """Cosine of the item factors of ``items[i]`` and ``others[i]``, pair by pair."""
        unit = self.unit_item_factors_
        return np.einsum("ij,ij->i", unit[items], unit[others])

    def item_similarity_rows(self, items: np.ndarray) -> np.ndarray:
        """Cosine of the item factors of ``items`` with every item (len(items) x items)."""
        return self.unit_item_factors_[items] @ self.unit_item_factors_.T

    def user_factors_frame(self) -> pd.DataFrame:
        """User factors as an artifact: ``customer_key`` then ``factor_00``, ``factor_01``, ..."""
        return _factors_frame("customer_key", self.customer_keys_, self.user_factors_)

    def item_factors_frame(self) -> pd.DataFrame:
        """Item factors as an artifact: ``product_id`` then ``factor_00``, ``factor_01``, ..."""
        return _factors_frame("product_id", self.product_ids_, self.item_factors_)


def _factors_frame(key: str, keys: np.ndarray, factors: np.ndarray) -> pd.DataFrame:
    width = max(2, len(str(factors.shape[1] - 1)))
    columns = {f"factor_{i:0{width}d}": factors[:, i] for i in range(factors.shape[1])}
    return pd.DataFrame({key: keys, **columns})
