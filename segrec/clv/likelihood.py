"""Input checks and penalized maximum likelihood on log parameters, shared by the BG/NBD and
Gamma-Gamma estimators."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize

from segrec.errors import SegrecError

# input checks shared by the estimators


def float_array(values: ArrayLike, name: str) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(array)):
        raise SegrecError(f"{name}: {int((~np.isfinite(array)).sum())} missing or infinite value(s)")
    return array


def check_rfm(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Validate a (frequency, recency, T) summary and return it as float arrays."""
    x, t_x, age = (float_array(v, n) for v, n in ((frequency, "frequency"), (recency, "recency"), (T, "T")))
    if not (x.shape == t_x.shape == age.shape):
        raise SegrecError(f"frequency, recency and T differ in length: {x.size}, {t_x.size}, {age.size}")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise SegrecError("frequency: must be a whole number of repeat purchases >= 0")
    if np.any(t_x < 0) or np.any(t_x > age):
        raise SegrecError("recency: must lie between 0 and T (time from first to last purchase)")
    if np.any((x == 0) & (t_x != 0)):
        raise SegrecError("recency: must be 0 for customers with frequency 0")
    return x, t_x, age


# ---------------------------------------------------------------------------------------
# maximum likelihood on log parameters, shared by both models


def fit_log_params(
    negative_loglik: Callable[[NDArray[np.float64]], float],
    start: NDArray[np.float64],
    penalizer: float,
    n_weight: float,
    model: str,
) -> tuple[NDArray[np.float64], float]:
    """Minimise mean negative log-likelihood + ``penalizer * ||log params||^2``.

    Log parameters keep every parameter positive without bounds; the penalty shrinks them
    towards 1 (log 0) and is off by default. Returns (params, total log-likelihood).
    """

    def objective(log_params: NDArray[np.float64]) -> float:
        value = negative_loglik(np.exp(log_params)) / n_weight + penalizer * float(log_params @ log_params)
        # A non-finite value (overflow far from the optimum) must look bad, not crash BFGS.
        return value if np.isfinite(value) else 1e300

    result = optimize.minimize(
        objective, start, method="L-BFGS-B", options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9}
    )
    if not result.success:
        # L-BFGS-B sometimes stops on a line search it cannot improve; Nelder-Mead polishes.
        result = optimize.minimize(
            objective, result.x, method="Nelder-Mead",
            options={"maxiter": 20000, "xatol": 1e-10, "fatol": 1e-12},
        )
    if not np.all(np.isfinite(result.x)) or result.fun >= 1e300:
        raise SegrecError(f"{model}: maximum likelihood did not converge ({result.message})")
    params = np.exp(result.x)
    return params, -float(negative_loglik(params))


def unique_rows(
    *columns: NDArray[np.float64],
) -> tuple[tuple[NDArray[np.float64], ...], NDArray[np.float64]]:
    """Distinct rows and their counts: many customers share a summary, so fit on those."""
    rows, counts = np.unique(np.column_stack(columns), axis=0, return_counts=True)
    return tuple(rows.T), counts.astype(float)
