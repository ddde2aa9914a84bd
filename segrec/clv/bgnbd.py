"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): repeat purchases
and the probability that a customer is still active."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special

from segrec.clv.likelihood import check_rfm, fit_log_params, float_array, unique_rows
from segrec.errors import SegrecError


@dataclass(frozen=True)
class _BetaGeoParams:
    r: float
    alpha: float
    a: float
    b: float


def bgnbd_log_likelihood(
    params: Sequence[float], frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> NDArray[np.float64]:
    """Per-customer BG/NBD log-likelihood (Fader, Hardie & Lee 2005), in log space.

    ``L = B(a, b+x)/B(a, b) * G(r+x) a^r / (G(r) (alpha+T)^(r+x))
    + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))``.
    """
    r, alpha, a, b = params
    x, t_x, age = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) - special.betaln(a, b)
    still_alive = special.betaln(a, b + x) - (r + x) * np.log(alpha + age)
    # b + x - 1 is only used where x >= 1; the max keeps betaln's argument valid elsewhere.
    dropped_out = np.where(
        x > 0,
        special.betaln(a + 1, b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return common + np.logaddexp(still_alive, dropped_out)


class BetaGeoModel:
    """BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005).

    While active, a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``;
    after each repeat purchase they drop out with probability ``p ~ Beta(a, b)``. Durations
    (``recency``, ``T``, ``t``) are in the unit of the summary (days or weeks).

    Parameters
    ----------
    penalizer : L2 penalty on the log parameters (0 = plain maximum likelihood).

    Attributes
    ----------
    params_ : dict with ``r``, ``alpha``, ``a``, ``b``.
    log_likelihood_ : total log-likelihood at ``params_``.
    n_customers_ : number of customers fitted.
    """

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> BetaGeoModel:
        """Fit by maximum likelihood; returns ``self``."""
        x, t_x, age = check_rfm(frequency, recency, T)
        if x.size == 0:
            raise SegrecError("BetaGeoModel.fit: no customers")
        if not np.any(x > 0):
            raise SegrecError("BetaGeoModel.fit: no customer has a repeat purchase, dropout is unidentified")
        if self.penalizer < 0:
            raise SegrecError(f"penalizer: must be >= 0, got {self.penalizer}")
        (ux, ut_x, uage), counts = unique_rows(x, t_x, age)

        def negative_loglik(params: NDArray[np.float64]) -> float:
            return -float(counts @ bgnbd_log_likelihood(params, ux, ut_x, uage))

        # Start: rate = purchases per unit of time, a neutral Beta(1, 1) dropout.
        start = np.log([1.0, max(float(age.mean()), 1e-3) / max(float(x.mean()), 1e-3), 1.0, 1.0])
        params, self.log_likelihood_ = fit_log_params(
            negative_loglik, start, self.penalizer, x.size, "BG/NBD"
        )
        self.params_ = {"r": float(params[0]), "alpha": float(params[1]), "a": float(params[2]),
                        "b": float(params[3])}
        self.n_customers_ = int(x.size)
        return self

    def _fitted(self) -> _BetaGeoParams:
        if not hasattr(self, "params_"):
            raise SegrecError("BetaGeoModel is not fitted: call fit() first")
        return _BetaGeoParams(**self.params_)

    def _log_odds_dropped(
        self, x: NDArray[np.float64], t_x: NDArray[np.float64], age: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """log of ``a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)`` (-inf when x = 0)."""
        p = self._fitted()
        with np.errstate(divide="ignore"):
            log_odds = (
                np.log(p.a) - np.log(p.b + np.maximum(x, 1) - 1)
                + (p.r + x) * (np.log(p.alpha + age) - np.log(p.alpha + t_x))
            )
        return np.where(x > 0, log_odds, -np.inf)

    def probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> NDArray[np.float64]:
        """P(still active at T | x, t_x, T) (Fader, Hardie & Lee 2005).

        ``1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``: exactly 1 for a customer
        without repeat purchases, because the model lets customers drop out only right after
        a repeat purchase.
        """
        x, t_x, age = check_rfm(frequency, recency, T)
        return special.expit(-self._log_odds_dropped(x, t_x, age))

    def expected_purchases(
        self, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, max_terms: int = 100_000
    ) -> NDArray[np.float64]:
        """Expected number of purchases in the next ``t`` units (Fader, Hardie & Lee 2005).

        ``P(alive) * E[purchases | alive]``; the second factor is
        :func:`expected_purchases_given_active` (a sum of positive terms, finite and accurate
        for every finite parameter; ``max_terms`` as there).
        """
        t = float(t)
        if not np.isfinite(t) or t < 0:
            raise SegrecError(f"t: must be a duration >= 0, got {t!r}")
        x, t_x, age = check_rfm(frequency, recency, T)
        p = self._fitted()
        given_active = expected_purchases_given_active(
            p.r + x, p.b + x, p.a, t / (p.alpha + age), max_terms=max_terms
        )
        return given_active * special.expit(-self._log_odds_dropped(x, t_x, age))

    def median_time_to_next_purchase(self, frequency: ArrayLike, T: ArrayLike) -> NDArray[np.float64]:
        """Median wait (from T) for the next purchase of a customer who is still active.

        Given active, the customer buys before dropping out (dropout follows purchases), so
        the wait is exponential with ``lambda | x, T ~ Gamma(r+x, alpha+T)``:
        ``P(W > w) = ((alpha+T)/(alpha+T+w))^(r+x)``. Its mean is infinite when
        ``r + x <= 1`` (typical for one-time buyers), so the median is used:
        ``(alpha+T) * (2^(1/(r+x)) - 1)``.
        """
        x = float_array(frequency, "frequency")
        age = float_array(T, "T")
        p = self._fitted()
        return (p.alpha + age) * np.expm1(np.log(2.0) / (p.r + x))


def expected_purchases_given_active(
    shape: ArrayLike, b_posterior: ArrayLike, a: float, horizon: ArrayLike, *, max_terms: int = 100_000
) -> NDArray[np.float64]:
    """E[purchases in the next ``t``] of a BG/NBD customer who is still active, as ``sum_j R_j S_j``.

    Given the history, the purchase rate is ``Gamma(shape = r+x, rate = alpha+T)`` and the
    dropout probability ``p ~ Beta(a, b_posterior = b+x)``; ``horizon`` is ``t / (alpha+T)``.
    Purchase ``j`` of the next ``t`` happens when the customer did not drop out after the
    ``j-1`` before it, ``R_j = E[(1-p)^(j-1)] = B(a, b+x+j-1) / B(a, b+x)``, and when the
    purchase process has ``j`` events in ``t``, ``S_j = P(M >= j)`` with ``M`` negative
    binomial (shape ``r+x``, odds ``horizon``). Every term lies in [0, 1], so the sum neither
    overflows nor cancels for any finite parameters; the closed form with Gauss' 2F1 overflows
    (NaN) when ``a`` is large and at ``a = 1``, and loses digits when ``b >> a`` (all of them for
    short horizons), because it multiplies ``1 - 2F1`` by ``(a+b+x-1)/(a-1)``. The terms follow by
    recurrences (in log space where they could underflow); the sum stops when a bound on the
    rest is below ``1e-14`` of it. The number of terms is about the purchases the customer
    would make without dropping out, plus their spread (tens to hundreds for daily or weekly
    summaries); more than ``max_terms`` means a degenerate fit (e.g. ``alpha`` near 0) and raises.
    """
    k, beta, w = (np.asarray(v, dtype=float).ravel() for v in np.broadcast_arrays(shape, b_posterior, horizon))
    total = np.zeros(k.size)
    rows = np.flatnonzero(w > 0)  # no time, no purchases
    k, beta, w = k[rows], beta[rows], w[rows]
    log_z = np.log(w) - np.log1p(w)  # negative binomial: P(M = m+1) / P(M = m) = z (k+m) / (m+1)
    log_pmf = -k * np.log1p(w)  # log P(M = 0)
    survival = -np.expm1(log_pmf)  # S_1 = P(M >= 1)
    log_r = np.zeros(k.size)  # log R_1
    partial = np.zeros(k.size)
    for j in range(1, max_terms + 1):
        partial += np.exp(log_r) * survival
        log_pmf += log_z + np.log(k + j - 1) - np.log(j)
        survival = np.maximum(survival - np.exp(log_pmf), 0.0)  # S_{j+1}
        log_r += np.log1p(-a / (a + beta + j - 1))  # R_{j+1}
        # The rest, sum_{i>j} R_i S_i, is at most R_{j+1} S_{j+1} times the smaller of
        # sum_{i>j} R_i / R_{j+1} = (a+b+x+j-1) / (a-1) (a > 1) and, once the negative
        # binomial's ratio rho is below 1, sum_{i>j} S_i / S_{j+1} <= 1 / (1 - rho).
        rho = np.exp(log_z) * np.maximum((k + j + 1) / (j + 2), 1.0)
        with np.errstate(divide="ignore"):
            factor = np.where(rho < 1, 1.0 / (1.0 - rho), np.inf)
        if a > 1:
            factor = np.minimum(factor, (a + beta + j - 1) / (a - 1))
        with np.errstate(invalid="ignore"):  # 0 * inf: nothing is left
            rest = np.where(survival > 0, np.exp(log_r) * survival * factor, 0.0)
        done = rest <= 1e-14 * partial
        if done.any():
            total[rows[done]] = partial[done]
            keep = ~done
            rows, k, beta, w, log_z, log_pmf, survival, log_r, partial = (
                v[keep] for v in (rows, k, beta, w, log_z, log_pmf, survival, log_r, partial)
            )
        if rows.size == 0:
            return total
    raise SegrecError(
        f"expected purchases: more than max_terms ({max_terms}) purchase terms for {rows.size} customer(s) "
        f"(up to {float(np.max(k * w)):.3g} purchases expected without dropout): degenerate BG/NBD parameters"
    )


def simulate_beta_geo(
    r: float, alpha: float, a: float, b: float, T: ArrayLike, random_state: int
) -> pd.DataFrame:
    """Draw (frequency, recency, T) from the BG/NBD process, one customer per value of ``T``.

    Uses that, given ``N`` Poisson arrivals in (0, T], the ``k``-th arrival time is
    ``T * Beta(k, N-k+1)``; a customer makes ``J ~ Geometric(p)`` repeat purchases before
    dropping out, so ``x = min(N, J)``.
    """
    rng = np.random.default_rng(random_state)
    age = float_array(T, "T")
    rate = rng.gamma(r, 1.0 / alpha, size=age.size)
    dropout = rng.beta(a, b, size=age.size)
    arrivals = rng.poisson(rate * age)
    x = np.minimum(arrivals, rng.geometric(dropout))
    position = rng.beta(np.maximum(x, 1), np.maximum(arrivals - x, 0) + 1)
    recency = np.where(x > 0, age * position, 0.0)
    return pd.DataFrame({"frequency": x.astype(float), "recency": recency, "T": age})
