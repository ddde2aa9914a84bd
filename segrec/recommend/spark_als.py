"""Implicit-feedback ALS on Spark (pyspark.ml), for shops whose ALS outgrows one process.

:class:`SparkALS` trains on the same :class:`InteractionMatrix` as the local
:class:`~segrec.recommend.als.ALSRecommender` and returns an ALSRecommender built from Spark's
factors (:meth:`ALSRecommender.from_factors`), so scoring, lists, similarities and the stored
factors downstream do not change. The dbt var ``ml_engine: spark`` selects it
(:func:`segrec.recommend.pipeline.als_factory_for`); docs/spark.md has the measured difference.

pyspark is optional (the ``spark`` extra): it is imported when a model is fitted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from segrec.engine import is_spark_session, spark_unavailable, to_arrow
from segrec.errors import SegrecError
from segrec.recommend.als import ALS_DEFAULTS, ALSRecommender, check_als_ranges, model_params
from segrec.recommend.interactions import InteractionMatrix


class SparkALS:
    """pyspark.ml ALS with ``implicitPrefs=True`` on a SparkSession, scikit-learn style.

    The parameters mean what they mean for ALSRecommender and go to Spark unchanged
    (``factors`` -> ``rank``, ``regularization`` -> ``regParam``, ``alpha`` -> ``alpha``,
    ``iterations`` -> ``maxIter``, ``random_state`` -> ``seed``), but Spark solves another
    objective, so the same values give other factors and lists (compare them offline, as
    ``make bench-spark-als`` does, rather than expect equality):

    - confidence: Spark weighs an observed weight ``r`` as ``1 + alpha * r``, implicit as
      ``alpha * r`` (both give unobserved cells confidence 1). With the same alpha Spark trusts
      weak interactions (r < 1) more, relative to strong ones.
    - regularization: Spark multiplies ``regParam`` for each user (item) by the number of items
      (users) they interacted with (ALS-WR), implicit uses one constant. The same value
      therefore shrinks heavy users and popular items much harder on Spark; to match
      implicit's strength on a typical row, divide by the mean interactions per row.
    - solver and start: Spark solves each row exactly (Cholesky), implicit takes a few
      conjugate-gradient steps per sweep; the random starts differ.

    Parameters
    ----------
    session : the SparkSession to train in (a dbt model's ``session`` on a Spark target, or
        :func:`segrec.engine.spark_session_for`). Required: nothing is looked up globally.
    factors, regularization, alpha, iterations, random_state : as for ALSRecommender.
    checkpoint_dir : folder for Spark's checkpoints, set on the session's SparkContext at fit
        (a context has one folder). Required: without checkpoints the lineage of the factor
        RDDs grows with every sweep and Spark's ALS overflows the stack. On a cluster it must
        be a path every executor reaches.
    checkpoint_interval : sweeps between checkpoints.
    blocks : user and item blocks (Spark partitions the solve by them). Spark seeds each block's
        random start with ``random_state`` and the block, so a fit is reproduced with the same
        blocks too (the dbt models keep the default).

    ``fit`` returns the fitted ALSRecommender (not the estimator): its ``get_params`` records
    these five parameters and ``ml_engine: spark``, so its model version differs from a local
    fit of the same matrix. Users (items) without interactions get zero factors, as locally.
    """

    def __init__(
        self,
        *,
        session: Any,
        factors: int = ALS_DEFAULTS["factors"],
        regularization: float = ALS_DEFAULTS["regularization"],
        alpha: float = ALS_DEFAULTS["alpha"],
        iterations: int = ALS_DEFAULTS["iterations"],
        random_state: int = 0,
        checkpoint_dir: str,
        checkpoint_interval: int = 10,
        blocks: int = 10,
    ) -> None:
        self.session = session
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_interval = checkpoint_interval
        self.blocks = blocks

    def get_params(self) -> dict[str, Any]:
        """The model parameters (as ALSRecommender's; not the session or where it checkpoints)."""
        return model_params(self)

    def _check(self) -> None:
        whole = {"factors": self.factors, "iterations": self.iterations, "random_state": self.random_state,
                 "checkpoint_interval": self.checkpoint_interval, "blocks": self.blocks}
        # Spark takes these as Java ints; a float or bool would fail later with a Py4J error
        wrong = sorted(name for name, value in whole.items()
                       if isinstance(value, bool) or not isinstance(value, int | np.integer))
        if wrong:
            raise SegrecError(f"SparkALS: {wrong} must be whole numbers, got {whole}")
        check_als_ranges(self.get_params())
        if self.checkpoint_interval < 1 or self.blocks < 1:
            raise SegrecError(f"SparkALS: checkpoint_interval and blocks must be >= 1, got "
                              f"{self.checkpoint_interval} and {self.blocks}")
        if not isinstance(self.checkpoint_dir, str) or not self.checkpoint_dir.strip():
            raise SegrecError("SparkALS: checkpoint_dir is required (Spark ALS overflows the stack without one)")
        if not is_spark_session(self.session):
            raise SegrecError(f"SparkALS: session must be a SparkSession, got {type(self.session).__name__}")

    def fit(self, interactions: InteractionMatrix) -> ALSRecommender:
        """Train on ``interactions`` (weights are the raw ratings) and return the fitted model."""
        self._check()
        record = self.get_params() | {"ml_engine": "spark"}
        if interactions.matrix.nnz == 0:
            # nothing to learn from: no preference, as ALSRecommender.fit gives (Spark refuses it)
            zeros = np.zeros((interactions.n_users + interactions.n_items, self.factors), dtype=np.float32)
            return ALSRecommender.from_factors(interactions, zeros[:interactions.n_users],
                                               zeros[interactions.n_users:], **record)
        als_class = _spark_als_class()
        self.session.sparkContext.setCheckpointDir(self.checkpoint_dir)
        estimator = als_class(
            rank=self.factors, maxIter=self.iterations, regParam=float(self.regularization),
            alpha=float(self.alpha), implicitPrefs=True, nonnegative=False, seed=int(self.random_state),
            checkpointInterval=self.checkpoint_interval, numUserBlocks=self.blocks, numItemBlocks=self.blocks,
            userCol="user", itemCol="item", ratingCol="rating",
        )
        model = estimator.fit(self.session.createDataFrame(ratings_table(interactions)))
        try:
            users = factor_rows(to_arrow(model.userFactors), interactions.n_users, self.factors)
            items = factor_rows(to_arrow(model.itemFactors), interactions.n_items, self.factors)
        finally:  # the factors are cached on the cluster; one session trains many models
            model.userFactors.unpersist()
            model.itemFactors.unpersist()
        return ALSRecommender.from_factors(interactions, users, items, **record)


def _spark_als_class() -> type:
    try:
        from pyspark.ml.recommendation import ALS
    except ImportError as exc:
        raise SegrecError(f"SparkALS: {spark_unavailable() or exc}") from exc
    return ALS


def ratings_table(interactions: InteractionMatrix) -> pa.Table:
    """The non-zero cells of the matrix as (``user`` row, ``item`` column, ``rating`` weight):
    Spark's ALS takes integer ids, and the matrix's positions are exactly the keys' order."""
    coo = interactions.matrix.tocoo()
    return pa.table({
        "user": pa.array(coo.row.astype(np.int32)),
        "item": pa.array(coo.col.astype(np.int32)),
        "rating": pa.array(coo.data.astype(np.float32)),
    })


def factor_rows(factors: pa.Table, n_rows: int, width: int) -> np.ndarray:
    """Spark's (``id``, ``features``) factor table as a dense ``n_rows`` x ``width`` array in id
    order; ids Spark never saw (no interactions) stay zero."""
    out = np.zeros((n_rows, width), dtype=np.float32)
    if factors.num_rows:
        ids = factors["id"].to_numpy()
        vectors = factors["features"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
        out[ids] = vectors.reshape(len(ids), width)
    return out
